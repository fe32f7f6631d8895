"""Audio: spoken-digit data, wav files, spectrograms / Griffin-Lim, phase shuffle, WaveGAN and
SpecGAN specifics (the standard checks of test_wavegan / test_specgan run in test_families)."""

import numpy as np
import pytest
import keras
import tensorflow as tf

import kgan
from kgan.data.sets import spoken_digits, spoken_digits_spectrogram
from kgan.modalities import audio
from kgan.layers import LogMagnitude, PhaseShuffle
from kgan.models import WaveGAN
from kgan.zoo import publish, weights as zoo_weights


@pytest.fixture(scope="module")
def test_clips():
    return spoken_digits.load_arrays("test")


def test_spoken_digits_arrays_and_pipeline(test_clips):
    waveforms, labels = test_clips
    assert waveforms.shape == (300, 16384, 1) and waveforms.dtype == np.float32
    assert np.abs(waveforms).max() <= 0.9 + 1e-3 and labels.dtype == np.int32
    assert np.bincount(labels).tolist() == [30] * 10
    x, y = next(iter(kgan.data.load("spoken_digits", "test", batch_size=4, labels=True)))
    assert tuple(x.shape) == (4, 16384, 1) and tuple(y.shape) == (4,)
    with pytest.raises(ValueError, match="Unknown split"):
        spoken_digits.load_arrays("validation")


def test_wav_round_trip_resampling_and_folder(tmp_path, test_clips):
    clip = test_clips[0][0, :, 0]
    audio.write_wav(tmp_path / "digits" / "three" / "a.wav", clip)
    read = audio.read_wav(tmp_path / "digits" / "three" / "a.wav")
    np.testing.assert_allclose(read, clip, atol=1 / 32767)
    # 8 kHz, 0.5 s: resampled to 16 kHz and centred in the 16384-sample window.
    from scipy.io import wavfile

    t = np.arange(4000) / 8000
    (tmp_path / "digits" / "seven").mkdir()
    wavfile.write(tmp_path / "digits" / "seven" / "b.wav", 8000,
                  (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype("int16"))
    resampled = audio.read_wav(tmp_path / "digits" / "seven" / "b.wav")
    assert resampled.shape == (16384,)
    sound = np.flatnonzero(np.abs(resampled) > 1e-3)
    assert sound[0] == pytest.approx(4192, abs=10) and sound[-1] == pytest.approx(12192, abs=10)
    assert np.abs(resampled).max() == pytest.approx(0.5, abs=0.02)
    with pytest.raises(ValueError, match="8000 Hz"):
        audio.read_wav(tmp_path / "digits" / "seven" / "b.wav", resample=False)
    ds = kgan.data.load("spoken_digits", batch_size=2, data_dir=tmp_path / "digits",
                        labels=True, shuffle=False)
    x, y = next(iter(ds))
    assert tuple(x.shape) == (2, 16384, 1) and y.numpy().tolist() == [0, 1]  # sorted classes


def test_bad_wav_files_are_refused_by_name(tmp_path):
    from scipy.io import wavfile

    wavfile.write(tmp_path / "stereo.wav", 16000, np.zeros((100, 2), "int16"))
    wavfile.write(tmp_path / "empty.wav", 16000, np.zeros((0,), "int16"))
    wavfile.write(tmp_path / "long.wav", 16000, np.zeros((20000,), "int16"))
    (tmp_path / "junk.wav").write_bytes(b"not a wav file")
    for name, message in [("stereo", "2 channels"), ("empty", "no samples"),
                          ("long", "Trim it"), ("junk", "Cannot read")]:
        with pytest.raises(ValueError, match=message) as err:
            audio.read_wav(tmp_path / f"{name}.wav")
        assert f"{name}.wav" in str(err.value)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match="No .wav files"):
        audio.read_wav_folder(tmp_path / "nothing")
    with pytest.raises(ValueError, match=r"\(N, 16384\)"):
        audio.check_waveforms(np.zeros((2, 8000), "float32"))


def test_log_magnitude_matches_a_numpy_stft(test_clips):
    x = test_clips[0][:2, :, 0]
    spec = audio.log_magnitude(x)
    assert spec.shape == (2, 128, 128)
    padded = np.pad(x, ((0, 0), (64, 64)))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(256) / 256)  # periodic Hann
    frames = np.stack([padded[:, i * 128:i * 128 + 256] for i in range(128)], 1)
    reference = np.log(np.abs(np.fft.rfft(frames * window, axis=-1))[..., :128] + 1e-6)
    np.testing.assert_allclose(spec, reference, atol=2e-3)


