"""``fashion_captions_16``: ``fashion_captions_32`` averaged over 2x2 blocks, StackGAN's stage I
images (see ``kgan.data.sets.fashion_captions_32``)."""

from kgan.data.sets import fashion_captions_32 as _framed
from kgan.data.sets.fashion_captions_32 import (  # noqa: F401  (this data set's facts)
    CLASSIFIER_DATASET, NUM_CLASSES, SOURCE, SPLITS)

SIZE = 16


def load_arrays(split="train", data_dir=None):
    """``fashion_captions.load_arrays`` with 16x16 images."""
    return _framed.load_arrays(split, data_dir, size=SIZE)


def load(split="train", batch_size=128, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """``(images float32 [-1, 1] (B, 16, 16, 1), captions)`` batches (plus labels when asked)."""
    return _framed.load(split, batch_size, data_dir, labels, shuffle, seed, repeat, size=SIZE)
