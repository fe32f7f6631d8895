"""SNGAN, the projection cGAN and WGAN-GP's ResNet: the CIFAR-10 ResNets, their scaling
with resolution, spectral norm, conditional BatchNorm, the projection head and the zoo."""

import keras
import numpy as np
import pytest

import kgan
from gan_checks import check_keras_round_trip
from kgan.layers import ConditionalBatchNorm, GlobalSumPooling2D
from kgan.models import SNGAN, WGANGP
from kgan.models.dcgan import dcgan_discriminator, dcgan_generator

TINY = dict(latent_dim=8, g_width=8, d_width=8)


def _names(model, prefix):
    """Names of the residual blocks' output (Add) layers starting with ``prefix``."""
    return sorted(layer.name for layer in model.layers
                  if layer.name.startswith(prefix) and isinstance(layer, keras.layers.Add))


def _kernel_layers(model):
    """Every layer of ``model`` holding a kernel, unwrapped from SpectralNormalization."""
    found = []
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, (keras.layers.Conv2D, keras.layers.Dense)):
            found.append((layer, inner))
    return found


# ---------------------------------------------------------------------------- architecture
@pytest.mark.parametrize("side, up_blocks, down_blocks", [(32, 3, 1), (64, 4, 2)])
@pytest.mark.parametrize("num_classes", [0, 10])
def test_resnets_scale_with_resolution(side, up_blocks, down_blocks, num_classes):
    model = SNGAN.build((side, side, 3), **TINY, num_classes=num_classes)
    assert model.generator.output_shape == (None, side, side, 3)
    assert model.discriminator.output_shape == (None, 1)
    # One more up block in G and one more down block in D per doubling of the side.
    assert _names(model.generator, "up_block") == [f"up_block{i + 1}" for i in range(up_blocks)]
    blocks = [f"block{i + 1}" for i in range(down_blocks + 3)]  # optimized + down + 2 plain
    assert _names(model.discriminator, "block") == blocks
    # D reaches 8 x 8 before its two blocks without resampling, then sums over positions.
    pool = next(l for l in model.discriminator.layers if isinstance(l, GlobalSumPooling2D))
    assert tuple(pool.input.shape[1:3]) == (8, 8)
    z = np.random.default_rng(0).standard_normal((2, 8)).astype("float32")
    images = model.generate(z=z, labels=[1, 2] if num_classes else None)
    assert images.shape == (2, side, side, 3)
    logits = model.discriminator([images, np.array([1, 2])] if num_classes else images)
    assert logits.shape == (2, 1)


def test_full_size_cifar10_matches_the_papers():
    model = SNGAN.build((32, 32, 3))
    assert model.latent_dim == 128
    # Mimicry's SNGAN-32: G 4.3M parameters (Dense 4x4x256 + 3 blocks of 256 channels),
    # D 1.05M (128 channels).
    g = sum(int(np.prod(v.shape)) for v in model.generator.trainable_weights)
    d = sum(int(np.prod(v.shape)) for v in model.discriminator.trainable_weights)
    assert 4.2e6 < g < 4.4e6 and 1.0e6 < d < 1.1e6, (g, d)


@pytest.mark.parametrize("shape", [(28, 28, 1), (48, 48, 3), (16, 16, 3), (32, 64, 3),
                                   (32, 32), (96, 96, 3)])
def test_unsupported_sizes_name_the_supported_ones(shape):
    for build in (lambda: SNGAN.build(shape, **TINY),
                  lambda: WGANGP.build(shape, latent_dim=8, width=8, arch="resnet")):
        with pytest.raises(ValueError, match=r"\(32, 32, C\), \(64, 64, C\), \(128, 128, C\)"):
            build()


@pytest.mark.parametrize("num_classes", [0, 10])
def test_spectral_norm_wraps_every_discriminator_kernel(num_classes):
    model = SNGAN.build((32, 32, 3), **TINY, num_classes=num_classes)
    kernels = _kernel_layers(model.discriminator)
    unwrapped = [inner.name for layer, inner in kernels
                 if not isinstance(layer, keras.layers.SpectralNormalization)]
    assert not unwrapped
    # 3 + 3 convolutions in the optimized and the down block (with shortcuts), 2 + 2 in the
    # plain blocks, Dense(1), and the projection embedding for conditional models.
    assert len(kernels) == 11 + bool(num_classes)
    # The generator is not spectrally normalised (as in the paper).
    assert not any(isinstance(l, keras.layers.SpectralNormalization)
                   for l in model.generator.layers)


