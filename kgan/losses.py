"""Adversarial losses as paired pure functions of discriminator logits (TF-GAN style).

Every family picks a pair by name: ``<name>_generator_loss(fake_logits)`` and
``<name>_discriminator_loss(real_logits, fake_logits)``. All functions return the mean
over the batch they are given; ``kgan.GAN`` divides by the number of replicas itself.

References:
    minimax / non_saturating: Goodfellow et al. 2014, "Generative Adversarial Nets".
    least_squares: Mao et al. 2017, "Least Squares Generative Adversarial Networks".
    wasserstein + gradient_penalty: Gulrajani et al. 2017, "Improved Training of WGANs".
    hinge: Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018.
    wasserstein_drift: Karras et al. 2018, "Progressive Growing of GANs" (WGAN-GP + drift).
    r1_penalty: Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?".
"""

import keras
from keras import ops

LOSS_NAMES = ("minimax", "non_saturating", "least_squares", "wasserstein", "hinge",
              "wasserstein_drift")

#: Weight of ProGAN's drift term E[D(x)^2] (Karras et al. 2018, appendix A.1).
DRIFT_EPSILON = 1e-3


def _mean(x):
    return ops.mean(ops.cast(x, "float32"))


def minimax_discriminator_loss(real_logits, fake_logits):
    """-log D(x) - log(1 - D(G(z))), computed stably from logits."""
    return _mean(ops.softplus(-real_logits)) + _mean(ops.softplus(fake_logits))


def minimax_generator_loss(fake_logits):
    """The original saturating loss: log(1 - D(G(z))) = -softplus(logit).

    Its gradient vanishes when D confidently rejects the fakes (D(G(z)) -> 0), which is
    why ``non_saturating`` is the usual default.
    """
    return -_mean(ops.softplus(fake_logits))


non_saturating_discriminator_loss = minimax_discriminator_loss


def non_saturating_generator_loss(fake_logits):
    """-log D(G(z)) = softplus(-logit): same fixed point, strong gradient early on."""
    return _mean(ops.softplus(-fake_logits))


def least_squares_discriminator_loss(real_logits, fake_logits):
    """0.5 (D(x) - 1)^2 + 0.5 D(G(z))^2 on raw outputs (a=0, b=c=1)."""
    return 0.5 * _mean(ops.square(real_logits - 1.0)) + 0.5 * _mean(ops.square(fake_logits))


def least_squares_generator_loss(fake_logits):
    return 0.5 * _mean(ops.square(fake_logits - 1.0))


def wasserstein_discriminator_loss(real_logits, fake_logits):
    """Critic loss E[D(G(z))] - E[D(x)]."""
    return _mean(fake_logits) - _mean(real_logits)


def wasserstein_generator_loss(fake_logits):
    return -_mean(fake_logits)


def hinge_discriminator_loss(real_logits, fake_logits):
    return _mean(ops.relu(1.0 - real_logits)) + _mean(ops.relu(1.0 + fake_logits))


#: The hinge GAN's generator loss is the Wasserstein one: -E[D(G(z))].
hinge_generator_loss = wasserstein_generator_loss


def wasserstein_drift_discriminator_loss(real_logits, fake_logits):
    """ProGAN's critic loss: Wasserstein + ``DRIFT_EPSILON`` * E[D(x)^2].

    The small drift term keeps the critic's output from drifting far from zero, which
    WGAN-GP alone leaves free (Karras et al. 2018, appendix A.1).
    """
    return (wasserstein_discriminator_loss(real_logits, fake_logits)
            + DRIFT_EPSILON * _mean(ops.square(real_logits)))


wasserstein_drift_generator_loss = wasserstein_generator_loss


def l1_distance(x, y):
    """Mean absolute difference of two image batches, in float32: pix2pix's L1 term and
    CycleGAN's cycle and identity terms."""
    return ops.mean(ops.abs(ops.cast(x, "float32") - ops.cast(y, "float32")))


def get(name):
    """Returns ``(generator_loss, discriminator_loss)`` for a loss name."""
    if name not in LOSS_NAMES:
        raise ValueError(
            f"Unknown GAN loss {name!r}. Expected one of {', '.join(LOSS_NAMES)}."
        )
    module = globals()
    return module[f"{name}_generator_loss"], module[f"{name}_discriminator_loss"]


def input_gradients(critic, inputs):
    """Gradient of ``sum(critic(inputs))`` with respect to ``inputs[0]`` (the images).

    Each logit depends on its own example only (for critics without BatchNorm), so this is
    the per-example input gradient that the penalties need. It stays differentiable with
    respect to the critic's weights (double backpropagation): ``tf.GradientTape`` under the
    TensorFlow backend, ``jax.grad`` under JAX.

    Args:
        critic: callable taking images (or ``[images, *inputs[1:]]``) -> logits. Under JAX
            it must be a pure function of its input (e.g. built on ``stateless_call``).
        inputs: ``[images, *conditioning]``; conditioning is passed through unchanged.
    """
    images, conditioning = inputs[0], list(inputs[1:])

    def call(x):
        return critic([x, *conditioning] if conditioning else x)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(images)
            logits = call(images)
        return tape.gradient(logits, images)
    if backend == "jax":
        import jax

        return jax.grad(lambda x: ops.sum(call(x)))(images)
    raise NotImplementedError(
        f"Input gradients (gradient / R1 penalties) are implemented for the tensorflow and "
        f"jax backends; the active Keras backend is {backend!r}."
    )


def _gradient_norm_sq(grads):
    """Per-example squared L2 norm of input gradients ``(B, ...)`` -> ``(B,)``."""
    axes = list(range(1, len(grads.shape)))
    return ops.sum(ops.square(ops.cast(grads, "float32")), axis=axes)


def gradient_penalty_from_gradients(grads):
    """E[(||g||_2 - 1)^2] for per-example critic input gradients ``g`` at the interpolates.

    :func:`gradient_penalty` computes the gradients itself; trainers that must thread
    layer state through the critic call (``kgan.trainers``) compute them and call this.
    """
    norm = ops.sqrt(_gradient_norm_sq(grads) + 1e-12)
    return _mean(ops.square(norm - 1.0))


def r1_penalty_from_gradients(grads):
    """E[||g||^2] for per-example critic input gradients ``g`` at real images."""
    return _mean(_gradient_norm_sq(grads))


def gradient_penalty(critic, real, fake, epsilon, conditioning=()):
    """WGAN-GP penalty E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates.

    Args:
        critic: callable taking images (or ``[images, *conditioning]``) -> logits.
        real, fake: image batches of the same shape.
        epsilon: interpolation coefficients, one per example, shape ``(B, 1, ..., 1)``.
        conditioning: extra critic inputs (e.g. labels) passed through unchanged.
    """
    epsilon = ops.cast(epsilon, real.dtype)
    x_hat = real + epsilon * (fake - real)
    return gradient_penalty_from_gradients(input_gradients(critic, [x_hat, *conditioning]))


def r1_penalty(critic, real, conditioning=()):
    """R1 penalty E[||grad D(x)||^2] on real data (multiply by gamma / 2 yourself)."""
    return r1_penalty_from_gradients(input_gradients(critic, [real, *conditioning]))


__all__ = [
    "LOSS_NAMES",
    "get",
    "gradient_penalty",
    "gradient_penalty_from_gradients",
    "input_gradients",
    "r1_penalty",
    "r1_penalty_from_gradients",
] + [f"{n}_{p}_loss" for n in LOSS_NAMES for p in ("generator", "discriminator")]
