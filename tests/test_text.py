"""Text-to-image: the fashion_captions data, the text encoder, Text2Image, its evaluation,
CLI and SavedModel export (issue #10)."""

import warnings

import numpy as np
import pytest

import kgan
from kgan.data.sets import fashion_captions as fc
from kgan.evaluation import text as text_measures
from kgan.modalities import text


@pytest.fixture(scope="module")
def model():
    return kgan.zoo.load("test_text2image", pretrained=False)


@pytest.fixture(scope="module")
def encoder():
    return text.load_text_encoder("fashion_captions")


# ---------------------------------------------------------------------------- data
def test_captions_are_true_of_their_images():
    arrays = fc.load_arrays("test")
    labels, attributes = arrays["labels"], arrays["attributes"]
    assert arrays["captions"].shape == (10000, len(fc.TRAIN_TEMPLATES))
    assert arrays["heldout_captions"].shape == (10000, len(fc.HELDOUT_TEMPLATES))
    # Attributes are measured on the images themselves, and split near half per class.
    np.testing.assert_array_equal(fc.measure_attributes(arrays["images"], labels)["tone"],
                                  attributes["tone"])
    for values in attributes.values():
        assert 0.4 < values.mean() < 0.6
    for column in (arrays["captions"][:, 3], arrays["heldout_captions"][:, 0]):
        asked = text.caption_targets(column)  # this template names class and all attributes
        np.testing.assert_array_equal(asked["class"], labels)
        for name in fc.ATTRIBUTES:
            np.testing.assert_array_equal(asked[name], attributes[name])
    # Held-out phrasings never occur in training, and use only known words.
    train = set(fc.load_arrays("train")["captions"].ravel())
    assert not train & set(arrays["heldout_captions"].ravel())
    vocabulary = set(fc.vocabulary())
    for caption in arrays["heldout_captions"][:50].ravel():
        assert set(fc.standardize(caption).split()) <= vocabulary
    assert fc.CLASS_CAPTIONS[9] == "an ankle boot"


def test_light_captions_describe_lighter_garments():
    arrays = fc.load_arrays("test")
    raw = fc.raw_measurements(arrays["images"])["tone"]
    light = np.char.find(arrays["captions"][:, 0].astype(str), "light") >= 0
    assert raw[light].mean() > raw[~light].mean() + 0.1


def test_load_yields_images_and_one_of_their_captions():
    ds = kgan.data.load("fashion_captions", split="test", batch_size=16, labels=True, seed=0)
    images, captions, labels = next(iter(ds))
    assert images.shape == (16, 28, 28, 1) and images.dtype == "float32"
    assert float(images.numpy().min()) >= -1 and float(images.numpy().max()) <= 1
    decoded = [c.decode() for c in captions.numpy()]
    np.testing.assert_array_equal(text.caption_targets(decoded)["class"], labels.numpy())
    again = [c.decode() for c in next(iter(kgan.data.load(
        "fashion_captions", split="test", batch_size=16, seed=0)))[1].numpy()]
    assert decoded == again  # seeded: the same images and caption choices
    with pytest.raises(ValueError, match="Unknown split 'val'"):
        fc.load_arrays("val")


def test_pinned_thresholds_are_the_train_medians():
    medians = fc.median_thresholds()
    for name, values in fc.THRESHOLDS.items():
        np.testing.assert_array_equal(medians[name], np.float32(values))


# ---------------------------------------------------------------------------- encoder
def test_encoder_round_trips_and_separates_captions(encoder):
    import keras

    texts = ["a dark ankle boot", "an ankle boot, dark and small", "a light ankle boot",
             "a dark sandal"]
    e = text.encode_texts(encoder, texts)
    assert e.shape == (4, 128) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    similarity = e @ e.T
    # Same class and tone in other words is closer than another tone or another class.
    assert similarity[0, 1] > similarity[0, 2] and similarity[0, 1] > similarity[0, 3]
    copy = keras.Model.from_config(encoder.get_config())
    copy.set_weights(encoder.get_weights())
    np.testing.assert_allclose(text.encode_texts(copy, texts), e, atol=1e-6)
    assert not encoder.trainable


