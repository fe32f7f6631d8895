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
    "spoken_digits": "kgan.datasets.spoken_digits",
    "spoken_digits_spectrogram": "kgan.datasets.spoken_digits_spectrogram",
    "fashion_mnist_32": "kgan.datasets.fashion_mnist_32",
    "sneaker2boot": "kgan.datasets.sneaker2boot",
    "fashion_x4": "kgan.datasets.fashion_x4",
    "edges2fashion": "kgan.datasets.edges2fashion",
    "fashion_captions": "kgan.datasets.fashion_captions",
    "shapes3d_32": "kgan.datasets.shapes3d_32",
    "fashion_captions_32": "kgan.datasets.fashion_captions_32",
    "fashion_captions_16": "kgan.datasets.fashion_captions_16",
    "cifar10": "kgan.datasets.cifar10",
    "cifar10_10pct": "kgan.datasets.cifar10_10pct",
    "facades": "kgan.datasets.facades",
    "horse2zebra": "kgan.datasets.horse2zebra",
}


def module(name):
    """The module that builds derived data set ``name``."""
    return importlib.import_module(DERIVED_DATASETS[name])
