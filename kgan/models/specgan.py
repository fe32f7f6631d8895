"""SpecGAN (Donahue, McAuley & Puckette 2019, "Adversarial Audio Synthesis", arXiv:1802.04208).

An image GAN on spectrograms: each 16384-sample clip becomes a 128 x 128 log-magnitude STFT
(256-sample Hann window, hop 128, Nyquist bin dropped), normalised per frequency bin with
the training split's statistics and clipped to [-1, 1] (``kgan.modalities.audio``; the data set
``spoken_digits_spectrogram``). A DCGAN-shaped pair of 2-D networks (5 x 5 kernels, stride
2, five layers each way) learns those images; ``generate`` undoes the normalisation and
recovers audio with Griffin-Lim (``keras.ops.istft`` / ``stft`` iterations), so it returns
waveforms like WaveGAN.

The normalisation statistics are non-trainable weights of the model, saved with it:
:meth:`SpecGAN.adapt` computes them from waveforms, :meth:`SpecGAN.adapt_dataset` from a
registered data set's train split (the zoo tools call it before training).

The paper trains SpecGAN as WGAN-GP with 5 critic steps. Sized for a few GPU minutes, this
recipe uses the non-saturating loss with an R1 penalty (gamma 1) on a BatchNorm-free
discriminator and a generator EMA: one discriminator step per generator step, the setting
that gave kgan's cleanest DCGAN samples. Conditional models embed the digit as in CGAN.
"""

import keras
import numpy as np
from keras import layers

from kgan.modalities import audio
from kgan.latent import LatentGAN
from kgan.layers import BatchNormalization, maybe_spectral_norm
from kgan.models.common import SYNC_BN, register_family_entries
from kgan.models.dcgan import label_embedding, latent_inputs, projection_logits

KERNEL = 5
_MULTIPLIERS = (16, 8, 4, 2, 1)  # channels of G's layers, from the 4 x 4 bottleneck out
_START = audio.SPECTROGRAM_SHAPE[0] // 2 ** len(_MULTIPLIERS)  # 4
SHAPE = (*audio.SPECTROGRAM_SHAPE, 1)


def _check_shape(shape):
    if tuple(shape) != SHAPE:
        raise ValueError(f"SpecGAN models {SHAPE} spectrograms (kgan.modalities.audio."
                         f"log_magnitude of {audio.CLIP_LENGTH}-sample clips); received "
                         f"{tuple(shape)}.")


def specgan_generator(latent_dim, width=64, num_classes=0, name="generator"):
    """z (and label) -> Dense(4 x 4 x 16w) -> 5 x ConvT(5, /2) -> tanh, (128, 128, 1)."""
    inputs, x = latent_inputs(latent_dim, num_classes)
    x = layers.Dense(_START * _START * _MULTIPLIERS[0] * width, use_bias=False)(x)
    x = layers.Reshape((_START, _START, _MULTIPLIERS[0] * width))(x)
    x = BatchNormalization(synchronized=SYNC_BN)(x)
    x = layers.ReLU()(x)
    for m in _MULTIPLIERS[1:]:
        x = layers.Conv2DTranspose(m * width, KERNEL, strides=2, padding="same",
                                   use_bias=False)(x)
        x = BatchNormalization(synchronized=SYNC_BN)(x)
        x = layers.ReLU()(x)
    x = layers.Conv2DTranspose(1, KERNEL, strides=2, padding="same")(x)
    out = layers.Activation("tanh", dtype="float32", name="spectrogram")(x)
    return keras.Model(inputs if num_classes else inputs[0], out, name=name)


def specgan_discriminator(width=64, num_classes=0, spectral_norm=False, name="discriminator"):
    """spectrogram (and label) -> 5 x [Conv(5, /2), LeakyReLU(0.2)] -> logits, no BatchNorm.

    Conditional critics see the label as an extra input channel and a projection term.
    ``spectral_norm`` wraps the convolutions and the output layer in
    ``keras.layers.SpectralNormalization`` (WaveGAN's spectral critic uses it).
    """
    image = keras.Input(SHAPE, name="spectrogram")
    inputs, x = [image], image
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        h, w, _ = SHAPE
        label_map = layers.Reshape((h, w, 1))(label_embedding(label, num_classes, h * w,
                                                               "label_map"))
        x = layers.Concatenate()([x, label_map])
    for m in reversed(_MULTIPLIERS):
        x = maybe_spectral_norm(layers.Conv2D(m * width, KERNEL, strides=2, padding="same"),
                                spectral_norm)(x)
        x = layers.LeakyReLU(0.2)(x)
    logits = projection_logits(layers.Flatten()(x), label if num_classes else None,
                               num_classes, maybe_spectral_norm(layers.Dense(1), spectral_norm))
    return keras.Model(inputs, logits, name=name)


