"""A critic's view of audio as a spectrogram, inside the network so gradients reach G."""

import keras

from kgan.modalities import audio


@keras.saving.register_keras_serializable(package="kgan")
class LogMagnitude(keras.layers.Layer):
    """Waveforms ``(B, 16384, 1)`` -> log-magnitude STFT ``(B, 128, 128, 1)``.

    The same STFT as ``kgan.modalities.audio.log_magnitude`` (SpecGAN's data), with a higher
    ``floor`` under the magnitude: a critic then sees quiet noise above digital silence, and
    the log's gradient ``1 / (|X| + floor)`` stays bounded. It has no weights.

    Args:
        floor: added to the magnitude before the log.
    """

    def __init__(self, floor=1e-2, **kwargs):
        super().__init__(**kwargs)
        if not floor > 0:
            raise ValueError(f"LogMagnitude floor must be > 0; received {floor!r}.")
        self.floor = float(floor)

    def call(self, waveforms):
        return audio.log_magnitude_ops(waveforms[..., 0], self.floor)[..., None]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *audio.SPECTROGRAM_SHAPE, 1)

    def get_config(self):
        return {**super().get_config(), "floor": self.floor}
