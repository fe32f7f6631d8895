"""Audio helpers shared by the audio families and data sets: clips, wav files, spectrograms.

Everything here is TensorFlow-free (numpy, scipy and ``keras.ops``), so the JAX trainer and
``generate`` on either backend compute exactly the same spectrograms and inversions.

* Clips are SC09-style: 16 kHz mono, ``CLIP_LENGTH = 16384`` samples (1.024 s), float32 in
  [-1, 1], shaped ``(N, 16384, 1)``.
* ``log_magnitude`` is SpecGAN's representation (Donahue et al. 2019): STFT with a 256-sample
  Hann window and hop 128 (``keras.ops.stft``, i.e. ``tf.signal.stft`` under TensorFlow),
  the Nyquist bin dropped, ``log(|X| + 1e-6)``: 128 frames x 128 bins per clip.
* ``normalize`` / ``denormalize`` apply the per-frequency statistics of the training split
  (zero mean, unit variance, clipped at 3 standard deviations and scaled to [-1, 1]).
* ``griffin_lim`` turns magnitudes back into audio (Griffin & Lim 1984) with
  ``keras.ops.istft`` / ``keras.ops.stft`` iterations.
"""

from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
CLIP_LENGTH = 16384
FRAME_LENGTH = 256
FRAME_STEP = 128
#: STFT frames and kept frequency bins (the Nyquist bin is dropped): a 128 x 128 image.
SPECTROGRAM_SHAPE = (128, 128)
LOG_EPS = 1e-6
#: Standard deviations kept by ``normalize`` before scaling to [-1, 1] (SpecGAN's choice).
CLIP_STDS = 3.0
#: Zero padding at each end so every sample is covered by a window weight of at least 0.5
#: and the padded clip (16512 samples) splits into exactly 128 frames.
_PAD = (FRAME_LENGTH - FRAME_STEP) // 2
_PADDED_LENGTH = CLIP_LENGTH + 2 * _PAD


