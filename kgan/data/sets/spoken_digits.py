"""Spoken digits: SC09-style clips of "zero".."nine", 16 kHz, 16384 samples (see SOURCE.md).

Reads ``<root>/spoken_digits/spoken_digits.npz`` (2,700 train / 300 test clips, disjoint
voice variants between the splits) from ``data_dir``, ``$KGAN_DATA_DIR`` or the shared
data folder. ``data_dir`` may instead be a folder of the user's own ``.wav`` files (one
subfolder per class for labels), read by :func:`kgan.modalities.audio.read_wav_folder`.

Waveforms are float32 in [-1, 1], shaped ``(N, 16384, 1)``; labels are int32 digits.
"""

from pathlib import Path

import numpy as np

from kgan.modalities import audio

NAME = "spoken_digits"
FILE = "spoken_digits.npz"
SPLITS = ("train", "test")
CLASS_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def find_file(data_dir=None):
    """Path of ``spoken_digits.npz`` in the first root that has it."""
    from kgan.data.idx import default_roots

    repo = Path(__file__).resolve().parents[3]
    roots = ([Path(data_dir)] if data_dir else []) + default_roots() + [repo / ".dev" / "data"]
    for root in roots:
        for candidate in (root / NAME / FILE, root / FILE):
            if candidate.exists():
                return candidate
    raise FileNotFoundError(
        f"{FILE} not found in {', '.join(str(r / NAME) for r in roots)}. Put it in "
        f"<dir>/{NAME}/ and pass data_dir=<dir> (or set KGAN_DATA_DIR)."
    )


def _wav_folder(data_dir):
    """``data_dir`` when it is a folder of the user's .wav files, else None."""
    if data_dir is None:
        return None
    folder = Path(data_dir)
    if folder.is_dir() and next(folder.rglob("*.wav"), None) is not None and not any(
            (c / FILE).exists() for c in (folder, folder / NAME)):
        return folder
    return None


def source(data_dir=None):
    """The user's wav folder given as ``data_dir``, or the npz file that will be read."""
    return _wav_folder(data_dir) or find_file(data_dir)


def load_arrays(split="train", data_dir=None):
    """``(waveforms float32 (N, 16384, 1), labels int32 (N,) or None)``; TensorFlow-free."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r} for {NAME}; expected one of "
                         f"{', '.join(SPLITS)}.")
    folder = _wav_folder(data_dir)
    if folder is not None:
        return audio.read_wav_folder(folder)
    with np.load(find_file(data_dir)) as z:
        waveforms = z[f"x_{split}"].astype("float32")[..., None]
        labels = z[f"y_{split}"].astype("int32")
    return audio.check_waveforms(waveforms, f"{NAME} {split}"), labels


def as_dataset(arrays, labels, batch_size, shuffle, seed, repeat):
    """A ``tf.data.Dataset`` of float batches (``(x, y)`` with labels); drops the remainder."""
    import tensorflow as tf

    if not isinstance(batch_size, int) or not 1 <= batch_size <= len(arrays):
        raise ValueError(f"batch_size must be an integer in [1, {len(arrays)}] (partial "
                         f"batches are dropped); received {batch_size!r}.")
    ds = tf.data.Dataset.from_tensor_slices(arrays if labels is None else (arrays, labels))
    if shuffle:
        ds = ds.shuffle(len(arrays), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def load(split="train", batch_size=64, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """Batches of waveforms ``(B, 16384, 1)`` (and int32 labels when ``labels``)."""
    waveforms, classes = load_arrays(split, data_dir)
    return as_dataset(waveforms, asked_labels(classes, labels, data_dir), batch_size, shuffle,
                      seed, repeat)


def asked_labels(classes, labels, data_dir):
    """``classes`` when ``labels`` is asked for, else None; an error when the clips have no
    classes to give."""
    if labels and classes is None:
        raise ValueError(f"labels=True but the wav files in {data_dir} are not in class "
                         "subfolders (<dir>/<class>/*.wav).")
    return classes if labels else None
