"""ProGAN (growth schedule, resolutions) and StyleGAN (mixing, truncation, noise) checks.

The standard checks (fit, generate, .keras round trip) run for test_progan / test_stylegan in
tests/test_families.py; these cover what is specific to the two families.
"""

import numpy as np
import pytest

import kgan
from gan_checks import tiny_dataset
from kgan.layers import GrowthSchedule, NoiseInjection


def test_drift_loss_adds_the_drift_term():
    real, fake = np.array([[2.0], [0.0]], "float32"), np.array([[1.0], [-1.0]], "float32")
    expected = (0.0 - 1.0) + 1e-3 * (4.0 + 0.0) / 2
    assert np.isclose(float(kgan.losses.wasserstein_drift_discriminator_loss(real, fake)),
                      expected)


def test_growth_schedule_fades_then_stabilises():
    schedule = GrowthSchedule(4, fade_images=100, stable_images=50)
    alphas = [np.asarray(schedule.alphas(t)) for t in (0, 50, 100, 150, 200, 500, 10_000)]
    np.testing.assert_allclose(alphas[0], [0, 0, 0])     # 4x4 only
    np.testing.assert_allclose(alphas[2], [0.5, 0, 0])   # 8x8 half faded in
    np.testing.assert_allclose(alphas[3], [1, 0, 0])     # 8x8 in, stabilising
    np.testing.assert_allclose(alphas[4], [1, 0, 0])
    np.testing.assert_allclose(alphas[5], [1, 1, 1])     # 32x32 fully in
    np.testing.assert_allclose(alphas[6], [1, 1, 1])


def test_progan_grows_during_fit_and_resumes_mid_growth(tmp_path):
    model = kgan.zoo.load("test_progan", pretrained=False)   # 4x4 for 8 images, fade 8
    assert (model.stage, model.resolution) == (0, 4)
    with pytest.raises(ValueError, match="has grown to 4x4"):
        model.generate(2, resolution=8)
    low = model.generate(2, seed=0, resolution=4)
    assert low.shape == (2, 4, 4, 1)
    model.fit(tiny_dataset(model, batch_size=4, n=12), epochs=1, steps_per_epoch=3, verbose=0)
    # 12 images: 8x8 fading in, alpha 0.5; D's clock agrees with G's.
    assert model.images_seen == 12.0
    assert float(model.discriminator.get_layer("growth").images_seen.numpy()) == 12.0
    assert (model.stage, model.alpha, model.resolution) == (1, 0.5, 8)
    assert model.generate(2, seed=0, resolution=8).shape == (2, 8, 8, 1)
    path = tmp_path / "progan.weights.h5"
    model.save_weights(path)
    resumed = kgan.zoo.load("test_progan", pretrained=False)
    resumed.load_weights(path)
    assert (resumed.stage, resumed.alpha) == (1, 0.5)


@pytest.fixture(scope="module")
def stylegan():
    """One untrained test_stylegan for the tests that only sample from it, with a non-zero
    mean w (the truncation centre) and noise strengths: both start at zero and only
    training moves them (see the training-call test)."""
    model = kgan.zoo.load("test_stylegan", pretrained=False)
    rng = np.random.default_rng(0)
    w_avg = model.generator.get_layer("mean_w").w_avg
    w_avg.assign(rng.standard_normal(w_avg.shape).astype("float32"))
    for layer in model.synthesis.layers:
        if isinstance(layer, NoiseInjection):
            layer.strength.assign(rng.uniform(0.1, 0.5, layer.strength.shape).astype("float32"))
    return model


def test_stylegan_mixing_truncation_and_noise(stylegan):
    model = stylegan
    assert model.num_ws == 8 and model.r1_weight > 0
    rng = np.random.default_rng(0)
    z_a, z_b = rng.standard_normal((2, 3, model.latent_dim)).astype("float32")
    np.testing.assert_allclose(model.style_mix(z_a, z_b, model.num_ws), model.generate(z=z_a),
                               atol=1e-6)
    np.testing.assert_allclose(model.style_mix(z_a, z_b, 0), model.generate(z=z_b), atol=1e-6)
    mixed = model.style_mix(z_a, z_b, 4)
    assert not np.allclose(mixed, model.generate(z=z_a))
    mean_image = model.generate(z=z_a, truncation_psi=0.0)
    np.testing.assert_allclose(mean_image[0], mean_image[1], atol=1e-5)
    assert not np.allclose(mean_image[0], model.generate(z=z_a)[0], atol=1e-3)
    assert not np.array_equal(model.generate(z=z_a, noise_mode="random"),
                              model.generate(z=z_a, noise_mode="random"))
    assert model.generate(z=z_a, noise_mode="none").shape == (3, 32, 32, 1)


def test_stylegan_training_call_mixes_styles_and_tracks_mean_w():
    """The generator's training call (what fit runs on both backends, see test_families) mixes
    styles and moves the mean w."""
    model = kgan.zoo.load("test_stylegan", pretrained=False, mixing_prob=1.0)
    mixing = model.generator.get_layer("style_mixing")
    w1, w2 = np.zeros((2, 8), "float32"), np.ones((2, 8), "float32")
    ws = np.asarray(mixing([w1, w2], training=True))
    cut = int(ws[0, :, 0].argmax())
    assert 1 <= cut < model.num_ws and ws[0, :cut].sum() == 0 and np.all(ws[0, cut:] == 1)
    assert np.all(np.asarray(mixing([w1, w2], training=False)) == 0)
    assert np.all(model.w_avg == 0)
    z = np.random.default_rng(0).standard_normal((2, model.latent_dim)).astype("float32")
    assert model.generator(z, training=True).shape == (2, 32, 32, 1)
    assert np.any(model.w_avg != 0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(truncation_psi=1.5), "truncation_psi must be a number in"),
    (dict(truncation_psi=-0.1), "truncation_psi must be a number in"),
    (dict(noise_mode="fixed"), "noise_mode must be one of"),
])
def test_stylegan_bad_generate_arguments(stylegan, kwargs, match):
    with pytest.raises(ValueError, match=match):
        stylegan.generate(2, **kwargs)


@pytest.mark.parametrize("crossover", [-1, 9, 2.5])
def test_stylegan_crossover_out_of_range(stylegan, crossover):
    z = np.zeros((1, stylegan.latent_dim), "float32")
    with pytest.raises(ValueError, match=r"crossover must be an integer layer index in \[0, 8\]"):
        stylegan.style_mix(z, z, crossover)


def test_progressive_families_need_power_of_two_squares():
    with pytest.raises(ValueError, match="square power-of-two"):
        kgan.models.ProGAN.build((28, 28, 1), channels=(8, 8, 8))
    with pytest.raises(ValueError, match="one width per resolution"):
        kgan.models.StyleGAN.build((32, 32, 1), channels=(8, 8))
