"""Batches of in-memory arrays: float32 images in [-1, 1] (and their labels or pairs).

The one pipeline every in-memory data set shares (``from_numpy``, ``from_pairs``): a
``tf.data.Dataset``, or where TensorFlow cannot be imported (the JAX-only GPU machines) an
:class:`ArrayBatches` (a ``keras.utils.PyDataset`` of numpy batches) with the same batches.
"""

import itertools

import numpy as np

try:
    import tensorflow as tf
except ImportError:  # JAX-only machines: numpy batches (ArrayBatches) instead of tf.data
    tf = None


def tensorflow_available():
    """Whether ``import tensorflow`` works (False on the JAX-only GPU machines)."""
    return tf is not None


def to_signed_unit(images):
    """uint8 pixels [0, 255] as float32 [-1, 1] (a tensor with TensorFlow, else numpy)."""
    if tf is None:
        return np.asarray(images, "float32") / np.float32(127.5) - np.float32(1.0)
    return tf.cast(images, "float32") / 127.5 - 1.0


def _identity(x):
    return x


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
        return tuple(to_signed_unit(x) for x in batch[:2]) + batch[2:]

    return batched(tensors, len(sources), scale, batch_size, shuffle, seed, repeat)


def batched(tensors, n, scale, batch_size, shuffle, seed, repeat):
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
        scale = to_signed_unit
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
        return batched(images, len(images), scale, batch_size, shuffle, seed, repeat)
    labels = np.asarray(labels).astype("int32").reshape(-1)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels.")
    return batched((images, labels), len(images), lambda x, y: (scale(x), y), batch_size,
                   shuffle, seed, repeat)

