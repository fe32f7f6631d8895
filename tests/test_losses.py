"""Loss functions against hand-computed values."""

import numpy as np
import pytest
import tensorflow as tf

from kgan import losses

REAL = np.array([[2.0], [-1.0]], "float32")
FAKE = np.array([[0.5], [-3.0]], "float32")


def softplus(x):
    return np.log1p(np.exp(x))


def test_minimax_and_non_saturating_discriminator_loss():
    expected = np.mean(-np.log(1 / (1 + np.exp(-REAL)))) + np.mean(-np.log(1 - 1 / (1 + np.exp(-FAKE))))
    for fn in (losses.minimax_discriminator_loss, losses.non_saturating_discriminator_loss):
        assert np.isclose(float(fn(REAL, FAKE)), expected, rtol=1e-5)


def test_generator_losses_by_hand():
    d = 1 / (1 + np.exp(-FAKE))
    assert np.isclose(float(losses.minimax_generator_loss(FAKE)), np.mean(np.log(1 - d)), rtol=1e-5)
    assert np.isclose(float(losses.non_saturating_generator_loss(FAKE)), np.mean(-np.log(d)), rtol=1e-5)
    assert np.isclose(float(losses.least_squares_generator_loss(FAKE)),
                      0.5 * np.mean((FAKE - 1) ** 2))
    assert np.isclose(float(losses.wasserstein_generator_loss(FAKE)), -np.mean(FAKE))
    assert np.isclose(float(losses.hinge_generator_loss(FAKE)), -np.mean(FAKE))


def test_discriminator_losses_by_hand():
    assert np.isclose(float(losses.least_squares_discriminator_loss(REAL, FAKE)),
                      0.5 * np.mean((REAL - 1) ** 2) + 0.5 * np.mean(FAKE ** 2))
    assert np.isclose(float(losses.wasserstein_discriminator_loss(REAL, FAKE)),
                      np.mean(FAKE) - np.mean(REAL))
    assert np.isclose(float(losses.hinge_discriminator_loss(REAL, FAKE)),
                      np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE)))


def _grad(fn, logit):
    x = tf.constant([[logit]], "float32")
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return float(tape.gradient(y, x)[0, 0])


def test_minimax_saturates_where_non_saturating_does_not():
    # Both generator losses are minimised by pushing D(G(z)) -> 1 (same fixed point)...
    for fn in (losses.minimax_generator_loss, losses.non_saturating_generator_loss):
        assert _grad(fn, 0.0) < 0
    # ... but when D confidently rejects fakes (D(G(z)) ~ 0, logit -10) minimax's
    # gradient vanishes while the non-saturating one stays near -1.
    assert abs(_grad(losses.minimax_generator_loss, -10.0)) < 1e-4
    assert _grad(losses.non_saturating_generator_loss, -10.0) < -0.99


def test_gradient_penalty_on_linear_critic():
    w = tf.constant([[3.0], [4.0]])  # ||w|| = 5 -> penalty (5 - 1)^2 = 16

    def critic(x):
        return tf.matmul(tf.reshape(x, (-1, 2)), w)

    real = tf.random.normal((4, 1, 2, 1))
    fake = tf.random.normal((4, 1, 2, 1))
    eps = tf.random.uniform((4, 1, 1, 1))
    assert np.isclose(float(losses.gradient_penalty(critic, real, fake, eps)), 16.0, rtol=1e-5)
    assert np.isclose(float(losses.r1_penalty(critic, real)), 25.0, rtol=1e-5)


def test_gradient_penalty_interpolates_per_example():
    # A critic whose input gradient is x itself: the penalty depends on x_hat exactly.
    def critic(x):
        return 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])

    real = tf.ones((2, 1, 1, 1))
    fake = tf.zeros((2, 1, 1, 1))
    eps = tf.constant([0.0, 1.0], shape=(2, 1, 1, 1))  # x_hat = [1, 0]
    expected = np.mean([(1.0 - 1.0) ** 2, (0.0 - 1.0) ** 2])
    assert np.isclose(float(losses.gradient_penalty(critic, real, fake, eps)), expected, atol=1e-5)


def test_unknown_loss_name():
    with pytest.raises(ValueError, match="Unknown GAN loss 'foo'.*non_saturating"):
        losses.get("foo")


def test_losses_input_gradients_match_penalties():
    """The backend-neutral penalty helpers (both trainers' GP and R1) on a linear critic."""
    w = tf.constant([[1.0], [2.0], [2.0]])  # ||w|| = 3

    def critic(x):
        return tf.matmul(tf.reshape(x, (-1, 3)), w)

    x = tf.random.normal((5, 1, 3, 1))
    grads = losses.input_gradients(critic, [x])
    np.testing.assert_allclose(grads.numpy().reshape(5, 3), np.tile([1.0, 2.0, 2.0], (5, 1)))
    assert np.isclose(float(losses.gradient_penalty_from_gradients(grads)), 4.0)
    assert np.isclose(float(losses.r1_penalty_from_gradients(grads)), 9.0)