# ---------------------------------------------------------------------------- conditional BN
def test_conditional_batch_norm_starts_as_batch_norm_and_follows_labels():
    cbn = ConditionalBatchNorm(3, momentum=0.9, epsilon=1e-5)
    x = np.random.default_rng(0).normal(2.0, 3.0, (6, 4, 4, 5)).astype("float32")
    labels = np.array([0, 1, 2, 0, 1, 2])
    out = keras.ops.convert_to_numpy(cbn([x, labels], training=True))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(cbn.gamma), np.ones((3, 5)))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(cbn.beta), np.zeros((3, 5)))
    normed = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-5)
    np.testing.assert_allclose(out, normed, atol=1e-4)
    assert not cbn.batch_norm.center and not cbn.batch_norm.scale  # no affine of its own
    # Per-class gamma / beta: each sample takes its own label's row.
    gamma = np.arange(15, dtype="float32").reshape(3, 5)
    beta = -np.arange(15, dtype="float32").reshape(3, 5)
    cbn.gamma.assign(gamma)
    cbn.beta.assign(beta)
    out = keras.ops.convert_to_numpy(cbn([x, labels], training=True))
    np.testing.assert_allclose(out, normed * gamma[labels][:, None, None] +
                               beta[labels][:, None, None], atol=1e-3)
    swapped = keras.ops.convert_to_numpy(cbn([x, labels[::-1]], training=True))
    assert not np.allclose(out, swapped)
    # (B, 1) labels work too; inference uses the moving statistics.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(cbn([x, labels[:, None]], training=True)), out, atol=1e-5)
    moving = keras.ops.convert_to_numpy(cbn([x, labels], training=False))
    assert not np.allclose(moving, out)


def test_conditional_batch_norm_serializes():
    cbn = ConditionalBatchNorm(4, momentum=0.9, epsilon=1e-5, name="cbn")
    config = cbn.get_config()
    assert (config["num_classes"], config["momentum"], config["epsilon"]) == (4, 0.9, 1e-5)
    assert config["synchronized"] is None  # resolved per backend, so files load anywhere
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cbn))
    assert type(clone) is ConditionalBatchNorm and clone.get_config() == config
    assert "ConditionalBatchNorm" in kgan.layers.__all__


def test_conditional_generator_uses_labels_in_every_block():
    model = SNGAN.build((32, 32, 3), **TINY, num_classes=10)
    g = model.generator
    assert [i.name for i in g.inputs] == ["latent", "label"]
    cbns = [l for l in g.layers if isinstance(l, ConditionalBatchNorm)]
    assert len(cbns) == 2 * 3  # two per up block
    rng = np.random.default_rng(0)
    z = np.repeat(rng.standard_normal((1, 8)).astype("float32"), 2, 0)
    # Freshly built: gamma 1, beta 0 for every class, so the label has no effect yet.
    same = model.generate(z=z, labels=[3, 4])
    np.testing.assert_allclose(same[0], same[1], atol=1e-6)
    for cbn in cbns:
        cbn.gamma.assign(rng.normal(1.0, 0.3, cbn.gamma.shape).astype("float32"))
        cbn.beta.assign(rng.normal(0.0, 0.3, cbn.beta.shape).astype("float32"))
    differ = model.generate(z=z, labels=[3, 4])
    assert np.abs(differ[0] - differ[1]).max() > 1e-3
    again = model.generate(z=z, labels=[3, 3])
    np.testing.assert_array_equal(again[0], again[1])


