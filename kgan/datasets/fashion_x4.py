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

from pathlib import Path

import numpy as np

from kgan.idx import IDX_FILES, default_roots, read_split

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
    roots = ([Path(data_dir)] if data_dir else []) + default_roots()
    folder = next((r / SOURCE for r in roots if all(
        (r / SOURCE / f).exists() for f in IDX_FILES[split])), None)
    if folder is not None:
        high, labels = read_split(folder, split)
    else:  # tensorflow_datasets, for users with a network (imports TensorFlow)
        from kgan.data import load_arrays as load_raw

        high, labels = load_raw(SOURCE, split, data_dir)
    return (downsample(high), high), np.asarray(labels, "int32")


def load(split="train", batch_size=128, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """Batches of ``(low_res, high_res)`` float32 in [-1, 1] (``(low_res, high_res, labels)``
    with int32 labels when ``labels=True``), partial batches dropped."""
    import tensorflow as tf

    (low, high), classes = load_arrays(split, data_dir)
    if not isinstance(batch_size, int) or not 1 <= batch_size <= len(low):
        raise ValueError(
            f"batch_size must be an integer in [1, {len(low)}]; received {batch_size!r}.")
    ds = tf.data.Dataset.from_tensor_slices((low, high, classes) if labels else (low, high))
    if shuffle:
        ds = ds.shuffle(len(low), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=True)

    def scale(*batch):
        return tuple(tf.cast(x, "float32") / 127.5 - 1.0 for x in batch[:2]) + batch[2:]

    return ds.map(scale, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def bicubic(low_res, size=HR_SHAPE[:2]):
    """The baseline: bicubic upsampling of float images in [-1, 1] to ``size``, clipped to
    [-1, 1] (bicubic overshoots at edges), as float32 numpy."""
    import tensorflow as tf

    up = tf.image.resize(np.asarray(low_res, "float32"), size, method="bicubic")
    return np.clip(up.numpy(), -1.0, 1.0)
