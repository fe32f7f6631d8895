"""``fashion_captions`` at StackGAN's two resolutions: 32x32 here, 16x16 in ``fashion_captions_16``.

StackGAN (``kgan.models.stackgan``) doubles the resolution from stage I to stage II, so it
needs power-of-two sizes. The 28x28 garments are padded with a 2-pixel black border to 32x32
(stage II's images; as for ``fashion_mnist_32``, ``kgan.metrics`` crops the border back off
before the 28x28 classifier), and that 32x32 frame averaged over 2x2 blocks gives 16x16
(stage I's images), so a stage-I image is exactly stage II's target at half resolution.
Captions, labels and attributes are ``fashion_captions``' (measured on the 28x28 originals).
"""

import numpy as np

from kgan.data.sets import fashion_captions

#: Pixels of padding on each side of the 28x28 garments (28 + 2 * PAD = 32).
PAD = 2
SIZE = 32
SOURCE = fashion_captions.SOURCE
CLASSIFIER_DATASET = fashion_captions.CLASSIFIER_DATASET
NUM_CLASSES = fashion_captions.NUM_CLASSES
SPLITS = fashion_captions.SPLITS
#: Supported sizes: the padded frame and its 2x2-block average.
SIZES = (32, 16)


def _check_size(size):
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}; received {size!r}.")


def frame(images, size=SIZE):
    """uint8 ``(N, 28, 28, 1)`` garments -> uint8 ``(N, size, size, 1)``: padded to 32x32
    with black, then (size 16) averaged over 2x2 blocks."""
    _check_size(size)
    images = np.pad(np.asarray(images), ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))
    if size == 16:
        n, h, w, c = images.shape
        images = images.reshape(n, h // 2, 2, w // 2, 2, c).mean((2, 4)).round()
    return images.astype("uint8")


def load_arrays(split="train", data_dir=None, size=SIZE):
    """``fashion_captions.load_arrays`` with the images framed to ``size`` (see :func:`frame`)."""
    arrays = fashion_captions.load_arrays(split, data_dir)
    return {**arrays, "images": frame(arrays["images"], size)}


def load(split="train", batch_size=128, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False, size=SIZE):
    """``fashion_captions.load`` batches with the images framed to ``size`` in the pipeline:
    ``(images float32 [-1, 1] (B, size, size, 1), captions)`` (plus labels when asked)."""
    import tensorflow as tf

    _check_size(size)
    ds = fashion_captions.load(split, batch_size, data_dir, labels, shuffle, seed, repeat)

    def resize(images, *rest):
        images = tf.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)), constant_values=-1.0)
        if size == 16:
            images = tf.nn.avg_pool2d(images, 2, 2, "VALID")
        return (images, *rest)

    return ds.map(resize, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
