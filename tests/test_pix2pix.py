"""pix2pix and its edges2fashion data: pairs, training (1 and 2 replicas), bad input, zoo."""

import numpy as np
import pytest
import tensorflow as tf
from gan_checks import assert_replicas_agree, tiny_pairs

import kgan
from kgan.data.sets import edges2fashion
from kgan.models.pix2pix import Pix2Pix


@pytest.fixture(scope="module")
def test_pairs():
    (edges, garments), labels = kgan.data.load_arrays("edges2fashion", "test")
    return edges, garments, labels


def fresh():
    return kgan.zoo.load("test_pix2pix", pretrained=False)


# ---------------------------------------------------------------------------- data
def test_edges2fashion_pairs(test_pairs):
    edges, garments, labels = test_pairs
    assert edges.shape == garments.shape == (10000, 32, 32, 1) and labels.shape == (10000,)
    assert edges.dtype == garments.dtype == np.uint8
    assert set(np.unique(edges)) == {0, 255}
    raw, raw_labels = kgan.data.load_arrays("fashion_mnist", "test")
    np.testing.assert_array_equal(garments[:, 2:30, 2:30], raw)  # padded, otherwise intact
    np.testing.assert_array_equal(labels, raw_labels)
    assert not garments[:, :2].any() and not edges[:, :1].any()
    # Edges sit where the garment's grey level changes: the outline of every garment.
    assert 0.05 < (edges > 0).mean() < 0.4
    assert all(edges[i].any() for i in range(100))


