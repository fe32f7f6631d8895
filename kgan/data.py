"""Training data as ``tf.data`` pipelines of float32 images in [-1, 1] (or audio, pairs...).

Where TensorFlow cannot be imported (the JAX-only GPU machines), ``load``, ``from_numpy`` and
``from_pairs`` return an :class:`ArrayBatches` (a ``keras.utils.PyDataset`` of numpy batches)
with the same batches: float32 in [-1, 1], partial batches dropped, reshuffled every pass
through the data (seeded by ``seed``), ``(images, labels)`` with ``labels=True``, endless with
``repeat=True``. Data sets whose pipeline needs TensorFlow (captions, jittered photos,
unpaired domains, voxels, audio) raise a ``ModuleNotFoundError`` naming the data set there.

``load(name)`` looks for a local copy first, so tests and zoo recipes never download:
``data_dir``, then ``$KGAN_DATA_DIR``, then the ``shared/data`` folder beside the kgan checkout
(each holding ``<name>/`` with the original IDX ``.gz`` files), and only then
``tensorflow_datasets`` for users with a network. ``from_numpy`` and ``from_folder`` wrap
users' own images the same way.
"""

import itertools
from pathlib import Path

import numpy as np

try:
    import tensorflow as tf
except ImportError:  # JAX-only machines: numpy batches (ArrayBatches) instead of tf.data
    tf = None

# The numpy-only IDX reader lives in kgan.idx so that TensorFlow-free code (the JAX
# trainer) reads the same files; kgan.data.read_idx stays public.
from kgan.idx import IDX_FILES as _IDX_FILES
from kgan.idx import load_split
from kgan.datasets import DERIVED_DATASETS
from kgan.datasets import module as _derived
from kgan.idx import default_roots, read_idx, read_split  # noqa: F401  (public here too)

IMAGE_DATASETS = ("mnist", "fashion_mnist")
SPLITS = tuple(_IDX_FILES)



def dataset_names():
    """Every name ``load`` accepts: the raw image sets and ``kgan.datasets``' derived ones."""
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
    if name not in DERIVED_DATASETS or not hasattr(_derived(name), "DOMAINS"):
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
        return _derived(name).load_arrays(split, data_dir, **_domain_kwargs(name, domain))
    _domain_kwargs(name, domain)
    return load_split(name, split, data_dir)


def _to_signed_unit(images):
    if tf is None:
        return np.asarray(images, "float32") / np.float32(127.5) - np.float32(1.0)
    return tf.cast(images, "float32") / 127.5 - 1.0


def _identity(x):
    return x


#: The data sets whose numpy batches :class:`ArrayBatches` gives without TensorFlow.
NUMPY_DATASETS = IMAGE_DATASETS + ("fashion_mnist_32", "cifar10", "cifar10_10pct",
                                   "edges2fashion", "fashion_x4")


def tensorflow_available():
    """Whether ``import tensorflow`` works (False on the JAX-only GPU machines)."""
    return tf is not None


def _require_tensorflow(what):
    if tf is None:
        raise ModuleNotFoundError(
            f"{what} needs TensorFlow (a tf.data pipeline), and `import tensorflow` fails "
            f"here. Without TensorFlow kgan.data.load gives numpy batches of "
            f"{', '.join(NUMPY_DATASETS)}; for the others install tensorflow (e.g. train "
            f"with `pip install tensorflow-cpu` and KERAS_BACKEND=jax), or pass numpy "
            f"arrays from load_arrays to fit.")


try:
    from keras.utils import PyDataset as _PyDataset
except ImportError:  # pragma: no cover - Keras 3 always has it
    _PyDataset = object


