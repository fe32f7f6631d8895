"""kgan.evaluation's measures and extractors: the math against hand-computed values, the
shipped classifiers, and kgan.metrics.evaluate()."""

import numpy as np
import pytest

import kgan
from kgan import metrics
from kgan.evaluation import classifiers, extractors, measures
from kgan.evaluation.images import real_floor


# ------------------------------------------------------------------------------- FID
def test_fid_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert measures.fid_from_features(x, x) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_closed_form_diagonal_gaussians():
    # |mu1 - mu2|^2 + sum_i (s1_i + s2_i - 2 sqrt(s1_i s2_i)) = 2 + (1 + 4 + 4 + 1 - 2 (2 + 2)) = 4
    value = measures.frechet_distance([0.0, 0.0], np.diag([1.0, 4.0]),
                                     [1.0, 1.0], np.diag([4.0, 1.0]))
    assert value == pytest.approx(4.0, abs=1e-9)


def test_frechet_distance_non_commuting_covariances():
    # Same covariance rotated: Tr(sqrt(S1 S2)) has no shortcut; compare with the definition
    # through the symmetric form sqrt(S1^1/2 S2 S1^1/2).
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    s1, s2 = a @ a.T + np.eye(3), b @ b.T + np.eye(3)
    w, v = np.linalg.eigh(s1)
    root = v @ np.diag(np.sqrt(w)) @ v.T
    cross = np.sum(np.sqrt(np.linalg.eigvalsh(root @ s2 @ root)))
    expected = np.trace(s1) + np.trace(s2) - 2 * cross
    value = measures.frechet_distance(np.zeros(3), s1, np.zeros(3), s2)
    assert value == pytest.approx(expected, rel=1e-8)


def test_fid_from_samples_matches_gaussian_closed_form():
    # 1-D: FID = (m1 - m2)^2 + (sd1 - sd2)^2 = 9 + 1 = 10.
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 1.0, size=(200_000, 1))
    y = rng.normal(3.0, 2.0, size=(200_000, 1))
    assert measures.fid_from_features(x, y) == pytest.approx(10.0, rel=0.02)


def test_fid_singular_covariance_is_finite_and_real():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(10, 32)), rng.normal(size=(10, 32))  # n < d: rank-deficient
    value = measures.fid_from_features(x, y)
    assert np.isfinite(value) and value > 0


def test_fid_rejects_mismatched_dims():
    with pytest.raises(ValueError, match="dimensions differ"):
        measures.fid_from_features(np.zeros((4, 3)), np.zeros((4, 2)))


# ------------------------------------------------------------------------------- KID
def test_kid_hand_computed():
    # k(x, y) = (x y + 1)^3 in 1-D. X = {0, 1}, Y = {1, 2}, m = 2:
    # XX off-diagonal mean k(0,1) = 1; YY: k(1,2) = 27; XY mean (1 + 1 + 8 + 27) / 4 = 9.25.
    mean, std = measures.kid([[0.0], [1.0]], [[1.0], [2.0]], num_subsets=3, subset_size=2)
    assert mean == pytest.approx(1 + 27 - 2 * 9.25)
    assert std == pytest.approx(0.0)


def test_kid_unbiased_near_zero_for_same_distribution():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
    same, same_std = measures.kid(x, y, num_subsets=20, subset_size=200)
    shifted, _ = measures.kid(x, y + 0.5, num_subsets=20, subset_size=200)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 20 * abs(same)


# ------------------------------------------------------------------------------- IS
def test_inception_score_bounds():
    k = 10
    confident_uniform = np.eye(k)[np.arange(100) % k]
    mean, std = measures.inception_score(confident_uniform, splits=10)
    assert mean == pytest.approx(k, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)
    one_class = np.eye(k)[np.zeros(100, int)]
    assert measures.inception_score(one_class)[0] == pytest.approx(1.0, rel=1e-6)
    unsure = np.full((100, k), 1.0 / k)
    assert measures.inception_score(unsure)[0] == pytest.approx(1.0, rel=1e-6)


def test_inception_score_rejects_non_probabilities():
    with pytest.raises(ValueError, match="summing to 1"):
        measures.inception_score(np.ones((4, 3)))


# ------------------------------------------------------------------------------- P / R
def test_precision_recall_identical_sets():
    x = np.random.default_rng(5).normal(size=(300, 8)).astype("float32")
    assert measures.precision_recall(x, x, k=3, batch_size=64) == (1.0, 1.0)


