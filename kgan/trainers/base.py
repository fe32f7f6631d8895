"""The GAN game, written once in ``keras.ops``; the backend mixins supply its gradients.

:class:`GANTrainer` is the training half of :class:`kgan.GAN`: per batch, ``d_steps``
discriminator updates then one generator update (``update="alternating"``), or both players
from one forward pass (``"simultaneous"``); the loss pair, the WGAN-GP and R1 penalties,
DiffAugment / ADA, the trackers, and latents keyed on ``(seed, step, stream)``. It never
names a backend. Six primitives do, implemented by :mod:`kgan.trainers.tensorflow` and
:mod:`kgan.trainers.jax`:

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

Families extend the game through the same hooks as before (``_d``, ``_g``,
``_critic_loss``, ``_generator_loss``, ``_discriminator_update`` ...), written in
``keras.ops`` and these primitives, and then train on both backends.
"""

import keras
from keras import ops

from kgan import augment as gan_augment
from kgan import losses as gan_losses
from kgan._validation import check_images

#: RNG streams per step: discriminator update k draws its latents from stream k and its
#: interpolation coefficients from stream ``_MAX_D_STEPS - 1 - k``, the generator update
#: from stream ``_MAX_D_STEPS``; so at most half of them can be discriminator updates.
_MAX_D_STEPS = 64
MAX_D_STEPS = _MAX_D_STEPS // 2

#: Keys folded into a step's stream seed for the augmentation draws of the reals and of the
#: fakes (``compile(augment=...)``): the latent and interpolation draws stay as they were.
_AUGMENT_FOLDS = (0x41756752, 0x41756746)


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


def _static_rank(x):
    rank = getattr(x.shape, "rank", None)  # tf.TensorShape of unknown rank: None
    if rank is None and not hasattr(x.shape, "rank"):
        rank = len(x.shape)
    return rank


