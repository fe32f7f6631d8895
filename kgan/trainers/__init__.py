"""The training step of :class:`kgan.GAN`, per Keras backend.

Each kind's step is written once, in ``keras.ops``: the standard game (losses, penalties,
``d_steps``, alternating / simultaneous updates, the RNG streams keyed on ``(seed, step)``,
augmentation) in :class:`kgan.latent.LatentGAN`, the translation families' in their own
classes. What differs between backends is small and lives in one mixin per backend, as
Keras' own ``keras/src/backend/<backend>/trainer.py`` do (the contract:
:mod:`kgan.trainers.base`):

* :mod:`kgan.trainers.tensorflow`: ``train_step(data)``; gradients from ``tf.GradientTape``,
  latents from ``tf.random.stateless_*``, per-replica slices under ``tf.distribute``.
* :mod:`kgan.trainers.jax`: ``train_step(state, data)`` returning ``(logs, state)``;
  gradients from ``jax.vjp``, updates with ``optimizer.stateless_apply``, latents from
  ``jax.random``; the state of both optimizers travels in Keras' single optimizer slot
  (see :class:`kgan.trainers.base.OptimizerPair`).

:func:`backend_trainer` picks the mixin of the active backend; ``kgan.GAN`` inherits it.
"""

import keras

#: The Keras backends kgan trains on.
SUPPORTED_BACKENDS = ("tensorflow", "jax")


def unsupported_backend_message(backend=None):
    backend = backend or keras.backend.backend()
    return (f"kgan trains on Keras' {' or '.join(repr(b) for b in SUPPORTED_BACKENDS)} "
            f"backend; the active backend is {backend!r}. Set KERAS_BACKEND=tensorflow or "
            "KERAS_BACKEND=jax before importing keras.")


def check_backend():
    """Raises a ``RuntimeError`` naming the supported backends when the active one is not."""
    if keras.backend.backend() not in SUPPORTED_BACKENDS:
        raise RuntimeError(unsupported_backend_message())


def backend_trainer():
    """The training mixin of the active Keras backend (a :class:`kgan.trainers.base.Trainer`
    with the backend's primitives and ``train_step``)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from kgan.trainers.tensorflow import TensorFlowTrainer

        return TensorFlowTrainer
    if backend == "jax":
        from kgan.trainers.jax import JAXTrainer

        return JAXTrainer
    from kgan.trainers.base import Trainer

    class UnsupportedBackendTrainer(Trainer):
        """The mixin on backends kgan does not train on (torch, numpy, openvino): the
        models build, load weights and generate, but ``fit`` says which backends train."""

        def train_step(self, *args, **kwargs):
            raise RuntimeError(unsupported_backend_message())

    return UnsupportedBackendTrainer
