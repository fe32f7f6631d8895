"""Bad input raises a ValueError naming what was received and what is expected."""

import numpy as np
import pytest

import kgan
from gan_checks import tiny_dataset


@pytest.fixture(scope="module")
def dcgan():
    return kgan.zoo.load("test_dcgan", pretrained=False)


@pytest.fixture(scope="module")
def cgan():
    return kgan.zoo.load("test_cgan", pretrained=False)


def test_wrong_image_shape(dcgan):
    images = np.zeros((16, 32, 32, 1), "float32")
    with pytest.raises(ValueError, match=r"\(16, 32, 32, 1\).*expected \(batch, 28, 28, 1\)"):
        dcgan.fit(images, batch_size=8, epochs=1, verbose=0)


def test_wrong_channels(dcgan):
    ds = kgan.data.from_numpy(np.zeros((16, 28, 28, 3), "uint8"), batch_size=8)
    with pytest.raises(ValueError, match="1 channel"):
        dcgan.fit(ds, epochs=1, verbose=0)


def test_unscaled_pixels(dcgan):
    with pytest.raises(ValueError, match=r"\[-1, 1\].*255"):
        dcgan.fit(np.full((16, 28, 28, 1), 255.0, "float32"), batch_size=8, verbose=0)


def test_missing_labels_for_conditional(cgan):
    ds = kgan.data.from_numpy(np.zeros((16, 28, 28, 1), "uint8"), batch_size=8)
    with pytest.raises(ValueError, match="conditional.*labels=True"):
        cgan.fit(ds, epochs=1, verbose=0)


def test_labels_out_of_range(cgan):
    ds = kgan.data.from_numpy(np.zeros((16, 28, 28, 1), "uint8"), np.full(16, 12), batch_size=8)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\).*12"):
        cgan.fit(ds, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        cgan.generate(2, labels=[0, 10])
    with pytest.raises(ValueError, match="one label per sample"):
        cgan.generate(3, labels=[0, 1])


def test_labels_on_unconditional(dcgan):
    with pytest.raises(ValueError, match="unconditional"):
        dcgan.generate(2, labels=[0, 1])


def test_wrong_latent_size(dcgan):
    with pytest.raises(ValueError, match=rf"\(n, {dcgan.latent_dim}\).*\(3, 5\)"):
        dcgan.generate(z=np.zeros((3, 5)))
    with pytest.raises(ValueError, match="positive integer"):
        dcgan.generate(0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(loss="wasserstien"), "Unknown GAN loss 'wasserstien'"),
    (dict(d_steps=0), r"d_steps must be an integer in \[1, 32\]; received 0"),
    (dict(d_steps=1.5), "received 1.5"),
    (dict(gp_weight=-1.0), "gp_weight must be >= 0"),
    (dict(ema_decay=1.0), r"ema_decay must be in \[0, 1\)"),
    (dict(update="joint"), "update must be one of 'alternating', 'simultaneous'"),
    (dict(update="simultaneous", d_steps=5), "d_steps=5 needs update='alternating'"),
])
def test_bad_compile_arguments(kwargs, message):
    model = kgan.zoo.create("test_dcgan")
    with pytest.raises(ValueError, match=message):
        model.compile(**kwargs)


def test_fit_before_compile():
    model = kgan.zoo.create("test_dcgan")
    with pytest.raises(ValueError, match="not compiled"):
        model.fit(tiny_dataset(model), epochs=1, verbose=0)


def test_empty_dataset(dcgan):
    ds = tiny_dataset(dcgan).take(0)
    with pytest.raises(ValueError, match="empty"):
        dcgan.fit(ds, epochs=1, verbose=0)


def test_no_training_step_ran_before_the_error(cgan):
    before = int(cgan.g_optimizer.iterations.numpy())
    ds = kgan.data.from_numpy(np.zeros((16, 28, 28, 1), "uint8"), np.full(16, -1), batch_size=8)
    with pytest.raises(ValueError):
        cgan.fit(ds, epochs=1, verbose=0)
    assert int(cgan.g_optimizer.iterations.numpy()) == before