def test_precision_recall_hand_computed_and_batch_invariant():
    real = np.arange(5.0)[:, None]            # k=1 radii: 1 for every real point
    fake = np.array([[0.5], [10.0]])          # k=1 radii: 9.5
    for batch in (1, 2, 1000):
        precision, recall = measures.precision_recall(real, fake, k=1, batch_size=batch)
        assert precision == 0.5               # 0.5 lies in the ball of 0; 10 in none
        assert recall == 1.0                  # every real point is within 9.5 of 0.5


def test_precision_recall_disjoint_sets():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(100, 4))
    assert measures.precision_recall(x, x + 100.0) == (0.0, 0.0)


def test_precision_recall_needs_more_than_k_points():
    with pytest.raises(ValueError, match="more than 3"):
        measures.precision_recall(np.zeros((3, 2)), np.zeros((10, 2)))


# ------------------------------------------------------------------------------- classes
def test_class_kl_and_label_accuracy():
    assert measures.class_kl(np.arange(50) % 10, num_classes=10) == pytest.approx(0.0)
    assert measures.class_kl(np.zeros(50, int), num_classes=10) == pytest.approx(np.log(10))
    # Half the samples in class 0, half in class 1, of 4: 2 * 0.5 log(0.5 * 4) = log 2.
    probs = np.eye(4)[[0, 1, 0, 1]]
    assert measures.class_kl(probs) == pytest.approx(np.log(2))
    assert measures.label_accuracy(probs, [0, 1, 1, 1]) == 0.75


# ------------------------------------------------------------------------------- extractors
def test_inception_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="never downloads"):
        extractors.InceptionExtractor()
    with pytest.raises(FileNotFoundError):
        extractors.InceptionExtractor(weights_path=tmp_path / "missing.h5")


def test_inception_checks_keras_digest(tmp_path):
    fake = tmp_path / next(iter(extractors.INCEPTION_FILES))
    fake.write_bytes(b"not the weights")
    with pytest.raises(ValueError, match="corrupt or not Keras' file"):
        extractors.InceptionExtractor(weights_path=fake)


def test_inception_extractor_pipeline(tmp_path, monkeypatch):
    # A stand-in backbone with InceptionV3's interface (299x299x3 input, "avg_pool" 2048-d,
    # 1000-way softmax) checks kgan's side: file lookup, resizing, gray->RGB and the outputs,
    # in milliseconds and without ImageNet weights (which kgan never downloads).
    import keras
    from keras import layers

    path = tmp_path / "my_inception.weights.h5"
    path.write_bytes(b"stand-in")
    seen = {}

    def fake_inception_v3(include_top, weights, pooling):
        seen.update(include_top=include_top, weights=weights)
        x_in = keras.Input((299, 299, 3))
        x = layers.Conv2D(2048, 1, strides=30)(x_in)
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return keras.Model(x_in, layers.Dense(1000, activation="softmax")(x))

    monkeypatch.setattr(keras.applications, "InceptionV3", fake_inception_v3)
    with pytest.raises(ValueError, match="include_top"):
        extractors.InceptionExtractor(weights_path=path, file_hash=None)
    with pytest.raises(ValueError, match="corrupt"):
        extractors.InceptionExtractor(weights_path=path, file_hash="0" * 64, include_top=True)
    ext = extractors.InceptionExtractor(weights_path=path, file_hash=None, include_top=True)
    assert seen == {"include_top": True, "weights": str(path)}
    images = np.random.default_rng(0).uniform(-1, 1, size=(3, 28, 28, 1)).astype("float32")
    feats, probs = ext(images, batch_size=2)
    assert feats.shape == (3, 2048) and probs.shape == (3, 1000)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert ext.id.startswith("inception_v3@")


def test_unknown_extractor():
    with pytest.raises(ValueError, match="Unknown extractor"):
        extractors.get_extractor("vgg", "mnist")


@pytest.mark.parametrize("dataset, target", [("mnist", 0.993), ("fashion_mnist", 0.92)])
def test_shipped_classifier_accuracy(dataset, target):
    from kgan import data

    images, labels = data.load_arrays(dataset, "test")
    ext = extractors.get_extractor("classifier", dataset)      # sha256-verified load
    feats, probs = ext(classifiers.to_signed_unit(images[:2000]))
    assert feats.shape == (2000, 128) and probs.shape == (2000, 10)
    # 2000 images: binomial standard error ~0.2 % (MNIST) / ~0.6 % (Fashion); 2.5 sigma margin.
    margin = 2.5 * np.sqrt(target * (1 - target) / 2000)
    assert measures.label_accuracy(probs, labels[:2000]) >= target - margin


