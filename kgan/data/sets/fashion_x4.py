"""``fashion_x4``: Fashion-MNIST at 7x7 paired with the 28x28 originals, for x4 super-resolution.

Each pair is ``(low-res, high-res)``: the high-res image is the Fashion-MNIST garment, the
low-res one its **area** downsampling by 4 (the mean of each 4x4 block, as
``PIL.Image.reduce(4)`` or ``cv2.INTER_AREA`` would compute it), rounded to uint8 like a real
7x7 thumbnail. Built on the fly from the local Fashion-MNIST IDX files
(``../shared/data/fashion_mnist``), so nothing is downloaded, and train / test keep
Fashion-MNIST's own split (60,000 / 10,000 pairs): models train on ``"train"`` and are
measured on ``"test"``.

:func:`bicubic` is the baseline every super-resolution result is compared with:
``tf.image.resize(..., method="bicubic")`` from 7x7 back to 28x28, clipped to [-1, 1].
"""


import numpy as np

from kgan.data.idx import load_split

#: Down/up-sampling factor.
SCALE = 4
HR_SHAPE = (28, 28, 1)
LR_SHAPE = (HR_SHAPE[0] // SCALE, HR_SHAPE[1] // SCALE, 1)
NUM_CLASSES = 10
SPLITS = ("train", "test")
SOURCE = "fashion_mnist"


def downsample(images, scale=SCALE):
    """Area downsampling of uint8 images ``(N, H, W, C)`` by ``scale``: the rounded mean of
    each ``scale x scale`` block, as uint8 ``(N, H / scale, W / scale, C)``."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] % scale or images.shape[2] % scale:
        raise ValueError(
            f"downsample needs images (N, H, W, C) with H and W divisible by {scale}; "
            f"received shape {images.shape}.")
    n, h, w, c = images.shape
    blocks = images.reshape(n, h // scale, scale, w // scale, scale, c).astype("float32")
    return np.round(blocks.mean(axis=(2, 4))).astype("uint8")


def load_arrays(split="train", data_dir=None):
    """``((low_res uint8 (N, 7, 7, 1), high_res uint8 (N, 28, 28, 1)), labels int32 (N,))``;
    TensorFlow-free."""
    if split not in SPLITS:
        raise ValueError(
            f"Unknown split {split!r} for fashion_x4; expected one of {', '.join(SPLITS)}.")
    high, labels = load_split(SOURCE, split, data_dir)
    return (downsample(high), high), np.asarray(labels, "int32")


def load(split="train", batch_size=128, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """Batches of ``(low_res, high_res)`` float32 in [-1, 1] (``(low_res, high_res, labels)``
    with int32 labels when ``labels=True``), partial batches dropped."""
    from kgan.data.batches import from_pairs

    (low, high), classes = load_arrays(split, data_dir)
    return from_pairs(low, high, classes if labels else None, batch_size, shuffle, seed, repeat)


def bicubic(low_res, size=HR_SHAPE[:2]):
    """The baseline: bicubic upsampling of float images in [-1, 1] to ``size``, clipped to
    [-1, 1] (bicubic overshoots at edges), as float32 numpy."""
    import tensorflow as tf

    up = tf.image.resize(np.asarray(low_res, "float32"), size, method="bicubic")
    return np.clip(up.numpy(), -1.0, 1.0)
