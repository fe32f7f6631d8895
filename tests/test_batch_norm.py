"""kgan.layers.BatchNormalization: Keras' layer, trained through TensorFlow's fused kernel,
with Keras' results (outputs, gradients and moving statistics)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan import precision
from kgan.layers import BatchNormalization


def _train_step(layer, x):
    """Output, gradients (input, gamma, beta) and moving statistics of one training call."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y, "float32") * tf.cast(tf.range(x.shape[-1]) + 1,
                                                             "float32"))
    grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return [np.asarray(tf.cast(v, "float32")) for v in
            [y, *grads, layer.moving_mean, layer.moving_variance]]


@pytest.mark.parametrize("shape", [(16, 5), (4, 6, 5), (4, 3, 6, 5), (2, 3, 2, 4, 5)])
@pytest.mark.parametrize("policy", ["float32", "bfloat16"])
def test_fused_training_call_matches_keras(shape, policy):
    x = tf.random.stateless_normal(shape, seed=(1, 2)) * 3.0 + 1.5
    with precision.scope(policy):
        fused = BatchNormalization(momentum=0.9)
        reference = keras.layers.BatchNormalization(momentum=0.9)
    for layer in (fused, reference):
        layer.build(shape)
        layer.gamma.assign(np.linspace(0.5, 2.0, shape[-1]))
        layer.beta.assign(np.linspace(-1.0, 1.0, shape[-1]))
    x = tf.cast(x, fused.compute_dtype)
    assert fused._fusable(x, None)  # the training calls below run the fused kernel
    tolerance = 1e-4 if policy == "float32" else 3e-2
    for ours, theirs in zip(_train_step(fused, x), _train_step(reference, x)):
        np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(fused(x, training=False), reference(x, training=False),
                               rtol=tolerance, atol=tolerance)
    assert fused(x, training=True).dtype == fused.compute_dtype


def test_keras_path_where_the_kernel_does_not_apply():
    x = tf.random.stateless_normal((8, 4), seed=(3, 4))
    assert not BatchNormalization(epsilon=1e-6)._fusable(x, None)
    assert not BatchNormalization(axis=0)._fusable(x, None)
    assert not BatchNormalization()._fusable(x, tf.ones((8,), "bool"))
    assert not BatchNormalization(renorm=True)._fusable(x, None)
    assert BatchNormalization()._fusable(x, None)


def test_loads_weights_saved_from_keras_layer(tmp_path):
    """Published weights saved from models with Keras' layer load into this one."""
    def model(layer_class):
        inputs = keras.Input((4, 4, 3))
        return keras.Model(inputs, layer_class()(inputs))

    theirs, ours = model(keras.layers.BatchNormalization), model(BatchNormalization)
    for i, weight in enumerate(theirs.weights):
        weight.assign(np.full(weight.shape, i + 2.0))
    theirs.save_weights(tmp_path / "keras.weights.h5")
    ours.load_weights(tmp_path / "keras.weights.h5")
    for a, b in zip(ours.weights, theirs.weights):
        np.testing.assert_array_equal(a, b)
    restored = keras.layers.deserialize(keras.layers.serialize(ours.layers[-1]))
    assert isinstance(restored, BatchNormalization)