def test_log_magnitude_layer_is_the_data_stft_with_finite_gradients(test_clips):
    x = test_clips[0][:2]
    np.testing.assert_array_equal(LogMagnitude(floor=1e-6)(x).numpy()[..., 0],
                                  audio.log_magnitude(x))
    layer = LogMagnitude()
    assert LogMagnitude.from_config(layer.get_config()).floor == 1e-2
    with pytest.raises(ValueError, match="floor must be > 0"):
        LogMagnitude(floor=0)
    # Digital silence (all of a padded clip's tail) must not turn G's gradients into NaN.
    silent_and_speech = tf.Variable(np.concatenate([np.zeros_like(x[:1]), x[:1]]))
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(layer(silent_and_speech))
    grads = tape.gradient(out, silent_and_speech).numpy()
    assert np.isfinite(grads).all() and np.abs(grads[1]).max() > 0


def test_griffin_lim_recovers_real_clips(test_clips):
    x = test_clips[0][:2]
    log_mag = audio.log_magnitude(x)
    recovered = audio.griffin_lim(np.exp(log_mag), iterations=32)
    assert recovered.shape == (2, 16384)
    again = audio.log_magnitude(recovered)
    loud = log_mag > np.log(1e-2)  # spectral consistency where there is sound
    assert np.corrcoef(again[loud], log_mag[loud])[0, 1] > 0.97


def test_spectrogram_data_set_uses_train_statistics():
    spec, labels = spoken_digits_spectrogram.load_arrays("test")
    assert spec.shape == (300, 128, 128, 1) and spec.min() >= -1 and spec.max() <= 1
    mean, std = spoken_digits_spectrogram.statistics()
    train_mean, _ = audio.spectrogram_statistics(
        audio.log_magnitude(spoken_digits.load_arrays("train")[0][:50]))
    assert mean.shape == std.shape == (128,) and np.all(std > 0)
    # The statistics are the train split's: 50 train clips agree far better than noise.
    assert np.abs(train_mean - mean).mean() < 1.0
    assert labels.tolist() == spoken_digits.load_arrays("test")[1].tolist()


def test_phase_shuffle_shifts_by_at_most_n():
    x = np.arange(2 * 10 * 3, dtype="float32").reshape(2, 10, 3)
    layer = PhaseShuffle(2, seed=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    padded = np.pad(x, ((0, 0), (2, 2), (0, 0)), mode="reflect")
    seen = set()
    for _ in range(10):
        y = keras.ops.convert_to_numpy(layer(x, training=True))
        for b in range(2):
            shifts = [s for s in range(5) if np.array_equal(y[b], padded[b, s:s + 10])]
            assert len(shifts) == 1
            seen.add(shifts[0])
    assert len(seen) > 2
    assert PhaseShuffle.from_config(layer.get_config()).n == 2
    with pytest.raises(ValueError, match="n must be"):
        PhaseShuffle(-1)


def test_wavegan_architecture_follows_the_paper():
    model = WaveGAN.build(latent_dim=8, width=2)
    convs = [la for la in model.generator.layers if "conv1d_transpose" in la.name]
    assert [(c.kernel_size, c.strides) for c in convs] == [((25,), (4,))] * 5
    shuffles = [la for la in model.discriminator.layers if isinstance(la, PhaseShuffle)]
    assert [s.n for s in shuffles] == [2] * 4
    model.compile()
    assert (model.loss_name, model.d_steps, model.gp_weight) == ("wasserstein", 5, 10.0)
    with pytest.raises(ValueError, match="16384"):
        WaveGAN.build((8000, 1))


def test_wavegan_spectral_norm_bounds_every_critic_layer():
    model = WaveGAN.build(latent_dim=8, width=2, num_classes=10, spectral_norm=True)
    wrapped = [la.layer for la in model.discriminator.layers
               if isinstance(la, keras.layers.SpectralNormalization)]
    assert [type(la).__name__ for la in wrapped] == ["Conv1D"] * 5 + ["Dense"]
    # Each wrapped kernel's largest singular value is ~1 after a few power iterations.
    x = np.random.default_rng(0).uniform(-1, 1, (2, 16384, 1)).astype("float32")
    for _ in range(20):
        model.discriminator([x, np.array([1, 2])], training=True)
    for layer in wrapped[:-1]:
        kernel = layer.kernel.numpy().reshape(-1, layer.filters)
        assert np.linalg.svd(kernel, compute_uv=False)[0] == pytest.approx(1, abs=0.05)


def test_wavegan_spectral_critic_judges_waveform_and_spectrogram():
    model = WaveGAN.build(latent_dim=8, width=1, num_classes=10, spectral_norm=True,
                          spectral_critic=True)
    critic = model.discriminator.get_layer("spectral_critic")
    assert [la.layer.kernel_size for la in critic.layers
            if isinstance(la, keras.layers.SpectralNormalization)
            and isinstance(la.layer, keras.layers.Conv2D)] == [(5, 5)] * 5
    x, y = np.zeros((3, 16384, 1), "float32"), np.array([0, 4, 9])
    assert model.discriminator([x, y]).shape == (3, 2)  # one logit per head
    model.compile(loss="hinge", d_steps=1, gp_weight=0.0)
    data = tf.data.Dataset.from_tensor_slices(spoken_digits.load_arrays("test")).batch(4)
    logs = model.fit(data.take(2), verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values())
    # G learns through the spectral head alone: its gradient reaches G's first Dense layer.
    z = tf.constant(np.random.default_rng(0).normal(size=(3, 8)), "float32")
    y = tf.constant(y, "int32")
    with tf.GradientTape() as tape:
        fake = model.generator([z, y], training=True)
        spectral_logit = model.discriminator([fake, y], training=True)[:, 1]
    first = next(la for la in model.generator.layers if isinstance(la, keras.layers.Dense))
    assert np.abs(tape.gradient(spectral_logit, first.kernel).numpy()).max() > 0


def test_conditional_audio_generate_follows_labels():
    model = kgan.zoo.load("test_wavegan", pretrained=False)
    z = np.zeros((2, model.latent_dim), "float32") + 0.3
    clips = model.generate(z=z, labels=[2, 5])
    assert clips.shape == (2, 16384, 1) and not np.array_equal(clips[0], clips[1])
    # As in WaveGAN's docstring: one clip per label when n is not given.
    assert model.generate(labels=[7] * 3, seed=0).shape == (3, 16384, 1)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\)"):
        model.generate(2, labels=[3, 12])