@keras.saving.register_keras_serializable(package="kgan")
class SpecGAN(LatentGAN):
    """SpecGAN: a 2-D GAN on normalised log-magnitude spectrograms, audio via Griffin-Lim.

    ``image_shape`` is the spectrogram's ``(128, 128, 1)`` (what ``fit`` trains on);
    ``generate`` returns waveforms ``(n, 16384, 1)`` and ``generate_spectrograms`` the
    normalised spectrograms.

    Args:
        griffin_lim_iterations: Griffin-Lim iterations in ``generate`` (the paper uses 16).
        Others: see ``kgan.LatentGAN``; build with :meth:`build`.

    Example:
        >>> model = kgan.zoo.load("specgan_spoken_digits")
        >>> clips = model.generate(labels=[3] * 4, seed=0)          # (4, 16384, 1)

    Reference: Donahue, McAuley & Puckette 2019, arXiv:1802.04208.
    """

    modality = "audio"
    #: Formats kgan.export refuses (with the reason) instead of writing a wrong file. The
    #: SavedModel holds generator + Griffin-Lim (:meth:`output_transform`) and returns
    #: waveforms; TFLite has no inverse STFT for it.
    export_unsupported = dict.fromkeys(
        ("tflite-none", "tflite-float16", "tflite-int8"),
        "Griffin-Lim's inverse STFT needs tf.Complex and tf.IRFFT, which are not TFLite "
        "builtin ops; export a SavedModel (generator + Griffin-Lim, waveforms out), or the "
        "generator alone (spectrograms) from model.generator with keras.export.")

    compile_defaults = dict(LatentGAN.compile_defaults, loss="non_saturating", r1_weight=1.0)

    def __init__(self, generator, discriminator, latent_dim, num_classes=0, seed=0,
                 griffin_lim_iterations=32, **kwargs):
        super().__init__(generator, discriminator, latent_dim, num_classes, seed, **kwargs)
        self.griffin_lim_iterations = int(griffin_lim_iterations)
        bins = audio.SPECTROGRAM_SHAPE[1]
        self.spectrogram_mean = self.add_weight(
            shape=(bins,), initializer="zeros", trainable=False, name="spectrogram_mean")
        self.spectrogram_std = self.add_weight(
            shape=(bins,), initializer="ones", trainable=False, name="spectrogram_std")

    @property
    def sample_shape(self):
        """Shape of one generated sample: ``(16384, 1)`` (a waveform)."""
        return (audio.CLIP_LENGTH, 1)

    @classmethod
    def build(cls, image_shape=SHAPE, latent_dim=100, width=64, num_classes=0,
              griffin_lim_iterations=32, seed=0, name=None):
        _check_shape(image_shape)
        return cls(
            specgan_generator(latent_dim, width, num_classes),
            specgan_discriminator(width, num_classes),
            latent_dim=latent_dim, num_classes=num_classes, seed=seed,
            griffin_lim_iterations=griffin_lim_iterations, name=name or "specgan",
        )

    def get_config(self):
        return {**super().get_config(), "griffin_lim_iterations": self.griffin_lim_iterations}

    # ------------------------------------------------------------------ statistics
    def statistics(self):
        """The per-frequency ``(mean, std)`` used to (de)normalise, as numpy ``(128,)``."""
        return (keras.ops.convert_to_numpy(self.spectrogram_mean),
                keras.ops.convert_to_numpy(self.spectrogram_std))

    def set_statistics(self, mean, std):
        bins = audio.SPECTROGRAM_SHAPE[1]
        mean, std = np.asarray(mean, "float32"), np.asarray(std, "float32")
        if mean.shape != (bins,) or std.shape != (bins,) or np.any(std <= 0):
            raise ValueError(f"Spectrogram statistics must be ({bins},) arrays with std > 0; "
                             f"received shapes {mean.shape} and {std.shape}.")
        self.spectrogram_mean.assign(mean)
        self.spectrogram_std.assign(std)

    def adapt(self, waveforms):
        """Sets the normalisation from training clips ``(N, 16384[, 1])`` in [-1, 1]."""
        self.set_statistics(*audio.spectrogram_statistics(audio.log_magnitude(waveforms)))

    def adapt_dataset(self, name, data_dir=None):
        """Sets the normalisation of registered data set ``name`` (its train statistics)."""
        from kgan.data import sets as datasets

        module = datasets.module(name)
        if not hasattr(module, "statistics"):
            raise ValueError(f"Data set {name!r} has no spectrogram statistics; SpecGAN trains "
                             "on spoken_digits_spectrogram or on spectrograms(waveforms).")
        self.set_statistics(*module.statistics(data_dir))

    def spectrograms(self, waveforms):
        """Training data for this model: normalised spectrograms ``(N, 128, 128, 1)``."""
        return audio.normalize(audio.log_magnitude(waveforms), *self.statistics())[..., None]

    # ------------------------------------------------------------------ inference
    def generate_spectrograms(self, n=None, z=None, labels=None, seed=None, batch_size=256):
        """Normalised spectrograms ``(n, 128, 128, 1)`` in [-1, 1]; arguments as ``generate``."""
        return super().generate(n, z, labels, seed, batch_size)

    def to_waveforms(self, spectrograms):
        """Normalised spectrograms ``(n, 128, 128, 1)`` -> waveforms ``(n, 16384, 1)``."""
        spectrograms = np.asarray(spectrograms, "float32")
        _check_shape(spectrograms.shape[1:])
        return keras.ops.convert_to_numpy(self.output_transform(spectrograms))

    @property
    def output_transform_variables(self):
        """The variables :meth:`output_transform` reads (an export tracks them)."""
        return [self.spectrogram_mean, self.spectrogram_std]

    def output_transform(self, spectrograms):
        """Generator output -> samples, in Keras ops: denormalise the spectrograms and run
        Griffin-Lim. ``kgan.export`` puts it in the exported graph after the generator."""
        log_mag = audio.denormalize(keras.ops.cast(spectrograms, "float32")[..., 0],
                                    self.spectrogram_mean, self.spectrogram_std)
        return audio.griffin_lim_ops(keras.ops.exp(log_mag), self.griffin_lim_iterations)[
            ..., None]

    def generate(self, n=None, z=None, labels=None, seed=None, batch_size=256):
        """Waveforms float32 ``(n, 16384, 1)`` in [-1, 1]; see ``kgan.LatentGAN.generate``."""
        return self.to_waveforms(self.generate_spectrograms(n, z, labels, seed, batch_size))


