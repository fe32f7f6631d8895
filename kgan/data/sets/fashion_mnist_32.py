"""Fashion-MNIST padded from 28x28 to 32x32 (2 black pixels on every side).

ProGAN and StyleGAN double the resolution at every block (4 -> 8 -> 16 -> 32), so they need a
power-of-two image size. Zero padding (pixel value 0, i.e. -1 after scaling) keeps every
garment pixel exactly as it was: ``kgan.metrics`` crops the 2-pixel border back off before the
28x28 classifier, so 32x32 models are compared with the test images "resized the same way".
"""


import numpy as np

from kgan.data.idx import load_split

#: Pixels of padding on each side (28 + 2 * PAD = 32).
PAD = 2
SOURCE = "fashion_mnist"
SPLITS = ("train", "test")


def pad(images):
    """``(N, 28, 28[, 1])`` uint8 -> ``(N, 32, 32, 1)`` uint8 with a zero border."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    return np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))


def load_arrays(split="train", data_dir=None):
    """``(images uint8 (N, 32, 32, 1), labels int32 (N,))`` from the local IDX files."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r} for fashion_mnist_32; expected one of "
                         f"{', '.join(SPLITS)}.")
    images, labels = load_split(SOURCE, split, data_dir)
    return pad(images), np.asarray(labels).astype("int32")


def load(split="train", batch_size=128, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """The ``tf.data`` pipeline of ``kgan.data.load("fashion_mnist_32", ...)``."""
    from kgan.data.batches import from_numpy

    images, classes = load_arrays(split, data_dir)
    return from_numpy(images, classes if labels else None, batch_size, shuffle, seed, repeat)
