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


# ---------------------------------------------------------------------------- the sweep
# Every public entry point fed wrong shapes, dtypes, ranges, empty inputs, unknown names and
# missing files: (call(model, tmp_path), exception type, pattern naming the problem).
def _fake_model(image_shape):
    from types import SimpleNamespace

    return SimpleNamespace(name="fake", image_shape=image_shape, num_classes=0,
                           generate=lambda n, seed=None: np.zeros((n, *image_shape), "float32"))


def _missing_zoo_file(model, tmp_path):
    import os

    os.environ["KGAN_ZOO_DIR"] = str(tmp_path)
    try:
        kgan.zoo.load("dcgan_mnist")
    finally:
        del os.environ["KGAN_ZOO_DIR"]


SWEEP = {
    # kgan.zoo.load
    "zoo-unknown-name": (lambda m, t: kgan.zoo.load("dcgan_mnsit"), ValueError,
                         r"Unknown zoo entry 'dcgan_mnsit'.*dcgan_mnist"),
    "zoo-name-not-a-string": (lambda m, t: kgan.zoo.load(None), ValueError,
                              "Unknown zoo entry None"),
    "zoo-no-weights": (lambda m, t: kgan.zoo.load("test_dcgan"), ValueError,
                       r"no published weights yet.*pretrained=False"),
    "zoo-missing-file": (_missing_zoo_file, FileNotFoundError,
                         r"dcgan_mnist.*not found at .*KGAN_ZOO_DIR"),
    # GAN.generate
    "generate-latent-size": (lambda m, t: m.generate(z=np.zeros((3, 5))), ValueError,
                             r"shape \(n, 8\); received shape \(3, 5\)"),
    "generate-latent-rank": (lambda m, t: m.generate(z=np.zeros(8)), ValueError,
                             r"shape \(n, 8\); received shape \(8,\)"),
    "generate-latent-dtype": (lambda m, t: m.generate(z=np.full((2, 8), "a")), ValueError,
                              "Latents must be numbers; received dtype <U1"),
    "generate-latent-nan": (lambda m, t: m.generate(z=np.full((2, 8), np.nan)), ValueError,
                            "Latents contain NaN"),
    "generate-empty": (lambda m, t: m.generate(z=np.zeros((0, 8))), ValueError,
                       "holds no latents"),
    "generate-n-zero": (lambda m, t: m.generate(0), ValueError,
                        "n must be a positive integer; received 0"),
    "generate-n-float": (lambda m, t: m.generate(2.5), ValueError, "received 2.5"),
    "generate-n-mismatch": (lambda m, t: m.generate(3, z=np.zeros((2, 8))), ValueError,
                            "n=3 does not match the 2 latents"),
    # GAN.fit data
    "fit-no-data": (lambda m, t: m.fit(None, verbose=0), ValueError, "needs training data"),
    "fit-uint8-array": (lambda m, t: m.fit(np.zeros((8, 28, 28, 1), "uint8"), batch_size=4,
                                           verbose=0), ValueError,
                        "floats in \\[-1, 1\\]; received dtype uint8"),
    "fit-nan-images": (lambda m, t: m.fit(np.full((8, 28, 28, 1), np.nan, "float32"),
                                          batch_size=4, verbose=0), ValueError,
                       "NaN or Inf"),
    "fit-missing-channel": (lambda m, t: m.fit(np.zeros((8, 28, 28), "float32"), batch_size=4,
                                               verbose=0), ValueError,
                            r"\(8, 28, 28\).*Add a channel axis"),
    # kgan.data
    "data-unknown-name": (lambda m, t: kgan.data.load("mnsit"), ValueError,
                          "Unknown data set 'mnsit'; expected one of mnist, fashion_mnist"),
    "data-unknown-split": (lambda m, t: kgan.data.load("mnist", split="validation"), ValueError,
                           "Unknown split 'validation' for mnist; expected one of train, test"),
    "data-missing-dir": (lambda m, t: kgan.data.load("mnist", data_dir=t / "nope"),
                         FileNotFoundError, r"data_dir .*nope is not a folder"),
    "data-batch-size": (lambda m, t: kgan.data.load("mnist", batch_size=0), ValueError,
                        "batch_size must be a positive integer; received 0"),
    "data-too-few-images": (lambda m, t: kgan.data.from_numpy(np.zeros((4, 8, 8), "uint8"),
                                                              batch_size=8), ValueError,
                            "batch_size=8 exceeds the 4 images"),
    "data-empty": (lambda m, t: kgan.data.from_numpy(np.zeros((0, 8, 8), "uint8")), ValueError,
                   "images is empty"),
    "data-rank": (lambda m, t: kgan.data.from_numpy(np.zeros((4, 8), "uint8")), ValueError,
                  r"received \(4, 8\)"),
    "data-dtype": (lambda m, t: kgan.data.from_numpy(np.zeros((4, 8, 8), "int64")), ValueError,
                   "uint8 or float; received dtype int64"),
    "data-range": (lambda m, t: kgan.data.from_numpy(np.full((4, 8, 8), 255.0)), ValueError,
                   r"\[-1, 1\]; received \[255, 255\]"),
    "data-labels-count": (lambda m, t: kgan.data.from_numpy(np.zeros((4, 8, 8), "uint8"),
                                                            np.zeros(3), batch_size=2),
                          ValueError, "4 images but 3 labels"),
    "data-missing-folder": (lambda m, t: kgan.data.from_folder(t / "nope", (8, 8)),
                            FileNotFoundError, "Image folder .*nope does not exist"),
    # kgan.metrics.evaluate
    "metrics-unknown-data": (lambda m, t: kgan.metrics.evaluate(m, "cifar100", n=10),
                             ValueError, "Unknown data set 'cifar100' for metrics"),
    "metrics-n": (lambda m, t: kgan.metrics.evaluate(m, "mnist", n=1), ValueError,
                  "n must be an integer >= 2"),
    "metrics-not-a-model": (lambda m, t: kgan.metrics.evaluate("dcgan_mnist", "mnist", n=10),
                            ValueError, "needs a kgan.GAN.*received str"),
    "metrics-shape": (lambda m, t: kgan.metrics.evaluate(_fake_model((32, 32, 3)), "mnist",
                                                         n=10), ValueError,
                      r"shape \(32, 32, 3\), but mnist images are \(28, 28, 1\)"),
    "metrics-extractor": (lambda m, t: kgan.metrics.evaluate(m, "mnist", n=10,
                                                             extractor="vgg"), ValueError,
                          "Unknown extractor 'vgg'"),
    # kgan.export
    "export-not-a-gan": (lambda m, t: kgan.export.export_savedmodel(m.generator, t), TypeError,
                         "Expected a kgan.GAN to export; received Functional"),
    "export-quantize": (lambda m, t: kgan.export.export_tflite(m, t, "int4"), ValueError,
                        "quantize must be one of"),
    "export-version": (lambda m, t: kgan.export.export_savedmodel(m, t, version=-1), ValueError,
                       "version must be a positive integer; received -1"),
    "export-missing-file": (lambda m, t: kgan.export.load_exportable(t / "gone.keras"),
                            FileNotFoundError, "No .keras file at .*gone.keras"),
    "export-unknown-name": (lambda m, t: kgan.export.load_exportable("dcgam_mnist"), ValueError,
                            "Unknown zoo entry 'dcgam_mnist'"),
    "export-bad-name": (lambda m, t: kgan.export.export_tflite(m, t, name="a b/c"), ValueError,
                        "Model name 'a b/c' is not usable in a path"),
}


@pytest.mark.parametrize("case", list(SWEEP))
def test_bad_input_sweep(case, dcgan, tmp_path):
    call, error, pattern = SWEEP[case]
    with pytest.raises(error, match=pattern):
        call(dcgan, tmp_path)