def test_encoder_card_reports_heldout_accuracy():
    card = text.TEXT_ENCODERS["fashion_captions"]
    from kgan.zoo import weights as zoo_weights

    published = zoo_weights.read_card(card["entry"])
    assert published["sha256"] == card["sha256"]
    assert published["heldout"]["class_accuracy"] >= 0.99


def test_empty_and_unknown_captions_warn_and_still_embed(encoder):
    with pytest.warns(UserWarning, match=r"2 caption\(s\) are empty or have no word.*'zebra'"):
        e = text.encode_texts(encoder, ["", "zebra", "a bag"])
    assert np.all(np.isfinite(e))
    with pytest.warns(UserWarning, match=r"does not know the word\(s\) 'red', 'velvet'"):
        partial = text.encode_texts(encoder, ["a red Velvet dress.", "a dress"])
    np.testing.assert_allclose(partial[0], partial[1], atol=1e-6)  # unknown words ignored


@pytest.mark.parametrize("typed, known", [
    ("a trouser", "a trousers"), ("blue jeans", "blue trousers"), ("pants", "trousers"),
    ("two sneakers", "two sneaker"), ("an ankle boots", "an ankle boot"),
    ("a Handbag!", "a bag"), ("dresses", "dress"), ("a tee", "a tshirt"),
])
def test_plurals_and_synonyms_reach_the_known_words(encoder, typed, known):
    """Users type "a trouser" or "pants"; the encoder knows "trousers": both embed alike."""
    assert text.known_words(typed, text.encoder_vocabulary(encoder)) == known
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "blue", "two": unknown, ignored, warned about
        typed_e, known_e = text.encode_texts(encoder, [typed, known])
    np.testing.assert_allclose(typed_e, known_e, atol=1e-6)


@pytest.mark.parametrize("value, error, message", [
    (3, TypeError, "text must be a string or a list of strings; received int"),
    (["a bag", 3], TypeError, "text must hold strings only; received int 3"),
    ([], ValueError, "text is an empty list"),
    (np.array([["a bag"]]), ValueError, r"1-D list of strings; received an array of shape"),
])
def test_bad_text_types(value, error, message):
    with pytest.raises(error, match=message):
        text.check_texts(value)


# ---------------------------------------------------------------------------- the GAN
def test_generate_follows_the_text(model):
    z = np.random.default_rng(0).standard_normal((1, model.latent_dim)).astype("float32")
    same = model.generate(z=np.repeat(z, 2, 0), text=["a dark bag", "a dark bag"])
    np.testing.assert_array_equal(same[0], same[1])
    differ = model.generate(z=np.repeat(z, 2, 0), text=["a dark bag", "a light coat"])
    assert not np.array_equal(differ[0], differ[1])
    assert model.generate(text="a bag", n=3, seed=0).shape == (3, 28, 28, 1)
    assert model.generate(text=["a bag", "a coat"], seed=0).shape == (2, 28, 28, 1)
    assert model.generate(seed=0).shape == (64, 28, 28, 1)  # default: one caption per class


def test_interpolate_text_walks_between_the_captions(model):
    z = np.random.default_rng(1).standard_normal(model.latent_dim).astype("float32")
    walk = model.interpolate_text("a light sneaker", "a dark sandal", steps=5, z=z)
    assert walk.shape == (5, 28, 28, 1)
    ends = model.generate(z=np.stack([z, z]), text=["a light sneaker", "a dark sandal"])
    np.testing.assert_allclose(walk[[0, -1]], ends, atol=1e-5)
    with pytest.raises(ValueError, match="steps must be an integer >= 2"):
        model.interpolate_text("a bag", "a coat", steps=1)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(labels=[1, 2]), ValueError, "conditioned on text, not class labels"),
    (dict(text=["a bag"] * 3, n=2), ValueError, "Got 3 captions for n=2 samples"),
    (dict(text=["a bag"] * 3, z=np.zeros((2, 8))), ValueError, "Got 3 captions for n=2"),
    (dict(text=7), TypeError, "received int"),
    (dict(text="a bag", n=0), ValueError, "n must be a positive integer"),
])
def test_generate_bad_input(model, kwargs, error, message):
    with pytest.raises(error, match=message):
        model.generate(**kwargs)


