"""kgan.data: local IDX loading, numpy/folder wrappers, and a fast clear offline error."""

import gzip
import time

import numpy as np
import pytest

import kgan
import kgan.data.idx
from kgan import data
from kgan.data import remote


def test_mnist_batches_are_scaled_and_labelled():
    ds = data.load("mnist", batch_size=32, labels=True)
    images, labels = next(iter(ds))
    assert images.shape == (32, 28, 28, 1) and images.dtype.name == "float32"
    assert float(images.numpy().min()) >= -1.0 and float(images.numpy().max()) <= 1.0
    assert labels.shape == (32,) and labels.dtype.name == "int32"


def test_real_arrays_match_the_published_counts():
    images, labels = data.load_arrays("mnist", "test")
    assert images.shape == (10000, 28, 28, 1)
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    f_images, f_labels = data.load_arrays("fashion_mnist", "train")
    assert f_images.shape == (60000, 28, 28, 1) and np.bincount(f_labels).tolist() == [6000] * 10


def test_drop_remainder_and_unknown_names():
    ds = data.from_numpy(np.zeros((10, 28, 28), "uint8"), batch_size=4)
    assert [b.shape[0] for b in ds] == [4, 4]
    with pytest.raises(ValueError, match="Unknown data set 'cifar11'"):
        data.load("cifar11")
    with pytest.raises(ValueError, match="Unknown split 'valid'"):
        data.load("mnist", split="valid")


def test_from_numpy_rejects_bad_arrays():
    with pytest.raises(ValueError, match="empty"):
        data.from_numpy(np.zeros((0, 28, 28), "uint8"))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        data.from_numpy(np.full((4, 28, 28), 3.0))
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        data.from_numpy(np.zeros((4, 28, 28), "uint8"), labels=[0, 1, 2], batch_size=2)
    with pytest.raises(ValueError, match="exceeds"):
        data.from_numpy(np.zeros((4, 28, 28), "uint8"), batch_size=8)


def _write_idx(path, array, truncate=0):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype("uint8").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(payload[: len(payload) - truncate])


def test_data_dir_and_truncated_files(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", np.full((6, 28, 28), 255))
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(6))
    images, labels = next(iter(data.load("mnist", "test", batch_size=6, data_dir=tmp_path,
                                         labels=True, shuffle=False)))
    assert np.allclose(images.numpy(), 1.0) and labels.numpy().tolist() == list(range(6))
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((6, 28, 28)), truncate=10)
    with pytest.raises(ValueError, match="truncated"):
        data.load_arrays("mnist", "test", data_dir=tmp_path)


def test_offline_without_local_copy_fails_fast_and_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setattr(kgan.data.idx, "default_roots", lambda: [tmp_path])
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.setattr(remote, "network_reachable", lambda: False)
    start = time.time()
    with pytest.raises(FileNotFoundError, match="KGAN_DATA_DIR"):
        data.load("fashion_mnist", data_dir=tmp_path)
    assert time.time() - start < 30


def test_image_folder(tmp_path):
    from PIL import Image

    for i in range(4):
        Image.fromarray(np.full((10, 12, 3), 60 * i, "uint8")).save(tmp_path / f"{i}.png")
    batch = next(iter(data.from_folder(tmp_path, image_size=(8, 8), channels=1, batch_size=4)))
    assert batch.shape == (4, 8, 8, 1) and float(batch.numpy().min()) >= -1.0
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.from_folder(tmp_path / "nope", (8, 8))


def test_uint8_pixels_round_trip_to_signed_unit():
    ds = kgan.data.from_numpy(np.array([[[0, 255]]], "uint8"), batch_size=1, shuffle=False)
    np.testing.assert_allclose(next(iter(ds)).numpy().ravel(), [-1.0, 1.0])


def test_embedded_mnist_batches_are_real_digits():
    images, labels = next(iter(data.embedded_mnist(batch_size=100, labels=True)))
    assert images.shape == (100, 28, 28, 1) and labels.shape == (100,)
    assert float(np.min(images)) == -1.0 and float(np.max(images)) == 1.0
    x_test, y_test = data.load_arrays("mnist", "test")
    with np.load(data.EMBEDDED_MNIST) as f:
        np.testing.assert_array_equal(f["images"], x_test[:1000, ..., 0])
        np.testing.assert_array_equal(f["labels"], y_test[:1000])


@pytest.mark.slow
def test_quickstart_falls_back_to_the_embedded_digits(tmp_path):
    """No local MNIST and no network: the README's main job still fine-tunes, with a note
    (in a subprocess: the tool defines absl flags of its own)."""
    import subprocess
    import sys
    from pathlib import Path

    tool = Path(__file__).resolve().parents[1] / "tools" / "quickstart.py"
    script = (
        "import sys, kgan.data.idx, kgan.data.remote as remote\n"
        "kgan.data.idx.default_roots = lambda: []\n"
        "remote.network_reachable = lambda *a, **k: False\n"
        f"sys.argv = ['quickstart', '--out', {str(tmp_path)!r}, '--steps', '1']\n"
        f"exec(compile(open({str(tool)!r}).read(), 'quickstart.py', 'exec'))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1,000 MNIST test digits shipped in kgan/assets" in done.stdout
    assert "fine-tuned 1 steps" in done.stdout
    assert (tmp_path / "dcgan_mnist_finetuned_samples.png").exists()
