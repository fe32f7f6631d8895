"""Reflection padding: CycleGAN's ResNet generator pads by mirroring the border."""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="kgan")
class ReflectionPadding2D(layers.Layer):
    """Pads height and width by mirroring the border (no edge artefacts from zero padding)."""

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        p = 2 * self.padding
        return (b, None if h is None else h + p, None if w is None else w + p, c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}