def test_edge_map_is_a_thresholded_sobel_magnitude():
    step = np.zeros((1, 12, 12, 1), "uint8")
    step[:, :, 4:8] = 255  # a bright band: Sobel magnitude 4 on both sides of each step
    edges = edge_map_columns(edges2fashion.edge_map(step))
    assert edges == {3, 4, 7, 8}
    faint = (step // 255 * 50).astype("uint8")  # a step of 50/255: magnitude 0.78 < 1
    assert not edges2fashion.edge_map(faint).any()


def edge_map_columns(edges):
    return set(np.nonzero(edges[0, 6, :, 0])[0].tolist())


def test_load_yields_float_pairs_and_labels():
    edges, garments = next(iter(kgan.data.load("edges2fashion", "test", batch_size=4,
                                               shuffle=False)))
    assert edges.shape == garments.shape == (4, 32, 32, 1)
    assert edges.dtype == tf.float32 and set(np.unique(edges.numpy())) <= {-1.0, 1.0}
    assert -1 <= garments.numpy().min() and garments.numpy().max() <= 1
    *_, labels = next(iter(kgan.data.load("edges2fashion", "test", batch_size=4,
                                          shuffle=False, labels=True)))
    assert labels.dtype == tf.int32 and labels.shape == (4,)
    with pytest.raises(ValueError, match="Unknown split 'val'.*train, test"):
        kgan.data.load_arrays("edges2fashion", "val")


# ---------------------------------------------------------------------------- model
def test_architecture_follows_the_recipe():
    model = kgan.zoo.load("pix2pix_edges2fashion", pretrained=False)
    g, d = model.generator, model.discriminator
    assert g.input_shape == (None, 32, 32, 1) and g.output_shape == (None, 32, 32, 1)
    assert d.output_shape == (None, 16, 16, 1)  # one logit per patch
    assert sum("skip" in layer.name for layer in g.layers) == 3
    assert sum("dropout" in layer.name for layer in g.layers) == 2
    assert model.l1_weight == 100.0 and model.loss_name == "non_saturating"
    assert np.isclose(float(model.g_optimizer.learning_rate), 2e-4)
    assert float(model.d_optimizer.beta_1) == 0.5
    assert model.image_shape == model.source_shape() == (32, 32, 1)


def test_fit_reports_l1_and_learns_the_pairs():
    model = fresh()
    model.compile(g_optimizer=tf.keras.optimizers.Adam(2e-3, beta_1=0.5))
    data = kgan.data.load("edges2fashion", "test", batch_size=16, seed=0)
    history = model.fit(data, epochs=3, steps_per_epoch=10, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "l1", "d_real_acc", "d_fake_acc"}
    assert all(np.all(np.isfinite(v)) for v in history.history.values())
    l1 = history.history["l1"]
    assert l1[-1] < 0.8 * l1[0], l1


def test_fit_accepts_x_y_arrays():
    model = fresh()
    pairs = next(iter(tiny_pairs(model, batch_size=16)))
    history = model.fit(x=pairs[0].numpy(), y=pairs[1].numpy(), batch_size=8, verbose=0)
    assert int(model.g_optimizer.iterations.numpy()) == 2
    assert np.isfinite(history.history["l1"][-1])


def test_one_and_two_replicas_give_the_same_weights(mirrored):
    """Instance norm is per image and the losses are divided by the replica count, so
    without dropout (masks differ per replica) 1 and 2 replicas train alike."""
    initial = Pix2Pix.build((32, 32, 1), width=4, depth=3, dropout=0, d_width=4,
                            d_layers=1).get_weights()

    def train(strategy):
        with strategy.scope():
            model = Pix2Pix.build((32, 32, 1), width=4, depth=3, dropout=0, d_width=4,
                                  d_layers=1)
            model.set_weights(initial)
            model.compile()
        model.fit(tiny_pairs(model, batch_size=16), epochs=1, steps_per_epoch=2, verbose=0)
        return model.get_weights()

    one = train(tf.distribute.OneDeviceStrategy("/cpu:0"))
    two = train(mirrored)
    assert not all(np.array_equal(a, b) for a, b in zip(one, initial))
    assert_replicas_agree(one, two)


@pytest.fixture(scope="module")
def mirrored():
    return kgan.distribute.get_strategy("mirrored")


def test_compile_config_round_trip():
    model = fresh()
    model.compile(l1_weight=10.0)
    config = model.get_compile_config()
    assert config["l1_weight"] == 10.0
    other = fresh()
    other.compile_from_config(config)
    assert other.l1_weight == 10.0


# ---------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors():
    model = fresh()
    assert not hasattr(model, "generate")  # a TranslationGAN: translate() instead
    with pytest.raises(ValueError, match=r"expected \(batch, 32, 32, 1\)"):
        model.translate(np.zeros((2, 28, 28, 1), "float32"))
    with pytest.raises(ValueError, match=r"wants 1 channel\(s\), not 3"):
        model.translate(np.zeros((2, 32, 32, 3), "float32"))
    with pytest.raises(ValueError, match=r"scaled to \[-1, 1\]"):
        model.translate(np.full((2, 32, 32, 1), 255.0, "float32"))
    with pytest.raises(ValueError, match=r"Unknown direction 'b2a'.*expected one of None"):
        model.translate(np.zeros((1, 32, 32, 1), "float32"), direction="b2a")
    with pytest.raises(ValueError, match=r"paired data.*received a single"):
        model.fit(kgan.data.load("fashion_mnist", batch_size=8), steps_per_epoch=1, verbose=0)
    with pytest.raises(ValueError, match=r"expected \(batch, 32, 32, 1\)"):
        model.fit(x=np.zeros((8, 28, 28, 1), "float32"), y=np.zeros((8, 28, 28, 1), "float32"),
                  verbose=0)
    with pytest.raises(ValueError, match=r"pix2pix trains with d_steps=1"):
        model.compile(d_steps=2)
    with pytest.raises(ValueError, match=r"l1_weight must be a finite number >= 0"):
        model.compile(l1_weight=-1)
    with pytest.raises(ValueError, match=r"divisible by 16; received image shape \(28, 28, 1\)"):
        Pix2Pix.build((28, 28, 1), depth=4)


# ---------------------------------------------------------------------------- zoo
PUBLISHED = "pix2pix_edges2fashion"


@pytest.mark.skipif(not kgan.zoo.info(PUBLISHED).weights, reason="not published yet")
def test_published_entry_draws_the_garments(test_pairs):
    """1,000 test sketches: the card's figures hold and beat the edge-map baseline."""
    from kgan.evaluation.translation import paired_scores

    card = kgan.zoo.info(PUBLISHED).card
    assert card["sha256"] == kgan.zoo.info(PUBLISHED).sha256
    model = kgan.zoo.load(PUBLISHED)
    scores = paired_scores(model, "edges2fashion", n=1000)
    assert scores["l1"] < 0.5 * scores["identity"]["l1"], scores
    assert scores["ssim"] > scores["identity"]["ssim"] + 0.3, scores
    assert scores["classifier_accuracy"] >= 0.8 * scores["real_accuracy"], scores
    assert abs(scores["l1"] - card["metrics"]["l1"]) < 0.02


def test_translation_metrics_and_identity_baseline(test_pairs):
    from kgan.evaluation.translation import paired_scores

    edges, garments, labels = test_pairs
    scores = paired_scores(fresh(), "edges2fashion", n=64)
    source, target = (a[:64].astype("float32") / 127.5 - 1 for a in (edges, garments))
    assert scores["n"] == 64 and scores["classifier"] == "classifier_fashion_mnist"
    assert scores["identity"]["l1"] == pytest.approx(np.abs(source - target).mean(), rel=1e-5)
    # SSIM lies in [-1, 1]: an untrained generator's can be just below 0.
    assert -1 <= scores["ssim"] <= 1 and 0 <= scores["classifier_accuracy"] <= 1
    assert scores["real_accuracy"] > 0.85  # the classifier knows real (cropped) garments
    with pytest.raises(ValueError, match="not a two-domain data set"):
        paired_scores(fresh(), "fashion_mnist", n=64)


@pytest.mark.slow
@pytest.mark.skipif(not kgan.zoo.info(PUBLISHED).weights, reason="not published yet")
def test_published_int8_filter_still_draws_the_garments(tmp_path, test_pairs):
    """The int8 uint8-IO filter stays close to Keras, and its garments are still recognised
    at >= 95 % of the float model's rate."""
    from kgan import export
    from kgan.evaluation import classifiers

    model = kgan.zoo.load(PUBLISHED)
    path = export.export_tflite(model, tmp_path, "int8", export.calibration_inputs(model, 256),
                                uint8_io=True)
    edges, _, labels = test_pairs
    source = edges[:1000].astype("float32") / 127.5 - 1
    float_out, int8_out = model.translate(source), export.run_tflite(path, {"source": source})
    assert np.abs(int8_out - float_out).mean() < 0.03
    judge = classifiers.load_classifier("fashion_mnist")

    def accuracy(images):
        probs = classifiers.predict(judge, edges2fashion.classifier_view(images))
        return np.mean(probs.argmax(1) == labels[:1000])

    assert accuracy(int8_out) >= 0.95 * accuracy(float_out)
