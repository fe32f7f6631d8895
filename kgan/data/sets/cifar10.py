"""CIFAR-10 (Krizhevsky 2009): 50,000 train and 10,000 test 32x32 RGB images in 10 classes.

Local copy first: ``<root>/cifar10/cifar10_{train,test}_jpeg.npz`` (see the folder's
SOURCE.md) holds every image as its original JPEG file (quality 75). They are decoded once
with Pillow and the uint8 arrays cached as ``$KGAN_HOME/data/cifar10_<split>_jpeg.npz``.
**The JPEG copy is not byte-exact**: decoded pixels differ from the official ones by a mean
absolute error of 5.8 grey levels, so FIDs measured against it are not comparable with
papers' numbers. Without a local copy, ``tensorflow_datasets`` (exact pixels) is used for users
with a network.
"""

import io
import os

import numpy as np

from kgan.zoo.weights import save_npz_atomically

NAME = "cifar10"
SPLITS = ("train", "test")
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")
#: Bumped when the decoded cache's content changes (e.g. another decoder).
VERSION = 1


def _cache_path(split):
    from kgan.zoo.weights import cache_dir

    return cache_dir() / "data" / f"{NAME}_{split}_jpeg_v{VERSION}.npz"


def _local_file(split, data_dir):
    from kgan.data.idx import default_roots

    roots = ([data_dir] if data_dir else []) + default_roots()
    for root in roots:
        path = os.path.join(root, NAME, f"{NAME}_{split}_jpeg.npz")
        if os.path.exists(path):
            return path
    return None


def decode_jpeg_npz(path):
    """``(images uint8 (N, 32, 32, 3), labels int32 (N,))`` from a SOURCE.md-format npz of
    concatenated JPEG files; a corrupt file raises a ``ValueError`` naming it."""
    from PIL import Image

    try:
        with np.load(path) as f:
            jpeg, offsets, labels = f["jpeg"], f["offsets"], f["labels"]
        images = np.stack([
            np.asarray(Image.open(io.BytesIO(jpeg[a:b].tobytes())).convert("RGB"))
            for a, b in zip(offsets[:-1], offsets[1:])])
    except (OSError, ValueError, KeyError, EOFError) as err:
        raise ValueError(f"{path} is not a readable CIFAR-10 JPEG archive ({err}); replace it "
                         "with the copy described in its SOURCE.md.") from None
    if images.shape[1:] != (32, 32, 3) or len(images) != len(labels):
        raise ValueError(f"{path}: expected 32x32 RGB images, one label each; found "
                         f"{images.shape} and {len(labels)} labels.")
    return images, labels.astype("int32")


def load_arrays(split="train", data_dir=None):
    """``(images uint8 (N, 32, 32, 3), labels int32 (N,))``; TensorFlow-free unless the
    tensorflow_datasets fallback is needed."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r} for {NAME}; expected one of "
                         f"{', '.join(SPLITS)}.")
    source = _local_file(split, data_dir)
    if source is None:
        from kgan.data.remote import load_tfds_arrays
        from kgan.data.idx import default_roots

        return load_tfds_arrays(NAME, split, default_roots())
    cache = _cache_path(split)
    if cache.exists() and cache.stat().st_mtime >= os.path.getmtime(source):
        try:
            with np.load(cache) as f:
                return f["images"], f["labels"]
        except (OSError, ValueError, KeyError, EOFError):
            pass  # unreadable cache: decode again below
    images, labels = decode_jpeg_npz(source)
    save_npz_atomically(cache, images=images, labels=labels)
    return images, labels


def load(split="train", batch_size=128, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """The ``tf.data`` pipeline of ``kgan.data.load("cifar10", ...)``."""
    from kgan.data.batches import from_numpy

    images, classes = load_arrays(split, data_dir)
    return from_numpy(images, classes if labels else None, batch_size, shuffle, seed, repeat)
