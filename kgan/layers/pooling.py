"""Pooling layers: global sum pooling (SNGAN's and BigGAN's ResNet discriminators) and the
masked mean of word vectors (kgan's text encoder)."""

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


@keras.saving.register_keras_serializable(package="kgan")
class MaskedMean(keras.layers.Layer):
    """Mean of word vectors ``(B, T, D)`` over the known words of ids ``(B, T)``: id 0
    (padding) and id 1 (TextVectorization's out-of-vocabulary ``[UNK]``) are left out, so an
    unknown word changes nothing. A caption without known words gives zeros, not 0 / 0."""

    def call(self, vectors, ids):
        mask = keras.ops.cast(keras.ops.greater(ids, 1), vectors.dtype)[..., None]
        total = keras.ops.sum(vectors * mask, axis=1)
        return total / keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)

    def compute_output_shape(self, vectors_shape, ids_shape):
        return (vectors_shape[0], vectors_shape[2])