def test_fit_needs_string_captions(model):
    images = np.zeros((8, 28, 28, 1), "float32")
    with pytest.raises(ValueError, match="trains on \\(images, captions\\).*int32"):
        model.fit(kgan.data.from_numpy(images, np.zeros(8, "int32"), batch_size=4), verbose=0)
    with pytest.raises(ValueError, match="trains on \\(images, captions\\).*int32"):
        model.fit(images, np.zeros(8, "int32"), verbose=0)
    with pytest.raises(ValueError, match="received no captions"):
        model.fit(images, verbose=0)


def test_gan_int_trains_and_round_trips(tmp_path):
    import keras
    from gan_checks import check_fit

    model = kgan.zoo.load("test_text2image", pretrained=False)
    model.compile(interpolation_weight=1.0)
    history = check_fit(model)
    assert 0.0 <= history.history["d_wrong_acc"][-1] <= 1.0
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.interpolation_weight == 1.0
    assert loaded.default_captions == model.default_captions
    with pytest.raises(ValueError, match="interpolation_weight must be >= 0"):
        model.compile(interpolation_weight=-1)
    with pytest.raises(ValueError, match="update='alternating'"):
        model.compile(update="simultaneous")


#: Two TensorFlow steps of each text family's game from stored weights and data, as the step
#: trained them when it was still TensorFlow code (``tests/data/text_steps_tf.npz``, written
#: by the tf.GradientTape ``train_step`` of commit 1bae9e5): GAN-CLS with GAN-INT, StackGAN's
#: stage I and stage II with the KL term. Keys: ``CASE/{init,trained}/i`` (G, D and stage
#: II's stage-I generator, in that order) and ``CASE/logs/NAME``.
TEXT_STEP_CASES = {"text2image_int": ("test_text2image", dict(interpolation_weight=1.0)),
                   "stackgan_stage2": ("test_stackgan", {}),
                   "stackgan_stage1": ("stage1", {})}


@pytest.mark.parametrize("case", sorted(TEXT_STEP_CASES))
def test_tensorflow_steps_train_as_before(case):
    """Up to float noise (measured: bit-identical): the captions are tokenized in the input
    pipeline now, and the same encoder layers embed them inside the step."""
    from pathlib import Path

    import tensorflow as tf

    from kgan.models.stackgan import StackGAN

    kind, config = TEXT_STEP_CASES[case]
    if kind == "stage1":
        model = StackGAN.build((16, 16, 1), latent_dim=16, stage=1, width=4, cond_dim=8)
        model.compile()
    else:
        model = kgan.zoo.load(kind, pretrained=False)
    if config:
        model.compile(**config)
    golden = np.load(Path(__file__).parent / "data" / "text_steps_tf.npz")
    nets = [n for n in (model.generator, model.discriminator,
                        getattr(model, "stage1_generator", None)) if n is not None]
    variables = [v for n in nets for v in n.weights]
    for i, v in enumerate(variables):
        v.assign(golden[f"{case}/init/{i}"])
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (16, *model.image_shape)).astype("float32")
    captions = [model.default_captions[(3 * i) % len(model.default_captions)]
                for i in range(16)]
    history = model.fit(tf.data.Dataset.from_tensor_slices((images, captions)).batch(
        8, drop_remainder=True), epochs=1, verbose=0).history
    for i, v in enumerate(variables):
        # 1e-5 (20x under one Adam step): the golden values were recorded on an Intel Xeon;
        # an AMD EPYC's kernels move near-zero entries of text2image_int by up to 2.3e-6
        # (3.4e-6 with TF_ENABLE_ONEDNN_OPTS=0).
        np.testing.assert_allclose(v.numpy(), golden[f"{case}/trained/{i}"], atol=1e-5,
                                   err_msg=f"{case} variable {i}")
    for name, values in history.items():
        np.testing.assert_allclose(values, golden[f"{case}/logs/{name}"], atol=1e-5,
                                   err_msg=name)


