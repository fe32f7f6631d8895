"""``photos_x4``: colour photo crops at 32x32 paired with their 128x128 originals, for x4
super-resolution (``srgan_photos_x4``).

The high-resolution images are the four 128x128 quarters of every 256x256 photo of the
two photo sets on disk: the facade photos of ``facades`` (not their label maps) and the
horses and zebras of ``horse2zebra``. Train / test keep those sets' own splits, so no
test photo is ever seen in training: 400 + 534 + 667 train photos (6,404 crops) and
106 + 120 + 140 test photos (1,464 crops). The low-resolution image of each crop is its
**area** downsampling by 4 (``fashion_x4.downsample``: the rounded mean of each 4x4 block,
as a real 32x32 thumbnail). ``labels`` say where a crop comes from: 0 facade, 1 horse,
2 zebra.

:func:`bicubic` is the baseline every result is compared with: ``tf.image.resize(...,
method="bicubic")`` from 32x32 back to 128x128, clipped to [-1, 1]. The generators are
fully convolutional, so a model trained on these crops upsamples whole photos of any size.
"""

import numpy as np

from kgan.data.sets import facades, fashion_x4, horse2zebra

SCALE = 4
HR_SHAPE = (128, 128, 3)
LR_SHAPE = (HR_SHAPE[0] // SCALE, HR_SHAPE[1] // SCALE, 3)
SPLITS = ("train", "test")
#: Where each crop comes from, in ``labels``.
SOURCES = ("facade", "horse", "zebra")


def quarters(images, size=HR_SHAPE[0]):
    """uint8 ``(N, 2 size, 2 size, C)`` -> ``(4 N, size, size, C)``: each image's top-left,
    top-right, bottom-left and bottom-right quarter, image by image."""
    n, h, w, c = images.shape
    if (h, w) != (2 * size, 2 * size):
        raise ValueError(f"quarters needs images of {2 * size}x{2 * size}; received {h}x{w}.")
    blocks = images.reshape(n, 2, size, 2, size, c).transpose(0, 1, 3, 2, 4, 5)
    return blocks.reshape(4 * n, size, size, c)


def source_photos(split="train", data_dir=None):
    """``(photos uint8 (N, 256, 256, 3), labels int32 (N,))`` of ``split``: facades' photos,
    then horse2zebra's horses and zebras."""
    if split not in SPLITS:
        raise ValueError(
            f"Unknown split {split!r} for photos_x4; expected one of {', '.join(SPLITS)}.")
    (_, facade_photos), _ = facades.load_arrays(split, data_dir)
    horses, _ = horse2zebra.load_arrays(split, data_dir, domain="A")
    zebras, _ = horse2zebra.load_arrays(split, data_dir, domain="B")
    groups = (facade_photos, horses, zebras)
    labels = np.concatenate([np.full(len(g), k, "int32") for k, g in enumerate(groups)])
    return np.concatenate(groups), labels


def load_arrays(split="train", data_dir=None):
    """``((low_res uint8 (N, 32, 32, 3), high_res uint8 (N, 128, 128, 3)), labels int32
    (N,))``; TensorFlow-free."""
    photos, labels = source_photos(split, data_dir)
    high = quarters(photos)
    return (fashion_x4.downsample(high, SCALE), high), np.repeat(labels, 4)


def load(split="train", batch_size=16, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """Batches of ``(low_res, high_res)`` float32 in [-1, 1] (``(low_res, high_res, labels)``
    with ``labels=True``), partial batches dropped."""
    from kgan.data.batches import from_pairs

    (low, high), classes = load_arrays(split, data_dir)
    return from_pairs(low, high, classes if labels else None, batch_size, shuffle, seed, repeat)


def bicubic(low_res, size=HR_SHAPE[:2]):
    """The baseline: bicubic upsampling of float images in [-1, 1] to ``size``, clipped."""
    return fashion_x4.bicubic(low_res, size)
