"""SRGAN and its fashion_x4 and photos_x4 data: pairs, both training stages (1 and 2
replicas), content networks, bad input, the published zoo entry and the colour photo entry."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from gan_checks import tiny_pairs
from kgan.data.sets import fashion_x4, photos_x4
from kgan.evaluation import classifiers
from kgan.evaluation import translation as evaluation_translation
from kgan.layers import PixelShuffle
from kgan.models import srgan, srgan_content

PUBLISHED = "srgan_fashion_x4"


@pytest.fixture(scope="module")
def test_pairs():
    return fashion_x4.load_arrays("test")


def model(stage="gan", **kwargs):
    m = kgan.zoo.load("test_srgan", pretrained=False, compile=False)
    m.compile(stage=stage, **kwargs)
    return m


# ---------------------------------------------------------------------------- data
def test_fashion_x4_pairs_are_area_downsampled_and_splits_kept(test_pairs):
    (low, high), labels = test_pairs
    assert (low.shape, high.shape, labels.shape) == ((10000, 7, 7, 1), (10000, 28, 28, 1),
                                                     (10000,))
    assert low.dtype == high.dtype == np.uint8 and set(np.unique(labels)) == set(range(10))
    block = high[3, 8:12, 4:8, 0].astype("float64")
    assert low[3, 2, 1, 0] == np.round(block.mean())
    (train_low, _), train_labels = fashion_x4.load_arrays("train")
    assert len(train_low) == len(train_labels) == 60000
    with pytest.raises(ValueError, match="Unknown split 'val'"):
        fashion_x4.load_arrays("val")
    with pytest.raises(ValueError, match="divisible by 4"):
        fashion_x4.downsample(np.zeros((1, 30, 28, 1), "uint8"))


def test_fashion_x4_pipeline_and_bicubic_baseline(test_pairs):
    low, high, labels = next(iter(kgan.data.load("fashion_x4", "test", batch_size=4,
                                                 labels=True, shuffle=False)))
    assert low.shape == (4, 7, 7, 1) and high.shape == (4, 28, 28, 1)
    assert -1.0 <= float(tf.reduce_min(high)) and float(tf.reduce_max(high)) <= 1.0
    np.testing.assert_array_equal(labels.numpy(), test_pairs[1][:4])
    up = fashion_x4.bicubic(low.numpy())
    assert up.shape == (4, 28, 28, 1) and up.min() >= -1.0 and up.max() <= 1.0
    # Bicubic is far closer to the target than a blank image.
    assert np.mean((up - high.numpy()) ** 2) < 0.5 * np.mean((-1.0 - high.numpy()) ** 2)


# ---------------------------------------------------------------------------- layers
def test_generator_upsamples_with_pixel_shuffle():
    x = np.arange(2 * 3 * 3 * 8, dtype="float32").reshape(2, 3, 3, 8)
    layer = PixelShuffle(2)
    np.testing.assert_array_equal(layer(x), tf.nn.depth_to_space(x, 2))
    assert layer.compute_output_shape((None, 3, 3, 8)) == (None, 6, 6, 2)
    assert PixelShuffle.from_config(layer.get_config()).block == 2
    g = srgan.srresnet_generator((7, 7, 1), scale=4, width=8, blocks=2)
    assert g.output_shape == (None, 28, 28, 1)
    assert sum(isinstance(x, PixelShuffle) for x in g.layers) == 2
    assert sum(isinstance(x, keras.layers.PReLU) for x in g.layers) == 2 + 2 + 1


# ---------------------------------------------------------------------------- training
def test_pretrain_stage_trains_only_the_generator_and_round_trips(tmp_path):
    m = model("pretrain", content="mse", adversarial_weight=0.01)
    d_before = [w.copy() for w in m.discriminator.get_weights()]
    history = m.fit(tiny_pairs(m), epochs=1, steps_per_epoch=2, verbose=0)
    assert set(history.history) == {"mse", "psnr"}
    assert np.isfinite(history.history["mse"]).all()
    assert int(m.g_optimizer.iterations) == 2 and int(m.d_optimizer.iterations) == 0
    for a, b in zip(d_before, m.discriminator.get_weights()):
        np.testing.assert_array_equal(a, b)
    m.save(tmp_path / "sr.keras")
    loaded = keras.saving.load_model(tmp_path / "sr.keras", safe_mode=True)
    assert (loaded.stage, loaded.content, loaded.adversarial_weight) == ("pretrain", "mse", 0.01)
    sources = np.random.default_rng(0).uniform(-1, 1, (3, 7, 7, 1)).astype("float32")
    np.testing.assert_array_equal(m.translate(sources), loaded.translate(sources))
    assert int(loaded.g_optimizer.iterations) == 2


def test_gan_stage_reports_content_and_adversarial_terms():
    m = model("gan")
    history = m.fit(tiny_pairs(m), epochs=1, steps_per_epoch=2, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "content_loss", "adversarial_loss",
                                     "mse", "psnr", "d_real_acc", "d_fake_acc"}
    logs = {k: v[-1] for k, v in history.history.items()}
    assert all(np.isfinite(v) for v in logs.values())
    assert np.isclose(logs["g_loss"], logs["content_loss"] + 1e-3 * logs["adversarial_loss"],
                      rtol=1e-4)
    assert int(m.d_optimizer.iterations) == 2


def test_pixel_weight_adds_the_pixel_mse_to_the_generator_loss(tmp_path):
    """content="mse" is the pixel MSE itself, so with no adversarial term and pixel_weight
    1 the generator's loss is twice the MSE, step by step; the weight round-trips."""
    m = model("gan", content="mse", adversarial_weight=0.0, pixel_weight=1.0)
    logs = {k: v[-1] for k, v in m.fit(tiny_pairs(m), epochs=1, steps_per_epoch=2,
                                         verbose=0).history.items()}
    assert np.isclose(logs["g_loss"], 2 * logs["mse"], rtol=1e-5), logs
    m.save(tmp_path / "sr.keras")
    assert keras.saving.load_model(tmp_path / "sr.keras", safe_mode=True).pixel_weight == 1.0


