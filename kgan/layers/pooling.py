"""Global sum pooling: the pooling of SNGAN's and BigGAN's ResNet discriminators."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kgan")
class GlobalSumPooling2D(keras.layers.Layer):
    """``(B, H, W, C) -> (B, C)``: the sum over the spatial positions.

    Miyato et al.'s ResNet critics sum rather than average the final features, so the
    logits' scale grows with the number of positions (what their hinge-loss recipe assumes).
    """

    def call(self, inputs):
        return ops.sum(inputs, axis=(1, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])