def check_waveforms(waveforms, what="waveforms"):
    """Returns ``waveforms`` as float32 ``(N, 16384, 1)`` in [-1, 1], or raises a ValueError."""
    x = np.asarray(waveforms)
    if x.ndim == 2 and x.shape[1] == CLIP_LENGTH:
        x = x[..., None]
    if x.ndim != 3 or x.shape[1:] != (CLIP_LENGTH, 1):
        raise ValueError(
            f"{what} must have shape (N, {CLIP_LENGTH}) or (N, {CLIP_LENGTH}, 1) (mono "
            f"{SAMPLE_RATE} Hz clips of {CLIP_LENGTH} samples); received shape {x.shape}."
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{what} must be floats in [-1, 1]; received dtype {x.dtype}.")
    x = x.astype("float32")
    if x.size and (not np.all(np.isfinite(x)) or np.abs(x).max() > 1.0001):
        raise ValueError(f"{what} must be finite floats in [-1, 1]; received values in "
                         f"[{np.nanmin(x):.3g}, {np.nanmax(x):.3g}].")
    return x


# ---------------------------------------------------------------------------- wav files
def read_wav(path, sample_rate=SAMPLE_RATE, length=CLIP_LENGTH, resample=True):
    """Reads a mono wav file as float32 ``(length,)`` in [-1, 1].

    Integer PCM is scaled to [-1, 1]. Another sample rate is resampled to ``sample_rate``
    (``scipy.signal.resample_poly``) when ``resample``, refused otherwise. Shorter clips are
    centred and zero-padded, longer ones are refused (trim them first): cutting speech
    silently would change what the clip says.
    """
    from scipy import signal
    from scipy.io import wavfile

    path = Path(path)
    try:
        rate, data = wavfile.read(path)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"Cannot read {path} as a wav file: {err}") from err
    if data.ndim == 2:
        if data.shape[1] != 1:
            raise ValueError(f"{path} has {data.shape[1]} channels; expected mono audio. Mix "
                             "it down first (e.g. sox in.wav -c 1 out.wav).")
        data = data[:, 0]
    if data.size == 0:
        raise ValueError(f"{path} holds no samples (an empty file).")
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        data = (data.astype("float64") - (info.max + info.min + 1) / 2) / ((info.max - info.min + 1) / 2)
    data = data.astype("float32")
    if rate != sample_rate:
        if not resample:
            raise ValueError(f"{path} is sampled at {rate} Hz; expected {sample_rate} Hz "
                             "(pass resample=True to convert it).")
        g = np.gcd(int(rate), int(sample_rate))
        data = signal.resample_poly(data, sample_rate // g, rate // g).astype("float32")
    if len(data) > length:
        raise ValueError(f"{path} lasts {len(data)} samples at {sample_rate} Hz; expected at "
                         f"most {length} ({length / sample_rate:.3f} s). Trim it first.")
    start = (length - len(data)) // 2
    out = np.zeros((length,), "float32")
    out[start:start + len(data)] = data
    return np.clip(out, -1.0, 1.0)


def write_wav(path, waveform, sample_rate=SAMPLE_RATE):
    """Writes a clip (``(length,)`` or ``(length, 1)`` in [-1, 1]) as 16-bit PCM mono wav."""
    from scipy.io import wavfile

    x = np.clip(np.asarray(waveform, "float32").reshape(-1), -1.0, 1.0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, sample_rate, np.round(x * 32767).astype("int16"))
    return path


def read_wav_folder(folder, sample_rate=SAMPLE_RATE, length=CLIP_LENGTH, resample=True):
    """Reads every ``*.wav`` under ``folder`` into ``(waveforms (N, length, 1), labels)``.

    Files directly in ``folder`` have no label (``labels`` is None); with one subfolder per
    class (``folder/<class>/*.wav``) the labels are the subfolders' indices in sorted order.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Audio folder {folder} does not exist.")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if classes:
        files = [(f, c) for c, name in enumerate(classes)
                 for f in sorted((folder / name).glob("*.wav"))]
    else:
        files = [(f, None) for f in sorted(folder.glob("*.wav"))]
    if not files:
        raise ValueError(f"No .wav files in {folder} (or in its class subfolders).")
    waveforms = np.stack([read_wav(f, sample_rate, length, resample) for f, _ in files])
    labels = np.array([c for _, c in files], "int32") if classes else None
    return waveforms[..., None], labels


# ---------------------------------------------------------------------------- spectrograms
def _stft(x):
    import keras

    return keras.ops.stft(x, FRAME_LENGTH, FRAME_STEP, FRAME_LENGTH, window="hann",
                          center=False)


def _istft(real, imag):
    import keras

    return keras.ops.istft((real, imag), FRAME_LENGTH, FRAME_STEP, FRAME_LENGTH,
                           length=_PADDED_LENGTH, window="hann", center=False)


def log_magnitude(waveforms, batch_size=256):
    """``(N, 16384[, 1])`` clips -> log-magnitude spectrograms float32 ``(N, 128, 128)``."""
    import keras

    x = check_waveforms(waveforms)[..., 0]
    out = [keras.ops.convert_to_numpy(log_magnitude_ops(x[i:i + batch_size]))
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out).astype("float32")


def log_magnitude_ops(waveforms, floor=LOG_EPS):
    """:func:`log_magnitude` in Keras ops, differentiable: ``(B, 16384)`` float32 tensors ->
    ``log(|STFT| + floor)`` ``(B, 128, 128)`` (WaveGAN's spectral critic trains through it)."""
    import keras

    ops = keras.ops
    real, imag = _stft(ops.pad(ops.cast(waveforms, "float32"), ((0, 0), (_PAD, _PAD))))
    # The floor under the power keeps sqrt's gradient finite at exact zeros (silence) and is
    # far below float32's resolution of the log.
    power = ops.maximum(real * real + imag * imag, 1e-30)
    magnitude = ops.sqrt(power)[:, :, :SPECTROGRAM_SHAPE[1]]
    return ops.log(magnitude + floor)


def spectrogram_statistics(log_magnitudes):
    """Per-frequency ``(mean, std)`` float32 ``(128,)`` of ``(N, frames, 128)`` spectrograms."""
    x = np.asarray(log_magnitudes, "float64")
    return x.mean(axis=(0, 1)).astype("float32"), x.std(axis=(0, 1)).astype("float32")


def normalize(log_magnitudes, mean, std):
    """Zero mean, unit variance per bin, clipped at 3 std and scaled to [-1, 1]."""
    z = (np.asarray(log_magnitudes, "float32") - mean) / (CLIP_STDS * np.maximum(std, 1e-6))
    return np.clip(z, -1.0, 1.0).astype("float32")


def denormalize(normalized, mean, std):
    """Inverse of :func:`normalize` (up to its clipping); works on numpy or Keras tensors."""
    return normalized * (CLIP_STDS * std) + mean


def griffin_lim(magnitudes, iterations=32, seed=0):
    """Waveforms ``(N, 16384)`` whose STFT magnitudes approach ``magnitudes`` (N, 128, 128).

    Numpy in, numpy out; :func:`griffin_lim_ops` is the same computation on tensors.
    """
    import keras

    mag = keras.ops.convert_to_tensor(np.asarray(keras.ops.convert_to_numpy(magnitudes),
                                                 "float32"))
    return keras.ops.convert_to_numpy(griffin_lim_ops(mag, iterations, seed))


def griffin_lim_ops(magnitudes, iterations=32, seed=0):
    """:func:`griffin_lim` in Keras ops, so it runs inside a traced graph (SpecGAN's export).

    Starts every clip from the same fixed random phase (``seed``), so a clip does not depend
    on the batch it is generated in, then alternates ``istft`` and ``stft``, keeping the
    phase and restoring the magnitudes. The dropped Nyquist bin is restored as zeros.
    Returns float32 ``(N, 16384)`` clipped to [-1, 1].
    """
    import keras

    ops = keras.ops
    frames, bins = SPECTROGRAM_SHAPE[0], SPECTROGRAM_SHAPE[1] + 1
    mag = ops.pad(ops.cast(magnitudes, "float32"), ((0, 0), (0, 0), (0, 1)))  # Nyquist bin
    phase = np.random.default_rng(seed).uniform(-np.pi, np.pi, (1, frames, bins))
    real = mag * np.cos(phase).astype("float32")
    imag = mag * np.sin(phase).astype("float32")
    for _ in range(iterations):
        re, im = _stft(_istft(real, imag))
        norm = ops.maximum(ops.sqrt(re * re + im * im), 1e-8)
        real, imag = mag * re / norm, mag * im / norm
    return ops.clip(_istft(real, imag)[:, _PAD:_PAD + CLIP_LENGTH], -1.0, 1.0)


# ---------------------------------------------------------------------------- figures
def audio_figure(waveforms, rows=None, cell=(128, 64)):
    """Tiles clips as uint8 RGB: per clip its waveform (min/max envelope) above its
    log-magnitude spectrogram (time left to right, low frequencies at the bottom)."""
    x = check_waveforms(waveforms)
    n = len(x)
    rows = rows or int(np.ceil(np.sqrt(n)))
    cols = int(np.ceil(n / rows))
    width, wave_h = cell
    spec_h = SPECTROGRAM_SHAPE[1]
    cell_h = wave_h + spec_h
    canvas = np.full((rows * (cell_h + 2) + 2, cols * (width + 2) + 2, 3), 40, "uint8")
    log_mag = log_magnitude(x)
    lo, hi = np.log(1e-3), max(float(log_mag.max()), np.log(1e-3) + 1)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = 2 + r * (cell_h + 2), 2 + c * (width + 2)
        canvas[top:top + cell_h, left:left + width] = 0
        env = x[i, :width * (CLIP_LENGTH // width), 0].reshape(width, -1)
        mid = wave_h // 2
        for col, (a, b) in enumerate(zip(env.min(1), env.max(1))):
            y0 = int(np.clip(mid - b * mid, 0, wave_h - 1))
            y1 = int(np.clip(mid - a * mid, 0, wave_h - 1))
            canvas[top + y0:top + y1 + 1, left + col] = (120, 200, 255)
        spec = (np.clip((log_mag[i] - lo) / (hi - lo), 0, 1) * 255).astype("uint8")
        spec = spec[np.linspace(0, spec.shape[0] - 1, width).round().astype(int)].T[::-1]
        canvas[top + wave_h:top + cell_h, left:left + width] = np.stack(
            [spec, (spec * 0.8).astype("uint8"), (255 - spec) // 3], -1)
    return canvas
