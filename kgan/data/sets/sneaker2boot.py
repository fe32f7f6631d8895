"""``sneaker2boot``: unpaired Fashion-MNIST sneakers (domain A) and ankle boots (domain B).

The two domains of the CycleGAN zoo entry ``cyclegan_sneaker2boot``: domain A holds the
Fashion-MNIST images of class 7 ("Sneaker"), domain B those of class 9 ("Ankle boot"),
6,000 of each in the train split and 1,000 of each in the test split. Each split is drawn
from the matching Fashion-MNIST split, so train and test stay apart.

The data are *unpaired*: no sneaker belongs to any boot. ``load`` yields ``(a_batch,
b_batch)`` where the two batches come from two pipelines shuffled independently (with
seeds ``seed`` and ``seed + 1``), so which sneaker meets which boot changes every epoch and
carries no information. With a seed the order is deterministic.

Example:
    >>> ds = kgan.data.load("sneaker2boot", batch_size=16, seed=0)
    >>> a, b = next(iter(ds))          # float32 (16, 28, 28, 1) each, in [-1, 1]
"""

import numpy as np

from kgan.data.idx import load_split

#: Fashion-MNIST class of each domain.
DOMAIN_CLASSES = {"a": 7, "b": 9}
DOMAIN_NAMES = {"a": "sneaker", "b": "ankle boot"}
SOURCE = "fashion_mnist"
#: The project classifier that judges translations (``kgan.evaluation.classifiers``).
CLASSIFIER_DATASET = SOURCE


def domains(split="train", data_dir=None):
    """``(a, b)``: uint8 ``(N, 28, 28, 1)`` sneakers and ankle boots of ``split``."""
    images, labels = load_split(SOURCE, split, data_dir)
    return tuple(images[labels == DOMAIN_CLASSES[d]] for d in ("a", "b"))


def classifier_view(images):
    """The images as the Fashion-MNIST classifier takes them (already 28x28)."""
    return images


def load_arrays(split="train", data_dir=None):
    """``((a, b) uint8 (N, 28, 28, 1) each, labels int32 (N,))``, TensorFlow-free: the
    two-domain layout of ``kgan.data.sets`` (pix2pix's sets pair ``a[i]`` with ``b[i]``; here
    the rows are unrelated, both domains having N images in each split). ``labels`` are
    B's Fashion-MNIST class (9, ankle boot) for every row: the class ``a2b`` outputs
    should have."""
    a, b = domains(split, data_dir)
    return (a, b), np.full(len(a), DOMAIN_CLASSES["b"], "int32")


def load(split="train", batch_size=128, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """``tf.data`` pipeline of unpaired ``(a_batch, b_batch)`` float32 batches in [-1, 1].

    Each domain is batched on its own (partial batches dropped) and the two are zipped, so
    an epoch has ``min(len(a), len(b)) // batch_size`` steps (46 at batch 128 on train).

    Args:
        split: ``"train"`` or ``"test"``.
        batch_size: images per batch in each domain.
        data_dir: folder holding ``fashion_mnist/`` (see ``kgan.data.load``).
        labels: must be False: the domains are the labels, and the batches carry none.
        shuffle: reshuffle each domain every epoch, independently.
        seed: seeds domain A's shuffle with ``seed`` and B's with ``seed + 1``.
        repeat: repeat forever (pass ``steps_per_epoch`` to ``fit``).
    """
    if labels:
        raise ValueError(
            "sneaker2boot batches are unpaired (a_batch, b_batch) image pairs without class "
            "labels (the domain is the label); load it with labels=False.")
    from kgan.data.batches import from_numpy

    a, b = domains(split, data_dir)
    pipelines = [
        from_numpy(x, batch_size=batch_size, shuffle=shuffle, repeat=repeat,
                   seed=None if seed is None else seed + offset)
        for offset, x in enumerate((a, b))
    ]
    import tensorflow as tf

    return tf.data.Dataset.zip(tuple(pipelines))