class ArrayBatches(_PyDataset):
    """Batches of in-memory arrays as a ``keras.utils.PyDataset``: the TensorFlow-free twin of
    the ``tf.data`` pipeline of :func:`from_numpy` / :func:`from_pairs`.

    ``arrays`` (a tuple, ``n`` examples each) are sliced to ``batch_size`` examples per batch,
    partial batches dropped, and ``scale`` (a function of the batch's components returning
    them) is applied to each batch. A single array gives plain arrays, several give tuples.
    With ``shuffle`` each pass through the data has its own permutation, drawn from
    ``(seed, pass)`` (a random seed when ``seed`` is None), so runs with a seed repeat
    exactly. ``repeat=True`` makes it endless (``num_batches`` None): batch ``i`` is then
    batch ``i % len`` of pass ``i // len``; otherwise a new pass starts whenever batch 0 is
    asked for again (Keras' next epoch).
    """

    def __init__(self, arrays, batch_size, scale=None, shuffle=True, seed=None, repeat=False):
        super().__init__()
        self.arrays = tuple(arrays)
        self.n = len(self.arrays[0])
        self.batch_size = batch_size
        self.scale = scale
        self.shuffle = shuffle
        self.seed = int(np.random.SeedSequence().entropy % 2**32) if seed is None else seed
        self.repeat = repeat
        self.batches_per_pass = self.n // batch_size
        self._pass = -1
        self._order = None

    @property
    def num_batches(self):
        return None if self.repeat else self.batches_per_pass

    def __len__(self):
        if self.repeat:
            raise TypeError("A repeated ArrayBatches is endless; it has no len().")
        return self.batches_per_pass

    def _order_of(self, pass_index):
        if self._pass != pass_index:
            self._pass = pass_index
            self._order = (np.random.default_rng([self.seed, pass_index]).permutation(self.n)
                           if self.shuffle else None)
        return self._order

    def __getitem__(self, index):
        if self.repeat:
            pass_index, index = divmod(index, self.batches_per_pass)
        elif not 0 <= index < self.batches_per_pass:
            raise IndexError(f"batch {index} of {self.batches_per_pass}")
        else:
            pass_index = self._pass + 1 if index == 0 or self._pass < 0 else self._pass
        order = self._order_of(pass_index)
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        if order is not None:
            rows = np.sort(order[rows])
        batch = tuple(a[rows] for a in self.arrays)
        if self.scale is not None:
            batch = tuple(self.scale(*batch)) if len(batch) > 1 else (self.scale(batch[0]),)
        return batch[0] if len(batch) == 1 else batch

    def __iter__(self):
        """One pass (endless when repeated), as ``tf.data`` iterates."""
        for i in range(self.batches_per_pass) if not self.repeat else itertools.count():
            yield self[i]


def from_pairs(sources, targets, labels=None, batch_size=128, shuffle=True, seed=None,
               repeat=False):
    """Batches of ``(source, target)`` image pairs, uint8 scaled to float32 [-1, 1], plus the
    int32 ``labels`` when given: ``(source, target, labels)``; partial batches dropped. The
    pipeline of the paired data sets (``edges2fashion``, ``fashion_x4``)."""
    if not isinstance(batch_size, int) or not 1 <= batch_size <= len(sources):
        raise ValueError(
            f"batch_size must be an integer in [1, {len(sources)}]; received {batch_size!r}.")
    tensors = (sources, targets) + ((labels,) if labels is not None else ())

    def scale(*batch):
        return tuple(_to_signed_unit(x) for x in batch[:2]) + batch[2:]

    return _batched(tensors, len(sources), scale, batch_size, shuffle, seed, repeat)


