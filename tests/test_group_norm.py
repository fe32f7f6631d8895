"""kgan.layers.GroupNormalization: Keras' layer, whose instance-norm case trains through
TensorFlow's fused kernel, with Keras' results (outputs and gradients)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan import precision
from kgan.layers import GroupNormalization


def _train_step(layer, x):
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
    for ours, theirs in zip(_train_step(fused, x), _train_step(reference, x)):
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


def test_keras_path_where_the_kernel_does_not_apply():
    x = tf.random.stateless_normal((2, 4, 4, 8), seed=(3, 4))
    assert not GroupNormalization(groups=2)._fusable(x)
    assert not GroupNormalization(groups=-1, axis=1)._fusable(x)
    assert not GroupNormalization(groups=-1)._fusable(tf.zeros((2, 4, 8)))
    assert GroupNormalization(groups=8)._fusable(x)


def test_loads_weights_saved_from_keras_layer(tmp_path):
    """Published weights saved from models with Keras' layer load into this one."""
    def model(layer_class):
        inputs = keras.Input((4, 4, 3))
        return keras.Model(inputs, layer_class(groups=-1)(inputs))

    theirs, ours = model(keras.layers.GroupNormalization), model(GroupNormalization)
    for i, weight in enumerate(theirs.weights):
        weight.assign(np.full(weight.shape, i + 2.0))
    theirs.save_weights(tmp_path / "keras.weights.h5")
    ours.load_weights(tmp_path / "keras.weights.h5")
    for a, b in zip(ours.weights, theirs.weights):
        np.testing.assert_array_equal(a, b)
    restored = keras.layers.deserialize(keras.layers.serialize(ours.layers[-1]))
    assert isinstance(restored, GroupNormalization)