# ---------------------------------------------------------------------------- evaluation
def test_evaluate_text_to_image_scores_an_untrained_model_near_chance(model):
    scores = text_measures.evaluate(model, n=100, kid_subset_size=50)
    assert scores["n"] == 100 and scores["real_class_accuracy"] > 0.8
    assert scores["class_accuracy"] < 0.5  # random weights: about chance (0.1)
    for name in fc.ATTRIBUTES:
        assert 0.0 <= scores[f"{name}_accuracy"] <= 1.0
        assert scores[f"real_{name}_gap"] > 0  # the data's own "light minus dark" etc.
    with pytest.raises(ValueError, match="has no captions"):
        text_measures.evaluate(model, "fashion_x4", n=10)


# ---------------------------------------------------------------------------- CLI / export
def test_savedmodel_takes_strings_and_matches_keras(model, tmp_path):
    import tensorflow as tf

    path = kgan.export.export_savedmodel(model, tmp_path)
    signatures = tf.saved_model.load(str(path)).signatures
    captions = ["a dark ankle boot", "a light t-shirt", "", "zebra"]
    z = np.random.default_rng(2).standard_normal((4, model.latent_dim)).astype("float32")
    served = signatures["serving_default"](text=tf.constant(captions), latent=tf.constant(z))
    with pytest.warns(UserWarning):  # "" and "zebra" warn in Python, not in the graph
        expected = model.generate(z=z, text=captions)
    np.testing.assert_allclose(served["image"].numpy(), expected, atol=1e-5)
    seeded = signatures["generate_from_seed"](text=tf.constant(captions[:2]),
                                              seed=tf.constant([4, 5], tf.int64))
    np.testing.assert_allclose(
        seeded["image"].numpy(),
        model.generate(z=kgan.export.seed_latents([4, 5], model.latent_dim),
                       text=captions[:2]), atol=1e-5)
    with pytest.raises(ValueError, match="cannot be exported as tflite-none: .*string ops"):
        kgan.export.export_tflite(model, tmp_path)


@pytest.mark.slow
def test_cli_sample_text(tmp_path):
    from test_cli import kgan_cli

    out = tmp_path / "boots.png"
    done = kgan_cli("sample", "test_text2image", "--nopretrained", "--text",
                   "a dark ankle boot", "--n", "3", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0 and "wrote 3 samples" in done.stdout, done.stderr
    from PIL import Image

    assert Image.open(out).size[0] > 3 * 84  # three captioned cells side by side
    failed = kgan_cli("sample", "test_dcgan", "--nopretrained", "--text", "a bag", cwd=tmp_path)
    assert failed.returncode == 2
    assert "--text applies to text-to-image models; test_dcgan" in failed.stderr


# ---------------------------------------------------------------------------- published entry
@pytest.mark.slow
def test_published_text2image_follows_heldout_captions():
    """Cheap version of the card's measurement (500 held-out captions instead of 10,000)."""
    cfg = kgan.zoo.info("text2image_fashion")
    card = cfg.card
    assert card["sha256"] == cfg.sha256 and card["metrics"]["n"] == 10000
    assert {"samples", "figures"} <= set(card) and (cfg.entry_dir / "interpolation.png").exists()
    model = kgan.zoo.load("text2image_fashion")
    scores = text_measures.evaluate(model, n=500, kid_subsets=10, kid_subset_size=200)
    assert scores["class_accuracy"] >= 0.9 * scores["real_class_accuracy"], scores
    assert scores["tone_accuracy"] > 0.8 and scores["size_accuracy"] > 0.7, scores
    assert abs(scores["class_accuracy"] - card["metrics"]["class_accuracy"]) < 0.05
