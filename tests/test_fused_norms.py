"""kgan.layers.BatchNormalization and GroupNormalization: Keras' layers, trained through
TensorFlow's fused batch-norm kernel (GroupNormalization in its instance-norm case), with
Keras' results (outputs, gradients and BatchNorm's moving statistics)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan import precision
from kgan.layers import BatchNormalization, GroupNormalization


def _batch_norm_step(layer, x):
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
def test_fused_batch_norm_matches_keras(shape, policy):
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
    for ours, theirs in zip(_batch_norm_step(fused, x), _batch_norm_step(reference, x)):
        np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(fused(x, training=False), reference(x, training=False),
                               rtol=tolerance, atol=tolerance)
    assert fused(x, training=True).dtype == fused.compute_dtype


def test_batch_norm_keras_path_where_the_kernel_does_not_apply():
    x = tf.random.stateless_normal((8, 4), seed=(3, 4))
    assert not BatchNormalization(epsilon=1e-6)._fusable(x, None)
    assert not BatchNormalization(axis=0)._fusable(x, None)
    assert not BatchNormalization()._fusable(x, tf.ones((8,), "bool"))
    assert not BatchNormalization(renorm=True)._fusable(x, None)
    assert BatchNormalization()._fusable(x, None)


def _instance_norm_step(layer, x):
    """Output and gradients (input, gamma, beta) of one training call."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y, "float32") ** 2
                             * tf.cast(tf.range(x.shape[-1]) + 1, "float32"))
    grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return [np.asarray(tf.cast(v, "float32")) for v in [y, *grads]]


@pytest.mark.parametrize("shape", [(1, 6, 5, 4), (3, 4, 6, 5)])
@pytest.mark.parametrize("policy", ["float32", "bfloat16"])
def test_fused_instance_norm_matches_keras(shape, policy):
    x = tf.random.stateless_normal(shape, seed=(1, 2)) * 3.0 + 1.5
    with precision.scope(policy):
        fused = GroupNormalization(groups=-1, epsilon=1e-5)
        reference = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)
    for layer in (fused, reference):
        layer.build(shape)
        layer.gamma.assign(np.linspace(0.5, 2.0, shape[-1]))
        layer.beta.assign(np.linspace(-1.0, 1.0, shape[-1]))
    x = tf.cast(x, fused.compute_dtype)
    assert fused._fusable(x)  # the training calls below run the fused kernel
    tolerance = 1e-4 if policy == "float32" else 3e-2
    for ours, theirs in zip(_instance_norm_step(fused, x), _instance_norm_step(reference, x)):
        np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance)
    assert fused(x, training=True).dtype == fused.compute_dtype
    np.testing.assert_array_equal(fused(x, training=False), reference(x, training=False))


def test_any_batch_inside_a_traced_function():
    """fit traces the step with an unknown batch size: the transposed route handles it."""
    layer = GroupNormalization(groups=-1, epsilon=1e-5)
    reference = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)
    step = tf.function(lambda x: layer(x, training=True),
                       input_signature=[tf.TensorSpec((None, 4, 4, 3))])
    for batch in (1, 5):
        x = tf.random.stateless_normal((batch, 4, 4, 3), seed=(batch, 7))
        np.testing.assert_allclose(step(x), reference(x), rtol=1e-4, atol=1e-4)


def test_group_norm_keras_path_where_the_kernel_does_not_apply():
    x = tf.random.stateless_normal((2, 4, 4, 8), seed=(3, 4))
    assert not GroupNormalization(groups=2)._fusable(x)
    assert not GroupNormalization(groups=-1, axis=1)._fusable(x)
    assert not GroupNormalization(groups=-1)._fusable(tf.zeros((2, 4, 8)))
    assert GroupNormalization(groups=8)._fusable(x)


@pytest.mark.parametrize("ours, theirs, kwargs", [
    (BatchNormalization, keras.layers.BatchNormalization, {}),
    (GroupNormalization, keras.layers.GroupNormalization, {"groups": -1}),
])
def test_loads_weights_saved_from_keras_layer(tmp_path, ours, theirs, kwargs):
    """Published weights saved from models with Keras' layer load into kgan's."""
    def model(layer_class):
        inputs = keras.Input((4, 4, 3))
        return keras.Model(inputs, layer_class(**kwargs)(inputs))

    keras_model, kgan_model = model(theirs), model(ours)
    for i, weight in enumerate(keras_model.weights):
        weight.assign(np.full(weight.shape, i + 2.0))
    keras_model.save_weights(tmp_path / "keras.weights.h5")
    kgan_model.load_weights(tmp_path / "keras.weights.h5")
    for a, b in zip(kgan_model.weights, keras_model.weights):
        np.testing.assert_array_equal(a, b)
    restored = keras.layers.deserialize(keras.layers.serialize(kgan_model.layers[-1]))
    assert isinstance(restored, ours)