def test_specgan_statistics_travel_with_the_weights(tmp_path):
    model = kgan.zoo.load("test_specgan", pretrained=False)
    model.adapt_dataset("spoken_digits_spectrogram")
    mean, std = model.statistics()
    np.testing.assert_array_equal(mean, spoken_digits_spectrogram.statistics()[0])
    path = publish.save_entry_weights(model, "test_specgan", tmp_path / "w.weights.h5")
    fresh = kgan.zoo.load("test_specgan", pretrained=False)
    zoo_weights.load_into(fresh, path)
    np.testing.assert_array_equal(fresh.statistics()[1], std)
    clips = fresh.generate(2, seed=0)
    assert clips.shape == (2, 16384, 1)
    np.testing.assert_array_equal(clips, model.generate(2, seed=0))
    with pytest.raises(ValueError, match="std > 0"):
        model.set_statistics(mean, np.zeros_like(std))


def test_specgan_inverts_real_spectrograms(test_clips):
    model = kgan.zoo.load("test_specgan", pretrained=False)
    model.adapt_dataset("spoken_digits_spectrogram")
    x = test_clips[0][:2]
    spectrograms = model.spectrograms(x)
    assert spectrograms.shape == (2, 128, 128, 1)
    clips = model.to_waveforms(spectrograms)
    a, b = audio.log_magnitude(clips), audio.log_magnitude(x)
    loud = b > np.log(1e-2)
    assert np.corrcoef(a[loud], b[loud])[0, 1] > 0.9


def test_audio_sample_figure(tmp_path):
    model = kgan.zoo.load("test_wavegan", pretrained=False)
    path = publish.sample_grid(model, tmp_path / "samples.png")
    from PIL import Image

    width, height = Image.open(path).size
    assert (width, height) == (4 * 130 + 2, 10 * 194 + 2)  # 4 clips per digit row


#: wavegan_spoken_digits: 36 % on its card's 300 clips (chance 10 %, SpecGAN 100 %).
MIN_WAVEGAN_ACCURACY = 0.2


@pytest.mark.slow
@pytest.mark.parametrize("name, min_accuracy", [("specgan_spoken_digits", 0.9),
                                               ("wavegan_spoken_digits", MIN_WAVEGAN_ACCURACY)])
def test_published_audio_gan_says_the_requested_digits(name, min_accuracy):
    """A published audio GAN: the project's classifier hears the digit it was asked for in
    at least ``min_accuracy`` of the clips, and they are about as loud as real speech."""
    from kgan.evaluation import audio as audio_measures
    from kgan.evaluation import measures

    cfg = kgan.zoo.info(name)
    model = kgan.zoo.load(name)
    labels = np.arange(30) % 10
    clips = model.generate(30, labels=labels, seed=3)
    _, probs = audio_measures.clip_features(clips)
    assert measures.label_accuracy(probs, labels) >= min_accuracy
    real_rms = cfg.card["metrics"]["real_reference"]["rms"]
    rms = np.sqrt(np.mean(clips ** 2, axis=(1, 2))).mean()
    assert 0.5 * real_rms < rms < 2 * real_rms, (rms, real_rms)