def test_fit_rejects_unpaired_or_misshapen_batches(tiny_images):
    m = model("pretrain")
    images = tiny_images[0].astype("float32") / 127.5 - 1.0
    with pytest.raises(ValueError, match=r"\(low_res, high_res\[, labels\]\)"):
        m.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), steps_per_epoch=1)
    with pytest.raises(ValueError, match=r"expected \(batch, 7, 7, 1\)"):
        m.fit(images, images, steps_per_epoch=1)


def _train(strategy, initial, dataset):
    with strategy.scope():
        m = kgan.zoo.create("test_srgan")
        m.set_weights(initial)
        # SGD: updates linear in the gradients, so a loss not divided by the number of
        # replicas would show (Adam's normalised steps would hide it).
        m.compile(stage="gan", d_optimizer=keras.optimizers.SGD(0.05),
                  g_optimizer=keras.optimizers.SGD(0.05))
    m.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)
    return m.get_weights()


@pytest.mark.slow
def test_one_and_two_replicas_give_the_same_weights():
    initial = kgan.zoo.create("test_srgan").get_weights()
    dataset = tiny_pairs(kgan.zoo.create("test_srgan"), batch_size=16)
    one = _train(tf.distribute.OneDeviceStrategy("/cpu:0"), initial, dataset)
    mirrored = kgan.distribute.get_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2
    two = _train(mirrored, initial, dataset)
    assert not all(np.array_equal(a, b) for a, b in zip(one, initial)), "nothing trained"
    # Reductions run in another order on two replicas, so compare each tensor's change:
    # a loss scaled wrongly for the replicas would change it by ~100 %, rounding by < 3 %
    # (mostly < 1 %; Adam's normalised steps amplify it on tensors whose gradients are ~0).
    for a, b, start in zip(one, two, initial):
        change = np.linalg.norm(a - start)
        assert np.linalg.norm(b - a) <= 0.03 * change + 1e-6, (change, np.abs(b - a).max())


# ---------------------------------------------------------------------------- content networks
def test_content_networks():
    assert srgan_content.content_network("mse", (28, 28, 1)) is None
    net = srgan_content.content_network("classifier_fashion_mnist", (28, 28, 1))
    assert net.output_shape == (None, 7, 7, 128) and not net.trainable_weights
    with pytest.raises(ValueError, match="Unknown content network 'vgg16'.*vgg19"):
        srgan_content.content_network("vgg16", (28, 28, 1))
    with pytest.raises(ValueError, match="no layer 'block9'.*block3_relu1"):
        srgan_content.content_network("classifier_fashion_mnist", (28, 28, 1), layer="block9")
    with pytest.raises(ValueError, match=r"reads 1-channel images.*\(28, 28, 3\)"):
        srgan_content.content_network("classifier_mnist", (28, 28, 3))
    with pytest.raises(ValueError, match=r"'features' comes after its 'flatten'.*\(32, 32, 1\)"):
        srgan_content.content_network("classifier_mnist", (32, 32, 1), layer="features")


