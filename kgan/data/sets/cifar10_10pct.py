"""10 % of CIFAR-10's training set (5,000 images, the first 500 of each class in the
official order): the small-data benchmark of DiffAugment (Zhao et al. 2020) and ADA (Karras
et al. 2020). Its test split is CIFAR-10's whole test split, which is also what its models
are scored against (``kgan.evaluation.images.SUBSET_OF``).
"""

import numpy as np

from kgan.data.sets import cifar10

SPLITS = cifar10.SPLITS
#: Training images kept per class.
PER_CLASS = 500


def load_arrays(split="train", data_dir=None):
    """``(images uint8 (N, 32, 32, 3), labels int32 (N,))``: 5,000 train images, or the
    10,000 test images."""
    images, labels = cifar10.load_arrays(split, data_dir)
    if split == "test":
        return images, labels
    keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:PER_CLASS]
                                   for c in range(len(cifar10.CLASS_NAMES))]))
    return images[keep], labels[keep]


def load(split="train", batch_size=128, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """The ``tf.data`` pipeline of ``kgan.data.load("cifar10_10pct", ...)``."""
    from kgan.data.batches import from_numpy

    images, classes = load_arrays(split, data_dir)
    return from_numpy(images, classes if labels else None, batch_size, shuffle, seed, repeat)
