"""Data sets built from the raw ones in ``../shared/data`` (or read from their own files).

One module per data set, registered in ``DERIVED_DATASETS``. Each exposes

* ``load_arrays(split, data_dir)``: numpy arrays, TensorFlow-free, so the JAX trainer on a
  machine without TensorFlow reads the same data (import TensorFlow inside ``load`` only);
* ``load(split, batch_size, data_dir, labels, shuffle, seed, repeat)``: the ``tf.data``
  pipeline behind ``kgan.data.load(name, ...)``.
"""

import importlib

#: name -> module path.
DERIVED_DATASETS = {
    "spoken_digits": "kgan.data.sets.spoken_digits",
    "spoken_digits_spectrogram": "kgan.data.sets.spoken_digits_spectrogram",
    "fashion_mnist_32": "kgan.data.sets.fashion_mnist_32",
    "sneaker2boot": "kgan.data.sets.sneaker2boot",
    "fashion_x4": "kgan.data.sets.fashion_x4",
    "edges2fashion": "kgan.data.sets.edges2fashion",
    "fashion_captions": "kgan.data.sets.fashion_captions",
    "shapes3d_32": "kgan.data.sets.shapes3d_32",
    "fashion_captions_32": "kgan.data.sets.fashion_captions_32",
    "fashion_captions_16": "kgan.data.sets.fashion_captions_16",
    "cifar10": "kgan.data.sets.cifar10",
    "cifar10_10pct": "kgan.data.sets.cifar10_10pct",
    "facades": "kgan.data.sets.facades",
    "horse2zebra": "kgan.data.sets.horse2zebra",
    "horse2zebra_domains": "kgan.data.sets.horse2zebra_domains",
    "photos_x4": "kgan.data.sets.photos_x4",
}


def module(name):
    """The module that builds derived data set ``name``."""
    return importlib.import_module(DERIVED_DATASETS[name])
