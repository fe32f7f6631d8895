"""WaveGAN (Donahue, McAuley & Puckette 2019, "Adversarial Audio Synthesis", arXiv:1802.04208).

DCGAN flattened to one dimension for raw audio: the generator grows a 16-step sequence to
16384 samples (1.024 s at 16 kHz) with five transposed convolutions of length-25 kernels
and stride 4; the critic mirrors it with strided convolutions, LeakyReLU(0.2) and **phase
shuffle** (n = 2) after each of its first four layers, so it cannot reject generated audio
by the fixed-phase artefacts of transposed convolutions. It trains as WGAN-GP: 5 critic
updates per generator update, gradient penalty 10, Adam(1e-4, 0.5, 0.9), no BatchNorm.

Two critic options go beyond the paper, for training on a CPU budget: ``spectral_norm``
(spectrally normalized layers, so the hinge loss needs no gradient penalty) and
``spectral_critic`` (a second head that judges the clip's log-magnitude spectrogram with
SpecGAN's critic). The zoo's ``wavegan_spoken_digits`` uses both; the generator, and so
``generate`` and export, is the paper's either way.

The conditional variant (``num_classes > 0``) feeds an embedding of the digit to the
generator with z, and gives the critic the label twice: as a learned extra input channel
and through a projection head (Miyato & Koyama 2018), as the image families do.

``generate`` returns waveforms float32 ``(n, 16384, 1)`` in [-1, 1];
``kgan.modalities.audio.write_wav`` writes them as 16-bit wav files.
"""

import keras
from keras import layers

from kgan.modalities.audio import CLIP_LENGTH
from kgan.latent import LatentGAN
from kgan.layers import LogMagnitude, PhaseShuffle, maybe_spectral_norm
from kgan.models.common import register_family_entries
from kgan.models.dcgan import label_embedding, latent_inputs, projection_logits
from kgan.models.specgan import specgan_discriminator

KERNEL = 25
STRIDE = 4
#: Channel multipliers of the five layers, from the 16-step bottleneck outwards (the paper's
#: 16d, 8d, 4d, 2d, d with model size d = ``width``).
_MULTIPLIERS = (16, 8, 4, 2, 1)
_START = CLIP_LENGTH // STRIDE ** len(_MULTIPLIERS)  # 16 steps


def _check_shape(shape):
    if tuple(shape) != (CLIP_LENGTH, 1):
        raise ValueError(f"WaveGAN makes mono clips of shape ({CLIP_LENGTH}, 1); received "
                         f"{tuple(shape)}. Resample or pad audio to {CLIP_LENGTH} samples "
                         "(kgan.modalities.audio.read_wav does both).")


def wavegan_generator(latent_dim, width=64, num_classes=0, name="generator"):
    """z (and label) -> Dense(16 x 16w) -> 5 x ConvT1D(k=25, s=4) -> tanh, (16384, 1)."""
    inputs, x = latent_inputs(latent_dim, num_classes)
    x = layers.Dense(_START * _MULTIPLIERS[0] * width)(x)
    x = layers.Reshape((_START, _MULTIPLIERS[0] * width))(x)
    x = layers.ReLU()(x)
    for m in _MULTIPLIERS[1:]:
        x = layers.Conv1DTranspose(m * width, KERNEL, strides=STRIDE, padding="same")(x)
        x = layers.ReLU()(x)
    x = layers.Conv1DTranspose(1, KERNEL, strides=STRIDE, padding="same")(x)
    out = layers.Activation("tanh", dtype="float32", name="waveform")(x)
    return keras.Model(inputs if num_classes else inputs[0], out, name=name)