def test_projection_discriminator_adds_embedding_dot_features():
    model = SNGAN.build((32, 32, 3), **TINY, num_classes=10)
    d = model.discriminator
    assert [i.name for i in d.inputs] == ["image", "label"]
    pool = next(l for l in d.layers if isinstance(l, GlobalSumPooling2D))
    features = keras.Model(d.inputs, pool.output)
    wrapper = next(l for l in d.layers if getattr(l, "layer", None) is not None
                   and l.layer.name == "projection")
    assert isinstance(wrapper, keras.layers.SpectralNormalization)
    projection = wrapper.layer
    assert projection.kernel.shape == (10, 8)  # the (num_classes, channels) embedding
    image = np.random.default_rng(1).uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    a, b = np.array([0, 1, 2, 3]), np.array([5, 6, 7, 8])
    h = keras.ops.convert_to_numpy(features([image, a]))
    table = keras.ops.convert_to_numpy(projection.kernel)
    # Same image, other labels: the logits move by exactly <h, E[a] - E[b]>.
    delta = keras.ops.convert_to_numpy(d([image, a]) - d([image, b]))[:, 0]
    np.testing.assert_allclose(delta, np.sum(h * (table[a] - table[b]), axis=1),
                               rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------- training / zoo
def test_recipes():
    sngan = kgan.zoo.load("test_sngan", pretrained=False)
    assert (sngan.loss_name, sngan.d_steps, sngan.gp_weight) == ("hinge", 5, 0.0)
    opt = sngan.d_optimizer
    assert np.isclose(float(opt.learning_rate), 2e-4)
    assert (float(opt.beta_1), float(opt.beta_2)) == (0.0, 0.9)
    wgan = kgan.zoo.load("wgan_gp_cifar10", pretrained=False)
    assert (wgan.loss_name, wgan.d_steps, wgan.gp_weight) == ("wasserstein", 5, 10.0)
    for opt in (wgan.d_optimizer, wgan.g_optimizer):
        assert np.isclose(float(opt.learning_rate), 2e-4)
        assert (float(opt.beta_1), float(opt.beta_2)) == (0.0, 0.9)
    assert wgan.g_optimizer.use_ema and not wgan.d_optimizer.use_ema


@pytest.mark.parametrize("name, labels", [("test_sngan", False), ("test_cgan_pd", True),
                                          ("test_wgan_gp_resnet", False)])
def test_two_steps_on_cifar10_give_finite_losses(name, labels):
    if name == "test_wgan_gp_resnet":
        model = WGANGP.build((32, 32, 3), latent_dim=8, width=8, arch="resnet")
        model.compile(learning_rate=2e-4)
    else:
        model = kgan.zoo.load(name, pretrained=False)
    # The test split: the same loader and pipeline, a fifth of the images to shuffle.
    data = kgan.data.load("cifar10", "test", batch_size=8, labels=labels)
    history = model.fit(data, epochs=1, steps_per_epoch=2, verbose=0)
    assert {"d_loss", "g_loss"} <= set(history.history)
    for key, values in history.history.items():
        assert np.all(np.isfinite(values)), (key, values)
    assert int(model.d_optimizer.iterations.numpy()) == 2 * 5


def test_conditional_keras_round_trip(tmp_path):
    model = kgan.zoo.load("test_cgan_pd", pretrained=False)
    loaded = check_keras_round_trip(model, tmp_path)
    assert loaded.conditional and loaded.num_classes == 10
    z = np.random.default_rng(2).standard_normal((3, 8)).astype("float32")
    np.testing.assert_array_equal(model.generate(z=z, labels=[1, 5, 9]),
                                  loaded.generate(z=z, labels=[1, 5, 9]))


def test_zoo_entries():
    for name, classes in (("sngan_cifar10", 0), ("cgan_cifar10", 10), ("wgan_gp_cifar10", 0)):
        cfg = kgan.zoo.info(name)
        assert (cfg.dataset, cfg.image_shape, cfg.num_classes) == ("cifar10", (32, 32, 3), classes)
        assert cfg.weights is None and cfg.recipe["epochs"] > 0
        with pytest.raises(ValueError, match="no published weights.*pretrained=False"):
            kgan.zoo.load(name)
    assert kgan.zoo.info("sngan_cifar10").model_kwargs == dict(latent_dim=128, g_width=256,
                                                               d_width=128)
    assert kgan.zoo.info("wgan_gp_cifar10").model_kwargs["arch"] == "resnet"
    assert {"test_sngan", "test_cgan_pd"} <= set(kgan.zoo.list_models("test_*"))
    assert kgan.zoo.info("test_cgan_pd").image_shape == (32, 32, 3)


# ---------------------------------------------------------------------------- WGAN-GP ResNet
def test_wgan_gp_resnet_critic_and_unchanged_default():
    model = WGANGP.build((32, 32, 3), latent_dim=8, width=8, arch="resnet")
    critic = model.discriminator
    assert not any(isinstance(l, (keras.layers.SpectralNormalization,
                                  keras.layers.BatchNormalization, GlobalSumPooling2D))
                   for l in critic.layers)
    assert any(isinstance(l, keras.layers.GlobalAveragePooling2D) for l in critic.layers)
    assert len(_kernel_layers(critic)) == 11
    assert _names(model.generator, "up_block") == ["up_block1", "up_block2", "up_block3"]
    with pytest.raises(ValueError, match="arch must be one of 'dcgan', 'resnet'"):
        WGANGP.build((32, 32, 3), arch="biggan")
    # The default is still the DCGAN-style pair: same layers and weight shapes as before.
    default = WGANGP.build((28, 28, 1), latent_dim=8, width=4)
    for built, reference in ((default.generator, dcgan_generator((28, 28, 1), 8, 4)),
                             (default.discriminator,
                              dcgan_discriminator((28, 28, 1), 4, batch_norm=False))):
        assert [type(l).__name__ for l in built.layers] == [
            type(l).__name__ for l in reference.layers]
        assert [w.shape for w in built.weights] == [w.shape for w in reference.weights]


def test_published_wgan_gp_weights_still_load():
    cfg = kgan.zoo.info("wgan_gp_fashion_mnist")
    if not (cfg.weights and (cfg.entry_dir / cfg.weights).exists()):
        pytest.skip("weights file not present")
    model = kgan.zoo.load("wgan_gp_fashion_mnist")
    assert model.generate(2, seed=0).shape == (2, 28, 28, 1)
