"""horse2zebra's two domains as one labelled set (0 horse, 1 zebra): what the project's
horse / zebra classifier trains on, the judge of ``cyclegan_horse2zebra``'s translations
(``kgan.evaluation.translation.domain_transfer_scores``). Splits are horse2zebra's own.
"""

import numpy as np

from kgan.data.sets import horse2zebra

SPLITS = horse2zebra.SPLITS
CLASS_NAMES = tuple(horse2zebra.DOMAIN_NAMES[d] for d in horse2zebra.DOMAINS)


def load_arrays(split="train", data_dir=None):
    """``(images uint8 (N, 256, 256, 3), labels int32 (N,))``: the horses, then the zebras."""
    parts = [horse2zebra.load_arrays(split, data_dir, domain) for domain in horse2zebra.DOMAINS]
    return (np.concatenate([images for images, _ in parts]),
            np.concatenate([labels for _, labels in parts]))


def load(split="train", batch_size=32, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """The ``tf.data`` pipeline of ``kgan.data.load("horse2zebra_domains", ...)``."""
    from kgan.data.batches import from_numpy

    images, classes = load_arrays(split, data_dir)
    return from_numpy(images, classes if labels else None, batch_size, shuffle, seed, repeat)