def test_classifier_rejects_tampered_weights(tmp_path):
    cfg = classifiers.classifier_cfg("mnist")
    bad = tmp_path / "classifier.weights.h5"
    bad.write_bytes((cfg.entry_dir / cfg.weights).read_bytes()[:-10])
    with pytest.raises(ValueError, match="corrupt"):
        classifiers.load_classifier("mnist", weights_path=bad, sha256=cfg.sha256)


# ------------------------------------------------------------------------------- evaluate
@pytest.fixture(scope="module")
def kgan_home(tmp_path_factory):
    return tmp_path_factory.mktemp("kgan_home")


@pytest.mark.parametrize("name", ["test_dcgan", "test_cgan"])
def test_evaluate_tiny_model(name, kgan_home, monkeypatch):
    import kgan

    monkeypatch.setenv("KGAN_HOME", str(kgan_home))
    model = kgan.zoo.load(name, pretrained=False)
    result = metrics.evaluate(model, "mnist", n=256, kid_subsets=10, kid_subset_size=100)
    expected = {"fid", "kid_mean", "kid_std", "inception_score", "inception_score_std",
                "precision", "recall", "class_kl", "extractor", "classifier", "n", "n_real"}
    assert expected <= set(result)
    assert ("label_accuracy" in result) == (model.num_classes > 0)
    for key, value in result.items():
        if not isinstance(value, str):
            assert np.isfinite(value), key
    assert result["n"] == result["n_real"] == 256
    assert result["extractor"].startswith("classifier_mnist@")
    # Real-data features are cached under $KGAN_HOME/stats/.
    assert list((kgan_home / "stats").glob("mnist_test_n256_*.npz"))


def test_evaluate_bad_input(kgan_home, monkeypatch):
    import kgan

    monkeypatch.setenv("KGAN_HOME", str(kgan_home))
    model = kgan.zoo.load("test_dcgan", pretrained=False)
    with pytest.raises(ValueError, match="Unknown data set"):
        metrics.evaluate(model, "cifar100", n=16)
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        metrics.evaluate(model, "mnist", n=1)

    class WrongShape:
        name, image_shape, num_classes = "wrong", (32, 32, 3), 0

        def generate(self, *args, **kwargs):
            raise AssertionError("must be rejected before generating")

    with pytest.raises(ValueError, match=r"\(32, 32, 3\)"):
        metrics.evaluate(WrongShape(), "mnist", n=16)


def test_real_floor_is_small(kgan_home, monkeypatch):
    monkeypatch.setenv("KGAN_HOME", str(kgan_home))
    floor = real_floor("mnist", n=256, kid_subsets=10, kid_subset_size=100)
    assert floor["precision"] > 0.5 and floor["recall"] > 0.5
    assert abs(floor["kid_mean"]) < 0.05
    assert floor["label_accuracy"] > 0.95


def test_padded_data_set_is_scored_on_its_base_protocol_with_the_border_cropped():
    model = kgan.zoo.load("test_stylegan", pretrained=False)
    assert model.image_shape == (32, 32, 1)
    scores = metrics.evaluate(model, "fashion_mnist_32", n=40, kid_subsets=2, kid_subset_size=20)
    assert np.isfinite(scores["fid"]) and scores["n"] == 40
    with pytest.raises(ValueError, match=r"generates images of shape \(32, 32, 1\)"):
        metrics.evaluate(model, "fashion_mnist", n=40)


def test_inception_inputs_are_resized_as_clean_fid_does():
    """uint8 quantisation, then PIL bicubic per channel in float mode (clean-fid's resizer)."""
    from PIL import Image

    images = np.random.default_rng(1).uniform(-1, 1, size=(2, 8, 6, 3)).astype("float32")
    out = extractors.clean_resize(images, size=12)
    assert out.shape == (2, 12, 12, 3) and out.dtype == np.float32
    pixels = np.round((images[1, ..., 2] + 1) * 127.5).astype("float32")
    expected = np.asarray(Image.fromarray(pixels, mode="F").resize((12, 12), Image.BICUBIC))
    np.testing.assert_allclose(out[1, ..., 2], expected / 127.5 - 1, atol=1e-6)
    flat = np.full((1, 5, 5, 1), 0.2, "float32")  # a constant image stays (quantised) constant
    np.testing.assert_allclose(extractors.clean_resize(flat, 9), np.round(1.2 * 127.5) / 127.5 - 1,
                               atol=1e-5)
