"""Colour images: the CIFAR-10 loader, DCGAN's topology that follows the resolution, a
family trained on a user's own folder of colour images, ProGAN and StyleGAN in colour."""

import numpy as np
import pytest

import kgan
from kgan import data, zoo
from kgan.data.sets import cifar10
from kgan.models.dcgan import DCGAN

from test_cli import cli_in_process


def test_cifar10_batches_are_colour_in_signed_unit_range():
    images, labels = next(iter(data.load("cifar10", "test", batch_size=32, labels=True)))
    assert images.shape == (32, 32, 32, 3) and images.dtype == "float32"
    assert -1.0 <= float(np.min(images)) < -0.5 and 0.5 < float(np.max(images)) <= 1.0
    assert labels.dtype == "int32" and set(np.asarray(labels)) <= set(range(10))


def test_cifar10_arrays_are_the_jpeg_copy_of_the_exact_images():
    """Counts per class as published, and the decoded JPEG test images within JPEG error
    of the lossless originals (SOURCE.md: mean absolute error 5.8 levels)."""
    x_train, y_train = data.load_arrays("cifar10", "train")
    x_test, y_test = data.load_arrays("cifar10", "test")
    assert x_train.shape == (50000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(y_train).tolist() == [5000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    root = cifar10._local_file("test", None)
    with np.load(root.replace("cifar10_test_jpeg.npz", "cifar10_exact_subset.npz")) as exact:
        x_exact, y_exact = exact["x_test"], exact["y_test"]
    np.testing.assert_array_equal(y_test[:1000], y_exact)
    error = np.abs(x_test[:1000].astype(int) - x_exact.astype(int)).mean()
    assert 3.0 < error < 9.0


def test_cifar10_corrupt_archive_is_named(tmp_path):
    (tmp_path / "cifar10").mkdir()
    bad = tmp_path / "cifar10" / "cifar10_test_jpeg.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="cifar10_test_jpeg.npz is not a readable"):
        cifar10.decode_jpeg_npz(bad)


@pytest.mark.parametrize("side, up_layers", [(32, 3), (64, 4), (128, 5)])
def test_dcgan_follows_the_resolution(side, up_layers):
    """One stride-2 transposed conv per doubling from 4x4 (64x64: four, as in Radford et
    al.), channels halving down to ``width``; D mirrors it down to 4x4."""
    model = DCGAN.build((side, side, 3), latent_dim=8, width=4)
    convs = [l for l in model.generator.layers if l.__class__.__name__ == "Conv2DTranspose"]
    assert len(convs) == up_layers
    assert [c.filters for c in convs] == [4 * 2 ** (up_layers - 2 - i)
                                          for i in range(up_layers - 1)] + [3]
    assert model.generator.output_shape == (None, side, side, 3)
    d_convs = [l for l in model.discriminator.layers if l.__class__.__name__ == "Conv2D"]
    assert len(d_convs) == up_layers and d_convs[-1].filters == 4 * 2 ** (up_layers - 1)


def test_dcgan_keeps_the_compact_layout_below_32():
    model = DCGAN.build((28, 28, 1), latent_dim=8, width=4)
    convs = [l for l in model.generator.layers if l.__class__.__name__ == "Conv2DTranspose"]
    assert [c.filters for c in convs] == [4, 1]


@pytest.mark.parametrize("shape, layout, message", [
    ((48, 48, 3), "radford", "power of two >= 32"),
    ((30, 30, 3), "auto", "divisible by 4"),
    ((32, 32, 2), "auto", "C in 1/3/4"),
    ((32, 32, 3), "paper", "layout must be one of"),
])
def test_dcgan_names_the_sizes_it_builds(shape, layout, message):
    with pytest.raises(ValueError, match=message):
        DCGAN.build(shape, layout=layout)


def test_grayscale_model_given_colour_data_fails_before_a_step():
    model = DCGAN.build((32, 32, 1), latent_dim=8, width=4)
    model.compile()
    with pytest.raises(ValueError, match="channel"):
        model.fit(data.load("cifar10", "test", batch_size=8), steps_per_epoch=1)


@pytest.mark.slow
def test_a_family_trains_on_a_folder_of_colour_images(tmp_path, capsys):
    """``kgan train dcgan --data folder:PATH --image_size 64``: the family is built for
    64x64x3 (four upsampling stages) and trains on the folder's PNG and JPEG files."""
    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "photos" / "more").mkdir(parents=True)
    for i in range(6):
        pixels = rng.integers(0, 256, (70, 90, 3), dtype="uint8")
        Image.fromarray(pixels).save(tmp_path / "photos" / f"{i}.png")
        Image.fromarray(pixels).save(tmp_path / "photos" / "more" / f"{i}.jpg")
    out = tmp_path / "run"
    from kgan import cli

    cli.FLAGS.unparse_flags()
    cli.main(cli._parse_flags([
        "kgan", "train", "dcgan", "--data", f"folder:{tmp_path / 'photos'}", "--image_size",
        "64", "--epochs", "1", "--batch_size", "4", "--steps_per_epoch", "2", "--out",
        str(out)]))
    model = zoo.create_family(zoo.family_cfg("dcgan", (64, 64, 3), "folder"))
    model.load_weights(out / "dcgan.weights.h5")
    assert model.generate(2, seed=0).shape == (2, 64, 64, 3)
    assert (out / "samples" / "epoch_0001.png").exists()


@pytest.mark.parametrize("args, message", [
    (["train", "dcgan", "--data", "folder:/nonexistent/photos", "--image_size", "64"],
     "does not exist"),
    (["train", "dcgan", "--data", "folder:/tmp"], "needs image_size"),
    (["train", "dcgan_mnist", "--data", "folder:/tmp", "--image_size", "64"], "name a family"),
    (["train", "dcgann", "--data", "folder:/tmp", "--image_size", "64"], "Unknown zoo entry"),
])
def test_folder_training_errors_are_one_line(args, message, capsys):
    status, err = cli_in_process(args, capsys)
    assert status == 2 and message in err and "Traceback" not in err


def test_from_folder_rejects_too_few_images_and_bad_sizes(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), "uint8")).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match="1 images"):
        kgan.data.from_folder(tmp_path, 8, batch_size=4)
    with pytest.raises(ValueError, match="image_size"):
        kgan.data.from_folder(tmp_path, (8,), batch_size=1)
    with pytest.raises(ValueError, match="channels"):
        kgan.data.from_folder(tmp_path, 8, channels=2, batch_size=1)


@pytest.mark.parametrize("family", [kgan.models.ProGAN, kgan.models.StyleGAN])
@pytest.mark.parametrize("side", [32, 64])
def test_progan_and_stylegan_build_and_train_in_colour(family, side):
    """Both style families grow from 4x4 to a colour image of any power-of-two side: RGB
    out of G, RGB into D, and a fit step on colour batches with finite losses."""
    channels = (8,) * (int(np.log2(side)) - 1)  # one entry per resolution, 4x4 .. side
    model = family.build((side, side, 3), latent_dim=8, channels=channels)
    assert model.generator.output_shape[1:] == (side, side, 3)
    assert model.discriminator.input_shape[1:] == (side, side, 3)
    images = np.random.default_rng(0).uniform(-1, 1, (8, side, side, 3)).astype("float32")
    model.compile()
    logs = model.fit(kgan.data.from_numpy(images, batch_size=4, shuffle=False),
                     epochs=1, steps_per_epoch=1, verbose=0).history
    assert all(np.isfinite(values[-1]) for values in logs.values())
    assert model.generate(2, seed=0).shape == (2, side, side, 3)
