"""Reading IDX files (MNIST, Fashion-MNIST) with numpy alone.

Kept apart from the pipelines (:mod:`kgan.data.batches`, which may import TensorFlow) so that
code without TensorFlow (``kgan.data``'s numpy batches on the JAX-only GPU machines, the derived
data sets' ``load_arrays``) reads the same files with the same checks. Only the network fallback
(:mod:`kgan.data.remote`, tensorflow_datasets) imports TensorFlow, when no local copy exists.
"""

import gzip
import os
from pathlib import Path

import numpy as np

#: Local IDX file names per split, as distributed by the data sets' authors.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def read_idx(path):
    """Reads an IDX file (optionally gzipped) into a numpy array, checking its header."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"Cannot read IDX file {path}: {err}. Is it truncated?") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (bad magic number).")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(dims))
    if len(raw) != expected:
        raise ValueError(
            f"{path} holds {len(raw)} bytes but its header {dims} needs {expected}: "
            "the file is truncated or corrupt."
        )
    return np.frombuffer(raw, np.uint8, offset=offset).reshape(dims)


def default_roots():
    """Folders searched for ``<name>/`` after ``data_dir``: env var, then the shared folder."""
    roots = []
    if os.environ.get("KGAN_DATA_DIR"):
        roots.append(Path(os.environ["KGAN_DATA_DIR"]))
    checkout = Path(__file__).resolve().parents[2]
    roots += [checkout.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    return roots


def read_split(folder, split="train"):
    """``(images uint8 (N, H, W, 1), labels int32 (N,))`` from ``folder``'s IDX files."""
    if split not in IDX_FILES:
        raise ValueError(f"Unknown split {split!r}; expected one of {', '.join(IDX_FILES)}.")
    folder = Path(folder)
    image_file, label_file = IDX_FILES[split]
    for f in (image_file, label_file):
        if not (folder / f).exists():
            raise FileNotFoundError(f"{folder / f} does not exist (expected the IDX .gz files).")
    images = read_idx(folder / image_file)[..., None]
    labels = read_idx(folder / label_file).astype("int32")
    if len(images) != len(labels):
        raise ValueError(f"{folder}: {len(images)} images but {len(labels)} labels.")
    return images, labels


def load_split(name, split="train", data_dir=None):
    """``(images, labels)`` of raw data set ``name`` ("mnist", "fashion_mnist"): the local IDX
    files under ``data_dir`` or :func:`default_roots`, else tensorflow_datasets for users with
    a network (only that fallback imports TensorFlow)."""
    if split not in IDX_FILES:
        raise ValueError(
            f"Unknown split {split!r} for {name}; expected one of {', '.join(IDX_FILES)}.")
    roots = ([Path(data_dir)] if data_dir else []) + default_roots()
    for root in roots:
        if all((root / name / f).exists() for f in IDX_FILES[split]):
            return read_split(root / name, split)
    from kgan.data.remote import load_tfds_arrays

    return load_tfds_arrays(name, split, roots)