def wavegan_discriminator(width=64, num_classes=0, phase_shuffle=2, spectral_norm=False,
                          spectral_critic=False, name="discriminator"):
    """waveform (and label) -> 5 x [Conv1D(k=25, s=4), LeakyReLU, PhaseShuffle] -> logits.

    Phase shuffle follows the first four convolutions, as in the paper. ``spectral_norm``
    wraps every convolution and output layer in ``keras.layers.SpectralNormalization``
    (Miyato et al. 2018), which bounds the critic without a gradient penalty.

    ``spectral_critic`` adds a second head that judges the clip's log-magnitude STFT with
    SpecGAN's 2-D critic (``kgan.layers.LogMagnitude`` in the graph, so G is trained
    through it), and the logits become ``(B, 2)``: one per head. Every kgan loss averages
    over all logits, so each head gets its own loss, as the multi-discriminator vocoders
    do (MelGAN, HiFi-GAN, UnivNet). The waveform critic alone learns the waveform's
    envelope long before its spectrum; the spectral head sees harmonics and formants from
    the first steps, which is what makes WaveGAN trainable on a CPU budget.
    """
    audio = keras.Input((CLIP_LENGTH, 1), name="waveform")
    inputs, x = [audio], audio
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        label_channel = layers.Reshape((CLIP_LENGTH, 1))(
            label_embedding(label, num_classes, CLIP_LENGTH, "label_channel"))
        x = layers.Concatenate()([x, label_channel])
    for i, m in enumerate(reversed(_MULTIPLIERS)):
        x = maybe_spectral_norm(layers.Conv1D(m * width, KERNEL, strides=STRIDE, padding="same"),
                                spectral_norm)(x)
        x = layers.LeakyReLU(0.2)(x)
        if i < len(_MULTIPLIERS) - 1 and phase_shuffle:
            x = PhaseShuffle(phase_shuffle, seed=i, name=f"phase_shuffle_{i}")(x)
    logits = projection_logits(layers.Flatten()(x), label if num_classes else None,
                               num_classes, maybe_spectral_norm(layers.Dense(1), spectral_norm))
    if spectral_critic:
        spectrogram = LogMagnitude(name="log_magnitude")(audio)
        critic = specgan_discriminator(width, num_classes, spectral_norm, name="spectral_critic")
        spectral_logits = critic([spectrogram, label] if num_classes else spectrogram)
        logits = layers.Concatenate(name="head_logits")([logits, spectral_logits])
    return keras.Model(inputs, logits, name=name)


@keras.saving.register_keras_serializable(package="kgan")
class WaveGAN(LatentGAN):
    """WaveGAN: WGAN-GP on raw 16 kHz waveforms of 16384 samples.

    Args: see ``kgan.LatentGAN``; build with :meth:`build`.

    Example:
        >>> model = kgan.zoo.load("wavegan_spoken_digits")
        >>> sevens = model.generate(labels=[7] * 4, seed=0)        # (4, 16384, 1)
        >>> kgan.modalities.audio.write_wav("seven.wav", sevens[0])

    Reference: Donahue, McAuley & Puckette 2019, arXiv:1802.04208.
    """

    modality = "audio"
    #: Formats kgan.export refuses (with the reason) instead of writing a wrong file.
    export_unsupported = {
        "tflite-int8": "full-integer quantization of 16384-sample waveforms loses the signal "
                       "(correlation 0.65 with the float model on test_wavegan); use "
                       "quantize='none' or 'float16'.",
    }

    compile_defaults = dict(
        LatentGAN.compile_defaults, loss="wasserstein", learning_rate=1e-4, beta_1=0.5,
        beta_2=0.9, d_steps=5, gp_weight=10.0,
    )

    @property
    def sample_shape(self):
        """Shape of one generated sample: ``(16384, 1)``."""
        return (CLIP_LENGTH, 1)

    @classmethod
    def build(cls, image_shape=(CLIP_LENGTH, 1), latent_dim=100, width=64, num_classes=0,
              phase_shuffle=2, spectral_norm=False, spectral_critic=False, seed=0, name=None):
        """Builds G and D. ``width`` is the paper's model size d (64 in the paper);
        ``spectral_norm`` and ``spectral_critic`` are options of the critic beyond the paper
        (see ``wavegan_discriminator``)."""
        _check_shape(image_shape)
        return cls(
            wavegan_generator(latent_dim, width, num_classes),
            wavegan_discriminator(width, num_classes, phase_shuffle, spectral_norm,
                                  spectral_critic),
            latent_dim=latent_dim, num_classes=num_classes, seed=seed, name=name or "wavegan",
        )


# The zoo entry trains on two CPU cores (no GPU was lent to the session that published it):
# model size d = 16, hinge loss with one critic step on spectrally normalized critics (no
# gradient penalty, whose double backward costs as much as the step), and the spectral
# critic, without which 3,780 steps of this recipe (and 1,000 of the paper's WGAN-GP on a
# GPU) made speech-shaped noise that the classifier heard at chance. ~0.40 s per step
# at batch 32 on 2 cores: 84 steps per epoch, ~34 s; 140 epochs ~80 minutes.
register_family_entries(
    WaveGAN,
    family="wavegan",
    paper="Donahue, McAuley & Puckette 2019, arXiv:1802.04208",
    entries={
        "wavegan_spoken_digits": dict(
            dataset="spoken_digits", epochs=140, weights="wavegan_spoken_digits.weights.h5",
            sha256="9721d8616ddb858581f031cbb2095011c5a057a2a2ba0d5c9d30aa608532b2ad"),
    },
    model_kwargs=dict(latent_dim=100, width=16, spectral_norm=True, spectral_critic=True),
    test_kwargs=dict(latent_dim=8, width=1),
    recipe=dict(batch_size=32, compile=dict(loss="hinge", d_steps=1, gp_weight=0.0,
                                            ema_decay=0.999)),
    conditional=True,
    test_dataset="spoken_digits",
)
