"""Spoken digits as SpecGAN's normalised log-magnitude spectrograms, ``(N, 128, 128, 1)``.

Each clip of :mod:`kgan.data.sets.spoken_digits` goes through
:func:`kgan.modalities.audio.log_magnitude` and is normalised per frequency bin with the
**train** split's statistics (for either split), so values lie in [-1, 1]. :func:`statistics`
returns those statistics; SpecGAN stores them with its weights (``SpecGAN.adapt_dataset``) to
turn generated spectrograms back into audio. TensorFlow-free: the STFT runs with
``keras.ops`` on the active backend.
"""

from kgan.data.sets import spoken_digits
from kgan.modalities import audio

NAME = "spoken_digits_spectrogram"
_CACHE = {}


def _log_magnitudes(split, data_dir):
    """Spectrograms of a split, computed once per source file or folder and split."""
    key = (split, str(spoken_digits.source(data_dir)))
    if key not in _CACHE:
        waveforms, labels = spoken_digits.load_arrays(split, data_dir)
        _CACHE[key] = audio.log_magnitude(waveforms), labels
    return _CACHE[key]


def statistics(data_dir=None):
    """Per-frequency ``(mean, std)`` float32 ``(128,)`` of the train split's spectrograms."""
    return audio.spectrogram_statistics(_log_magnitudes("train", data_dir)[0])


def load_arrays(split="train", data_dir=None):
    """``(spectrograms float32 (N, 128, 128, 1) in [-1, 1], labels int32 (N,) or None)``."""
    mean, std = statistics(data_dir)
    log_mag, labels = _log_magnitudes(split, data_dir)
    return audio.normalize(log_mag, mean, std)[..., None], labels


def load(split="train", batch_size=64, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """Batches of normalised spectrograms ``(B, 128, 128, 1)`` (and int32 labels)."""
    spectrograms, classes = load_arrays(split, data_dir)
    return spoken_digits.as_dataset(
        spectrograms, spoken_digits.asked_labels(classes, labels, data_dir), batch_size,
        shuffle, seed, repeat)