# XLA cost at width d = 32: each of the four wide transposed convolutions costs in_pixels x
# 25 x c_in x c_out x 2 ~ 0.1 GFLOP per spectrogram, so G ~0.45 and D ~0.45 GFLOP forward; a
# step (D on real and fake with backward, R1's double backward, then G through D) ~7.5 GFLOP
# per example, ~0.5 TFLOP per step at batch 64. The published weights: 146 epochs (6,132
# steps of 42 per epoch) in 405 s on one H200 shared with two other runs (~21 steps/s).
register_family_entries(
    SpecGAN,
    family="specgan",
    paper="Donahue, McAuley & Puckette 2019, arXiv:1802.04208",
    entries={
        "specgan_spoken_digits": dict(
            dataset="spoken_digits_spectrogram", epochs=146,
            weights="specgan_spoken_digits.weights.h5",
            sha256="8b8a99508a94ea06132ac6246241130b413ff429e3678e63a1e2c2a1f7c41003"),
    },
    model_kwargs=dict(latent_dim=100, width=32),
    test_kwargs=dict(latent_dim=8, width=1, griffin_lim_iterations=4),
    recipe=dict(batch_size=64, compile=dict(loss="non_saturating", r1_weight=1.0,
                                            ema_decay=0.999)),
    conditional=True,
    test_dataset="spoken_digits_spectrogram",
)
