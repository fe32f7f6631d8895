"""What the training steps of every kind of kgan GAN share, on every Keras backend.

A kind's step (``_gan_step(data) -> logs``: :class:`kgan.latent.LatentGAN`'s standard game,
or a translation family's own) is written once, in ``keras.ops``, and never names a
backend. Six primitives do, implemented by :mod:`kgan.trainers.tensorflow` and
:mod:`kgan.trainers.jax` (the mixin :func:`kgan.trainers.backend_trainer` picks, which
``kgan.GAN`` inherits):

``_value_and_grads(fn, variable_lists)``
    runs ``fn() -> (losses, aux)`` (a tuple of scalar losses, one per variable list) and
    returns ``(losses, aux, grads)``, ``grads[i]`` the gradient of ``losses[i]`` with
    respect to ``variable_lists[i]``. ``fn`` reads and assigns Keras variables in the
    ordinary way (network calls update BatchNorm statistics, trackers record losses).
``_input_gradients(critic, x)``
    d sum(critic(x)) / dx, differentiable again (the penalties' double backpropagation).
``_apply(optimizer, grads, variables)``
    one optimizer update (the generator optimizer's EMA included).
``_random(kind, batch, tail, stream, fold=None)``
    ``"normal"`` / ``"uniform"`` draws of shape ``(batch, *tail)`` for this replica, a pure
    function of ``(seed, step, stream[, fold])``.
``_replica_info()`` / ``_cross_replica_sum(x)``
    ``(replica_id, num_replicas)`` and a sum over replicas (1 and identity on JAX, whose
    ``keras.distribution`` steps see the global batch).

This module holds the backend-neutral part: :class:`Trainer` (the step counter and the
one-device defaults), :class:`OptimizerPair` (both players' optimizers in Keras' one
optimizer slot), the RNG stream layout, and the batch helpers.
"""

import numpy as np
from keras import ops

try:
    import tensorflow as tf
except ImportError:  # JAX without TensorFlow: fit takes arrays and Python iterables
    tf = None

#: RNG streams per step: discriminator update k draws its latents from stream k and its
#: interpolation coefficients from stream ``GENERATOR_STREAM - 1 - k``, the generator
#: update from stream ``GENERATOR_STREAM``; so at most half of the streams below it can be
#: discriminator updates.
GENERATOR_STREAM = 64
MAX_D_STEPS = GENERATOR_STREAM // 2

#: Keys folded into a step's stream seed for the augmentation draws of the reals and of the
#: fakes (``compile(augment=...)``): the latent and interpolation draws stay as they were.
AUGMENT_FOLDS = (0x41756752, 0x41756746)


class OptimizerPair:
    """Both players' optimizers in Keras' one ``model.optimizer`` slot.

    Keras' trainers know one optimizer. The JAX trainer threads ``model.optimizer.variables``
    through every jitted step as the third part of its state ``(trainable, non_trainable,
    optimizer, metrics)`` and writes it back in ``jax_state_sync()``; ``BackupAndRestore``,
    ``_symbolic_build`` and ``summary()`` build or count it. A GAN's ``optimizer`` is this
    pair, whose ``variables`` are the discriminator optimizer's followed by the generator
    optimizer's (EMA slots and loss-scale state included), so Keras threads, syncs, counts
    and builds both without knowing there are two. ``optimizers`` is the attribute Keras'
    callbacks look for on a multi-optimizer (``LearningRateScheduler``,
    ``ReduceLROnPlateau``, ``TensorBoard``). It is not a ``KerasSaveable``: weight files keep
    their ``d_optimizer`` / ``g_optimizer`` entries and nothing else.
    """

    def __init__(self, model):
        self._model = model

    @property
    def optimizers(self):
        return [self._model.d_optimizer, self._model.g_optimizer]

    @property
    def variables(self):
        return [v for optimizer in self.optimizers for v in optimizer.variables]

    @property
    def built(self):
        return all(optimizer.built for optimizer in self.optimizers)

    def build(self, var_list=None):
        """Builds each player's optimizer on its own network (``var_list`` is ignored)."""
        del var_list
        self._model.build_optimizers()

    @property
    def iterations(self):
        """The generator's steps: what a GAN calls its training step."""
        return self._model.g_optimizer.iterations

    @property
    def name(self):
        return "optimizer_pair"

    def __repr__(self):
        return f"OptimizerPair(d={self.optimizers[0].name!r}, g={self.optimizers[1].name!r})"


def split_batch(data):
    """Accepts ``images``, ``(images,)``, ``(images, labels)`` or a dict batch."""
    if isinstance(data, dict):
        return data.get("image", data.get("images")), data.get("label", data.get("labels"))
    if isinstance(data, (tuple, list)):
        if len(data) == 1:
            return data[0], None
        return data[0], data[1]
    return data, None


def first_batch(x, y):
    """The batch ``fit(x, y)`` starts with, for the kind's checks before any step: a
    dataset's first element, or ``x`` (``(x, y)`` with targets / labels) for arrays; None
    for Python generators and PyDatasets, which the step checks when it is traced."""
    if tf is not None and isinstance(x, tf.data.Dataset):
        element = next(iter(x.take(1)), None)
        if element is None:
            raise ValueError("The training dataset is empty: it yielded no batch.")
        return element
    if x is None:
        raise ValueError("fit() needs training data: a tf.data.Dataset, a "
                         "keras.utils.PyDataset or arrays.")
    if isinstance(x, np.ndarray) or hasattr(x, "__array__") or (
            tf is not None and isinstance(x, tf.Tensor)):
        return x if y is None else (x, y)
    return None


def static_rank(x):
    """The rank of ``x`` when it is known statically (None for an unknown-rank tensor)."""
    rank = getattr(x.shape, "rank", None)  # tf.TensorShape of unknown rank: None
    if rank is None and not hasattr(x.shape, "rank"):
        rank = len(x.shape)
    return rank


class Trainer:
    """The backend-neutral half of the primitives; the backend mixins add the rest."""

    def _replica_info(self):
        return 0, 1

    def _cross_replica_sum(self, x):
        return x

    def _step_counter(self):
        """The generator step that keys this step's draws (int32)."""
        return ops.cast(self.g_optimizer.iterations, "int32")