def _batched(tensors, n, scale, batch_size, shuffle, seed, repeat):
    """The pipeline every in-memory data set shares: slice ``tensors`` (``n`` examples),
    reshuffle each epoch, optionally repeat, batch without partial batches (every step, and
    every replica, sees the same batch size), then ``scale`` each batch (a function of the
    batch's components) in parallel and prefetch."""
    if tf is None:
        arrays = tensors if isinstance(tensors, tuple) else (tensors,)
        return ArrayBatches(arrays, batch_size, scale, shuffle, seed, repeat)
    ds = tf.data.Dataset.from_tensor_slices(tensors)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.map(scale, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def from_numpy(images, labels=None, batch_size=128, shuffle=True, seed=None, repeat=False):
    """A dataset of batches from arrays of images (uint8 [0, 255] or float [-1, 1]).

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, C)``; uint8 pixels are scaled to [-1, 1].
        labels: optional ``(N,)`` integer classes; batches are then ``(images, labels)``.
        batch_size: examples per batch; the last partial batch is dropped so every step
            sees the same batch size (needed for multi-replica training).
        shuffle: reshuffle every epoch (seeded by ``seed``).
        repeat: repeat forever (then pass ``steps_per_epoch`` to ``fit``).
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"images must have shape (N, H, W) or (N, H, W, C) with C in 1/3/4; "
            f"received {images.shape}."
        )
    if len(images) == 0:
        raise ValueError("images is empty: give at least one image.")
    if images.dtype == np.uint8:
        scale = _to_signed_unit
    elif np.issubdtype(images.dtype, np.floating):
        if images.min() < -1.0001 or images.max() > 1.0001:
            raise ValueError(
                f"Float images must be in [-1, 1]; received [{images.min():.3g}, "
                f"{images.max():.3g}]. Pass uint8 pixels, or scale with x / 127.5 - 1."
            )
        images = images.astype("float32")
        scale = tf.identity if tf is not None else _identity
    else:
        raise ValueError(f"images must be uint8 or float; received dtype {images.dtype}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; received {batch_size!r}.")
    if batch_size > len(images):
        raise ValueError(
            f"batch_size={batch_size} exceeds the {len(images)} images, and partial batches "
            "are dropped: use a smaller batch_size."
        )
    if labels is None:
        return _batched(images, len(images), scale, batch_size, shuffle, seed, repeat)
    labels = np.asarray(labels).astype("int32").reshape(-1)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels.")
    return _batched((images, labels), len(images), lambda x, y: (scale(x), y), batch_size,
                    shuffle, seed, repeat)


#: 1,000 MNIST test images inside the package (kgan/assets/README.md).
EMBEDDED_MNIST = Path(__file__).resolve().parent / "assets" / "mnist_test_1000.npz"


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
        name: ``"mnist"``, ``"fashion_mnist"`` or one of ``kgan.datasets.DERIVED_DATASETS``.
        split: ``"train"`` or ``"test"`` (``facades`` also has ``"val"``).
        batch_size: images per batch (partial batches dropped).
        data_dir: folder holding ``<name>/`` with the IDX files; see module doc for the
            other places searched.
        labels: yield ``(images, labels)`` with int32 labels (conditional models need it).
        shuffle, seed, repeat: see :func:`from_numpy`.
        domain: one domain of an unpaired set (``"A"`` horses / ``"B"`` zebras of
            ``horse2zebra``); None gives its unpaired ``(a_batch, b_batch)`` for CycleGAN.

    Example:
        >>> ds = kgan.data.load("mnist", batch_size=64, labels=True)
        >>> horses = kgan.data.load("horse2zebra", "test", batch_size=8, domain="A")
    """
    _check_name(name, data_dir)
    if tf is None and name not in NUMPY_DATASETS:
        _require_tensorflow(f"kgan.data.load({name!r})")
    if name in DERIVED_DATASETS:
        return _derived(name).load(split=split, batch_size=batch_size, data_dir=data_dir,
                                   labels=labels, shuffle=shuffle, seed=seed, repeat=repeat,
                                   **_domain_kwargs(name, domain))
    images, classes = load_arrays(name, split, data_dir, domain)
    return from_numpy(images, classes if labels else None, batch_size, shuffle, seed, repeat)


#: Image files ``from_folder`` reads (what ``keras.utils.image_dataset_from_directory`` decodes).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def from_folder(path, image_size, channels=3, batch_size=128, shuffle=True, seed=None):
    """Users' own images from a folder (searched recursively), resized to ``image_size``.

    Args:
        path: folder of PNG / JPEG / BMP / GIF files (sub-folders included).
        image_size: ``(height, width)``, or one int for square images.
        channels: 1 (grayscale), 3 (RGB) or 4 (RGBA); images are converted to it.
        batch_size, shuffle, seed: as in :func:`from_numpy` (partial batches dropped).

    Returns:
        A ``tf.data.Dataset`` of float32 ``(batch, H, W, channels)`` batches in [-1, 1].
    """
    _require_tensorflow("kgan.data.from_folder")
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"Image folder {path} does not exist.")
    if channels not in (1, 3, 4):
        raise ValueError(f"channels must be 1, 3 or 4; received {channels!r}.")
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(f"image_size must be a positive int or (height, width); received "
                         f"{image_size!r}.")
    count = sum(1 for f in path.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    if count < batch_size:
        raise ValueError(f"{path} holds {count} images ({', '.join(IMAGE_SUFFIXES)}), fewer "
                         f"than one batch of {batch_size}: add images or lower batch_size.")
    import keras

    color_mode = {1: "grayscale", 3: "rgb", 4: "rgba"}[channels]
    ds = keras.utils.image_dataset_from_directory(
        path, labels=None, color_mode=color_mode, batch_size=batch_size,
        image_size=size, shuffle=shuffle, seed=seed, verbose=False,
    )
    ds = ds.unbatch().batch(batch_size, drop_remainder=True)
    return ds.map(_to_signed_unit, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
