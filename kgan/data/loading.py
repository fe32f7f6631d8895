"""``load`` and ``load_arrays``: the named data sets (the raw IDX sets and ``kgan.data.sets``),
and the MNIST digits shipped inside the package (``embedded_mnist``)."""

from pathlib import Path

import numpy as np

from kgan.data.batches import from_numpy, tensorflow_available
from kgan.data.idx import IDX_FILES, load_split
from kgan.data.sets import DERIVED_DATASETS
from kgan.data.sets import module as derived_module

IMAGE_DATASETS = ("mnist", "fashion_mnist")
SPLITS = tuple(IDX_FILES)


def dataset_names():
    """Every name ``load`` accepts: the raw image sets and ``kgan.data.sets``' derived ones."""
    return IMAGE_DATASETS + tuple(DERIVED_DATASETS)


def _check_name(name, data_dir=None):
    if name not in dataset_names():
        raise ValueError(f"Unknown data set {name!r}; expected one of {', '.join(dataset_names())}.")
    if data_dir is not None and not Path(data_dir).is_dir():
        raise FileNotFoundError(f"data_dir {data_dir} is not a folder; pass the folder that "
                                f"holds {name}/, or leave data_dir out to use the defaults.")


def _domain_kwargs(name, domain):
    """``{"domain": domain}`` for two-domain data sets that take one (their module lists
    ``DOMAINS``), ``{}`` when ``domain`` is None; anything else raises a ``ValueError``."""
    if domain is None:
        return {}
    if name not in DERIVED_DATASETS or not hasattr(derived_module(name), "DOMAINS"):
        raise ValueError(f"{name!r} has no domains; domain= applies to unpaired two-domain "
                         "data sets such as 'horse2zebra'.")
    return {"domain": domain}


def load_arrays(name, split="train", data_dir=None, domain=None):
    """Returns ``(images uint8 (N, H, W, C), labels int32 (N,))`` from local files or tfds.

    Derived data sets return their module's arrays (see ``DERIVED_DATASETS``); ``domain``
    picks one domain of an unpaired set (``"A"`` / ``"B"`` of ``horse2zebra``).
    """
    _check_name(name, data_dir)
    if name in DERIVED_DATASETS:
        return derived_module(name).load_arrays(split, data_dir, **_domain_kwargs(name, domain))
    _domain_kwargs(name, domain)
    return load_split(name, split, data_dir)


#: The data sets whose numpy batches :class:`ArrayBatches` gives without TensorFlow.
NUMPY_DATASETS = IMAGE_DATASETS + ("fashion_mnist_32", "cifar10", "cifar10_10pct",
                                   "edges2fashion", "fashion_x4", "photos_x4")


def require_tensorflow(what):
    """Raises a ``ModuleNotFoundError`` saying that ``what`` needs TensorFlow, where
    ``import tensorflow`` fails (and what works without it)."""
    if not tensorflow_available():
        raise ModuleNotFoundError(
            f"{what} needs TensorFlow (a tf.data pipeline), and `import tensorflow` fails "
            f"here. Without TensorFlow kgan.data.load gives numpy batches of "
            f"{', '.join(NUMPY_DATASETS)}; for the others install tensorflow (e.g. train "
            f"with `pip install tensorflow-cpu` and KERAS_BACKEND=jax), or pass numpy "
            f"arrays from load_arrays to fit.")


#: 1,000 MNIST test images inside the package (kgan/assets/README.md).
EMBEDDED_MNIST = Path(__file__).resolve().parents[1] / "assets" / "mnist_test_1000.npz"


def embedded_mnist(batch_size=128, labels=False, seed=None):
    """Batches of the 1,000 MNIST test digits shipped with kgan: data for the quick start on
    a machine with neither a local copy nor a network (too few to train a model on)."""
    with np.load(EMBEDDED_MNIST) as f:
        images, classes = f["images"], f["labels"].astype("int32")
    return from_numpy(images, classes if labels else None, batch_size, seed=seed, repeat=True)


def load(name, split="train", batch_size=128, data_dir=None, labels=False, shuffle=True,
         seed=None, repeat=False, domain=None):
    """Loads a named data set as batches of float32 images in [-1, 1] (NHWC).

    Args:
        name: ``"mnist"``, ``"fashion_mnist"`` or one of ``kgan.data.sets.DERIVED_DATASETS``.
        split: ``"train"`` or ``"test"`` (``facades`` also has ``"val"``).
        batch_size: images per batch (partial batches dropped).
        data_dir: folder holding ``<name>/`` with the IDX files; see :mod:`kgan.data` for
            the other places searched.
        labels: yield ``(images, labels)`` with int32 labels (conditional models need it).
        shuffle, seed, repeat: see :func:`from_numpy`.
        domain: one domain of an unpaired set (``"A"`` horses / ``"B"`` zebras of
            ``horse2zebra``); None gives its unpaired ``(a_batch, b_batch)`` for CycleGAN.

    Example:
        >>> ds = kgan.data.load("mnist", batch_size=64, labels=True)
        >>> horses = kgan.data.load("horse2zebra", "test", batch_size=8, domain="A")
    """
    _check_name(name, data_dir)
    if not tensorflow_available() and name not in NUMPY_DATASETS:
        require_tensorflow(f"kgan.data.load({name!r})")
    if name in DERIVED_DATASETS:
        return derived_module(name).load(split=split, batch_size=batch_size, data_dir=data_dir,
                                         labels=labels, shuffle=shuffle, seed=seed,
                                         repeat=repeat, **_domain_kwargs(name, domain))
    images, classes = load_arrays(name, split, data_dir, domain)
    return from_numpy(images, classes if labels else None, batch_size, shuffle, seed, repeat)