class GANTrainer:
    """The game of :class:`kgan.GAN`, backend-neutral; see the module docstring."""

    # ------------------------------------------------------------------ primitives
    def _value_and_grads(self, fn, variable_lists):
        raise NotImplementedError

    def _input_gradients(self, critic, x):
        raise NotImplementedError

    def _apply(self, optimizer, grads, variables):
        raise NotImplementedError

    def _random(self, kind, batch, tail, stream, fold=None):
        raise NotImplementedError

    def _replica_info(self):
        return 0, 1

    def _cross_replica_sum(self, x):
        return x

    # ------------------------------------------------------------------ the step
    def _step_counter(self):
        """The generator step that keys this step's draws (int32)."""
        return ops.cast(self.g_optimizer.iterations, "int32")

    def sample_latents(self, batch_size, stream):
        """Latents for this replica's share of the global batch at the current step."""
        return self._random("normal", batch_size, (self.latent_dim,), stream)

    def _prepare_batch(self, data):
        """``(images float32, cond)`` from a batch, checked against the model."""
        images, labels = split_batch(data)
        if _static_rank(images) is not None:
            check_images(images, self.image_shape, static=True)
        cond = ()
        if self.conditional:
            if labels is None:
                raise ValueError(
                    f"{self.name} is conditional but the batches have no labels; load the "
                    "data with labels=True."
                )
            cond = (ops.reshape(ops.cast(labels, "int32"), (-1,)),)
        # Data stay float32 (like G's float32 output) whatever the dtype policy: each
        # network casts to its compute dtype itself, and the penalties' input gradients
        # and the losses see unrounded images under mixed_bfloat16 / mixed_float16.
        return ops.cast(images, "float32"), cond

    def _gan_step(self, data):
        """One training step on a batch; returns the logs (the trackers' results)."""
        images, cond = self._prepare_batch(data)
        batch = ops.shape(images)[0]
        _, num_replicas = self._replica_info()
        if self.update == "simultaneous":
            self._simultaneous_update(images, self.sample_latents(batch, 0), cond, num_replicas)
        else:
            for k in range(self.d_steps):
                z = self.sample_latents(batch, k)
                self._discriminator_update(images, z, cond, num_replicas, stream=k)
            z = self.sample_latents(batch, _MAX_D_STEPS)
            self._generator_update(z, cond, num_replicas)
        logs = {m.name: m.result() for m in self.metrics}
        if self.augment == gan_augment.ADA:
            logs["ada_p"] = ops.copy(self.ada_p.value)
        return logs

    def _d(self, images, cond, training=True):
        logits = self.discriminator([images, *cond] if cond else images, training=training)
        return ops.cast(logits, "float32")

    def _g(self, z, cond, training=True):
        return self.generator([z, *cond] if cond else z, training=training)

    def _augment(self, images, stream, part):
        """``compile(augment=...)`` applied to a batch about to enter D (``part`` 0: reals,
        1: fakes); the draws come from the step's ``stream``, per replica like latents."""
        if self.augment is None:
            return images
        params = self._random("uniform", ops.shape(images)[0], (gan_augment.NUM_PARAMS,),
                              stream, fold=_AUGMENT_FOLDS[part])
        p = self.ada_p.value if self.augment == gan_augment.ADA else None
        return gan_augment.apply(images, self.augment, params, p)

    def _adapt(self, real_logits):
        """ADA: moves p after a D update from r_t = E[sign(D(real))] over the global batch
        (summed across replicas, so every replica computes the same p)."""
        if self.augment != gan_augment.ADA:
            return
        logits = ops.cast(real_logits, "float32")
        stats = self._cross_replica_sum(ops.stack([
            ops.sum(ops.sign(logits)), ops.cast(ops.size(logits), "float32"),
            ops.cast(ops.shape(logits)[0], "float32")]))
        self.ada_p.assign(gan_augment.ada_adjust(
            self.ada_p.value, stats[0] / stats[1], stats[2], self.ada_target, self.ada_kimg))

    def _critic(self, cond):
        """The penalties' view of D: ``[images, *cond] -> logits``."""
        def critic(inputs):
            return self._d(inputs[0], inputs[1:]) if cond else self._d(inputs, ())
        return critic

    def _penalty_gradients(self, x, cond):
        critic = self._critic(cond)
        if cond:
            return self._input_gradients(lambda x_: critic([x_, *cond]), x)
        return self._input_gradients(critic, x)

    def _critic_loss(self, images, fake, cond, stream):
        """D's loss on a real and a fake batch, with the penalties; also returns the logits.
        With ``augment``, both batches are augmented first and the penalties see them so."""
        images = self._augment(images, stream, 0)
        fake = self._augment(fake, stream, 1)
        real_logits = self._d(images, cond)
        fake_logits = self._d(fake, cond)
        total = self.discriminator_loss_fn(real_logits, fake_logits)
        penalties = {}
        if self.gp_weight:
            eps = self._random("uniform", ops.shape(images)[0], (1,) * len(self.image_shape),
                               _MAX_D_STEPS - 1 - stream)
            fixed = ops.cast(ops.stop_gradient(fake), images.dtype)
            x_hat = images + ops.cast(eps, images.dtype) * (fixed - images)
            penalties["gp"] = gan_losses.gradient_penalty_from_gradients(
                self._penalty_gradients(x_hat, cond))
            total += self.gp_weight * penalties["gp"]
        if self.r1_weight:
            penalties["r1"] = gan_losses.r1_penalty_from_gradients(
                self._penalty_gradients(images, cond))
            total += 0.5 * self.r1_weight * penalties["r1"]
        return total, penalties, real_logits, fake_logits

    def _track_discriminator(self, total, penalties, real_logits, fake_logits):
        """Records the latest discriminator update's loss, penalties and accuracies."""
        threshold = 0.5 if self.loss_name == "least_squares" else 0.0
        self._trackers["d_loss"].update_state(total)
        for name, value in penalties.items():
            self._trackers[name].update_state(value)
        self._trackers["d_real_acc"].update_state(
            ops.mean(ops.cast(real_logits > threshold, "float32")))
        self._trackers["d_fake_acc"].update_state(
            ops.mean(ops.cast(fake_logits <= threshold, "float32")))

    def _discriminator_gradients(self, images, z, cond, num_replicas, stream):
        """D's gradients on a real batch and G(z): ``(grads, variables, (total, penalties,
        real_logits, fake_logits))``. G runs outside the differentiated function: D's
        update does not reach G."""
        fake = self._g(z, cond, training=True)
        variables = self.discriminator.trainable_variables

        def loss_fn():
            losses = self._critic_loss(images, fake, cond, stream)
            return (self.d_optimizer.scale_loss(losses[0] / num_replicas),), losses

        _, losses, (grads,) = self._value_and_grads(loss_fn, [variables])
        return grads, variables, losses

    def _discriminator_update(self, images, z, cond, num_replicas, stream):
        grads, variables, losses = self._discriminator_gradients(
            images, z, cond, num_replicas, stream)
        self._apply(self.d_optimizer, grads, variables)
        self._track_discriminator(*losses)
        self._adapt(losses[2])

    def _simultaneous_update(self, images, z, cond, num_replicas):
        """Both players' gradients from one forward pass G(z), D(real), D(G(z))."""
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables

        def loss_fn():
            fake = self._g(z, cond, training=True)
            total, penalties, real_logits, fake_logits = self._critic_loss(
                images, fake, cond, stream=0)
            g_loss = self.generator_loss_fn(fake_logits)
            scaled = (self.d_optimizer.scale_loss(total / num_replicas),
                      self.g_optimizer.scale_loss(g_loss / num_replicas))
            return scaled, (total, penalties, real_logits, fake_logits, g_loss)

        _, aux, (d_grads, g_grads) = self._value_and_grads(loss_fn, [d_vars, g_vars])
        total, penalties, real_logits, fake_logits, g_loss = aux
        self._apply(self.d_optimizer, d_grads, d_vars)
        self._apply(self.g_optimizer, g_grads, g_vars)
        self._track_discriminator(total, penalties, real_logits, fake_logits)
        self._trackers["g_loss"].update_state(g_loss)
        self._adapt(real_logits)

    def _generator_update(self, z, cond, num_replicas):
        variables = self.generator.trainable_variables

        def loss_fn():
            loss = self._generator_loss(z, cond)
            return (self.g_optimizer.scale_loss(loss / num_replicas),), None

        _, _, (grads,) = self._value_and_grads(loss_fn, [variables])
        self._apply(self.g_optimizer, grads, variables)

    def _generator_loss(self, z, cond):
        """G's loss on latents ``z`` (recorded as ``g_loss``); families add their terms."""
        fake = self._augment(self._g(z, cond, training=True), _MAX_D_STEPS, 1)
        g_loss = self.generator_loss_fn(self._d(fake, cond))
        self._trackers["g_loss"].update_state(g_loss)
        return g_loss


class UnsupportedBackendTrainer(GANTrainer):
    """The mixin on backends kgan does not train on (torch, numpy, openvino): the models
    build, load weights and generate, but ``fit`` says which backends train."""

    def train_step(self, *args, **kwargs):
        from kgan.trainers import unsupported_backend_message

        raise RuntimeError(unsupported_backend_message())
