"""Sub-pixel upsampling (Shi et al. 2016), SRGAN's upsampling stage."""

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="kgan")
class PixelShuffle(layers.Layer):
    """Sub-pixel upsampling (Shi et al. 2016): ``keras.ops.depth_to_space`` by ``block``,
    ``(H, W, block**2 * C)`` -> ``(block*H, block*W, C)``."""

    def __init__(self, block=2, **kwargs):
        super().__init__(**kwargs)
        self.block = int(block)

    def call(self, x):
        return keras.ops.depth_to_space(x, self.block)

    def compute_output_shape(self, shape):
        h, w = (None if d is None else d * self.block for d in shape[1:3])
        return (shape[0], h, w, shape[3] // self.block ** 2)

    def get_config(self):
        return {**super().get_config(), "block": self.block}