def test_classifier_content_at_another_size_is_the_same_convolutions():
    """The CIFAR-10 classifier's convolutions on 128x128 photos: away from the borders, a
    feature map cell is the one the classifier computes on the 32x32 crop around it."""
    net = srgan_content.content_network("classifier_cifar10", (128, 128, 3))
    assert net.output_shape == (None, 32, 32, 128) and not net.trainable_weights
    classifier = classifiers.load_classifier("cifar10")
    at_32 = keras.Model(classifier.inputs[0], classifier.get_layer("block3_relu1").output)
    photos = np.random.default_rng(0).uniform(-1, 1, (2, 128, 128, 3)).astype("float32")
    whole = keras.ops.convert_to_numpy(net(photos))
    crop = keras.ops.convert_to_numpy(at_32(photos[:, 32:64, 64:96]))
    np.testing.assert_allclose(whole[:, 11:13, 19:21], crop[:, 3:5, 3:5], atol=1e-5)


@pytest.mark.slow
def test_vgg19_content_takes_grey_28x28_images_shapes_only():
    with pytest.warns(UserWarning, match="random VGG19 weights"):
        m = model("gan", content="vgg19", vgg19_weights=None)
    net = m._content_net.model
    # Grey 28x28 -> RGB 32x32 (VGG19's minimum) -> block5_conv4 at 1/16 size.
    assert net.input_shape == (None, 28, 28, 1) and net.output_shape == (None, 2, 2, 512)
    weights = len(m.weights)
    history = m.fit(tiny_pairs(m), epochs=1, steps_per_epoch=1, verbose=0)
    assert np.isfinite(history.history["content_loss"][-1])
    assert len(m.weights) == weights  # the content network is not part of the model


# ---------------------------------------------------------------------------- bad input
def test_translate_checks_shapes_and_there_is_no_generate():
    m = model("pretrain")
    out = m.translate(np.zeros((2, 7, 7, 1), "float32"))
    assert out.shape == (2, 28, 28, 1) and m.source_shape() == (7, 7, 1)
    with pytest.raises(ValueError, match=r"\(2, 28, 28, 1\).*expected \(batch, 7, 7, 1\)"):
        m.translate(np.zeros((2, 28, 28, 1), "float32"))
    with pytest.raises(ValueError, match="wants 1 channel"):
        m.translate(np.zeros((2, 7, 7, 3), "float32"))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        m.translate(np.full((1, 7, 7, 1), 255.0, "float32"))
    assert not hasattr(m, "generate")  # a TranslationGAN: translate() instead
    with pytest.raises(ValueError, match="Unknown direction"):
        m.translate(np.zeros((1, 7, 7, 1), "float32"), direction="b2a")


@pytest.mark.parametrize("kwargs, message", [
    (dict(stage="finetune"), "stage must be one of pretrain, gan; received 'finetune'"),
    (dict(adversarial_weight=-1.0), "adversarial_weight must be >= 0"),
    (dict(pixel_weight=-0.5), "pixel_weight must be >= 0"),
    (dict(d_steps=2), "SRGAN trains with d_steps=1 .*received d_steps=2"),
    (dict(content="vgg16"), "Unknown content network 'vgg16'"),
])
def test_bad_compile_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kgan.zoo.create("test_srgan").compile(**kwargs)


def test_bad_builder_arguments():
    with pytest.raises(ValueError, match=r"2, 4 or 8 \(sub-pixel x2 stages\); received 3"):
        srgan.SRGAN.build((24, 24, 1), scale=3)
    with pytest.raises(ValueError, match=r"\(30, 28, 1\) is not divisible by scale 4"):
        srgan.SRGAN.build((30, 28, 1), scale=4)


