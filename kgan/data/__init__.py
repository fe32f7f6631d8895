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

Where things live: ``loading`` (``load``, ``load_arrays``, ``embedded_mnist``), ``batches``
(the in-memory pipeline: ``from_numpy``, ``from_pairs``, ``ArrayBatches``), ``folder``
(``from_folder``), ``idx`` (the numpy-only IDX reader), ``remote`` (the tensorflow_datasets
fallback), ``photos`` (the photo sets' JPEG cache and jitter), ``sets`` (one module per
derived data set, registered in ``kgan.data.sets.DERIVED_DATASETS``).
"""

from kgan.data.batches import ArrayBatches, from_numpy, from_pairs, tensorflow_available
from kgan.data.folder import IMAGE_SUFFIXES, from_folder
from kgan.data.idx import default_roots, read_idx, read_split
from kgan.data.loading import (EMBEDDED_MNIST, IMAGE_DATASETS, NUMPY_DATASETS, SPLITS,
                               dataset_names, embedded_mnist, load, load_arrays)

__all__ = ["ArrayBatches", "EMBEDDED_MNIST", "IMAGE_DATASETS", "IMAGE_SUFFIXES", "NUMPY_DATASETS",
           "SPLITS", "dataset_names", "default_roots", "embedded_mnist", "from_folder",
           "from_numpy", "from_pairs", "load", "load_arrays", "read_idx", "read_split",
           "tensorflow_available"]