# ---------------------------------------------------------------------------- zoo
def test_zoo_entries():
    assert kgan.zoo.list_models("*srgan*") == ["srgan_fashion_x4", "srgan_photos_x4",
                                               "test_srgan"]
    fresh = kgan.zoo.load("test_srgan", pretrained=False)
    assert fresh.compiled and fresh.stage == "gan" and fresh.content == "classifier_fashion_mnist"
    cfg = kgan.zoo.info(PUBLISHED)
    assert cfg.dataset == "fashion_x4" and cfg.recipe["pretrain"]["compile"]["stage"] == "pretrain"


def test_published_entry_beats_bicubic(test_pairs):
    cfg = kgan.zoo.info(PUBLISHED)
    if not cfg.weights:
        pytest.skip(f"{PUBLISHED} has no published weights yet")
    assert cfg.card["sha256"] == cfg.sha256
    m = kgan.zoo.load(PUBLISHED)
    (low, high), labels = test_pairs
    low = low[:1000].astype("float32") / 127.5 - 1.0
    high = high[:1000].astype("float32") / 127.5 - 1.0
    sr, bic = m.translate(low), fashion_x4.bicubic(low)
    judge = classifiers.load_classifier("fashion_mnist")
    accuracy = {k: np.mean(classifiers.predict(judge, x).argmax(1) == labels[:1000])
                for k, x in (("sr", sr), ("bicubic", bic))}
    assert accuracy["sr"] > accuracy["bicubic"] + 0.05, accuracy
    assert np.mean((sr - high) ** 2) < np.mean((bic - high) ** 2)
    card = cfg.card["metrics"]
    assert card["srgan"]["classifier_accuracy"] > card["bicubic"]["classifier_accuracy"]


# ---------------------------------------------------------------------------- colour photos
def test_photos_x4_pairs_are_quarters_of_the_photo_sets():
    (low, high), labels = kgan.data.load_arrays("photos_x4", "test")
    photos, sources = photos_x4.source_photos("test")
    assert high.shape == (4 * len(photos), 128, 128, 3) and low.shape[1:] == (32, 32, 3)
    assert np.bincount(labels).tolist() == [4 * 106, 4 * 120, 4 * 140]
    np.testing.assert_array_equal(labels, np.repeat(sources, 4))
    # photo 5's quarters, in reading order, and each low-res crop its 4x4 block means
    np.testing.assert_array_equal(high[21], photos[5, :128, 128:])
    np.testing.assert_array_equal(high[22], photos[5, 128:, :128])
    np.testing.assert_array_equal(low[21], fashion_x4.downsample(high[21:22])[0])
    (_, train_high), train_labels = photos_x4.load_arrays("train")
    assert len(train_high) == 4 * (400 + 534 + 667) and train_labels.max() == 2
    with pytest.raises(ValueError, match="Unknown split 'val' for photos_x4"):
        photos_x4.load_arrays("val")
    with pytest.raises(ValueError, match="images of 256x256; received 128x256"):
        photos_x4.quarters(np.zeros((1, 128, 256, 3), "uint8"))


def test_photo_entry_is_the_papers_networks_and_scores_against_bicubic():
    cfg = kgan.zoo.info("srgan_photos_x4")
    assert (cfg.dataset, cfg.image_shape) == ("photos_x4", (128, 128, 3))
    assert cfg.recipe["compile"]["content"] == "classifier_cifar10"
    model = kgan.zoo.load("srgan_photos_x4", pretrained=False, compile=False)
    assert model.source_shape() == (32, 32, 3)
    # SRResNet with 16 residual blocks of 64 filters (Ledig et al.: 1.55 M parameters)
    assert 1.5e6 < model.generator.count_params() < 1.6e6
    tiny = srgan.SRGAN.build((128, 128, 3), width=4, blocks=1, d_width=4, d_depth=2, d_dense=8)
    report = evaluation_translation.super_resolution_scores(tiny, "photos_x4", n=48)
    assert report["images"] == 48 and report["classifier"] is None
    assert report["feature_classifier"] == "classifier_cifar10"
    assert report["high_res"]["feature_distance"] == 0 and report["high_res"]["ssim"] == 1
    # an untrained SRGAN is far from the photos, bicubic close
    assert report["bicubic"]["psnr"] > report["srgan"]["psnr"] + 5
    assert report["bicubic"]["feature_distance"] < report["srgan"]["feature_distance"]
