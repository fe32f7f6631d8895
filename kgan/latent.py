"""``kgan.LatentGAN``: the kind of GAN that turns noise into samples, and its standard game.

Every noise-to-sample family (DCGAN, CGAN, VanillaGAN, WGAN-GP, SNGAN, ProGAN, StyleGAN,
Text2Image, StackGAN, 3D-GAN, WaveGAN, SpecGAN) is a :class:`LatentGAN`: its generator maps
a latent z ~ N(0, I) (and, when conditional, a class label) to a sample, ``generate``
samples it, and ``fit`` plays the standard game written here once, in ``keras.ops`` on the
primitives of :mod:`kgan.trainers`: per batch, ``d_steps`` discriminator updates then one
generator update (``update="alternating"``, Goodfellow et al.'s algorithm), or both players
from one forward pass (``"simultaneous"``, TensorFlow's DCGAN tutorial); the loss pair, the
WGAN-GP and R1 penalties, DiffAugment / ADA, and the trackers. Families change the game
through its hooks (``_d``, ``_g``, ``_critic_loss``, ``_generator_loss``,
``_discriminator_update`` ...).

The step gives the same result on one device and under ``tf.distribute``: losses are means
over the replica's batch divided by the number of replicas (Keras optimizers sum gradients
across replicas), and latents and interpolation coefficients are drawn for the *global*
batch from a stateless RNG keyed on ``(seed, step, stream)``, each replica taking its own
slice. With BatchNorm synchronised across replicas (the builders do this), 1 and N replicas
train to the same weights. Layers that look at the batch on purpose, minibatch
discrimination and minibatch stddev, see each replica's share of it, as in the papers'
multi-GPU setups; dropout masks also differ per replica.
"""

import keras
import numpy as np
from keras import ops

from kgan import augment as gan_augment
from kgan import losses as gan_losses
from kgan.gan import GAN
from kgan.trainers.base import AUGMENT_FOLDS, GENERATOR_STREAM, split_batch, static_rank
from kgan.validation import check_images, check_labels, check_latents

#: Every tracker the standard game may report, in the order logs list them.
METRIC_NAMES = ("d_loss", "g_loss", "gp", "r1", "d_real_acc", "d_fake_acc")


@keras.saving.register_keras_serializable(package="kgan")
class LatentGAN(GAN):
    """A GAN whose generator maps latents (and labels) to samples, trained with the
    standard game.

    Args:
        generator: ``keras.Model`` mapping a latent batch ``(B, latent_dim)`` (and, when
            ``num_classes > 0``, integer labels ``(B,)``) to samples ``(B, H, W, C)`` in
            [-1, 1].
        discriminator: ``keras.Model`` mapping samples (and labels) to logits ``(B, 1)``.
        latent_dim: size of the latent vector z.
        num_classes: number of classes for conditional models; 0 when unconditional.
        seed: seed of the latent RNG used in training (latents are a pure function of
            ``seed`` and the step number, which makes training reproducible and resumable).

    Example:
        >>> model = kgan.LatentGAN(generator, discriminator, latent_dim=64)
        >>> model.compile(loss="hinge", augment="ada")
        >>> model.fit(kgan.data.load("mnist", batch_size=32), epochs=1)
        >>> images = model.generate(16, seed=0)                   # (16, 28, 28, 1) in [-1, 1]
    """

    metric_names = METRIC_NAMES

    def __init__(self, generator, discriminator, latent_dim, num_classes=0, seed=0, **kwargs):
        super().__init__(generator, discriminator, seed=seed, **kwargs)
        self.latent_dim = int(latent_dim)
        self.num_classes = int(num_classes)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "num_classes": self.num_classes}

    # ------------------------------------------------------------------ inference
    def generate(self, n=None, z=None, labels=None, seed=None, batch_size=256):
        """Samples images from the generator (its EMA weights when trained with them).

        Args:
            n: number of images; defaults to ``len(z)``, else ``len(labels)``, else 64.
            z: latents ``(n, latent_dim)``; drawn from N(0, I) with ``seed`` when omitted.
            labels: integer classes ``(n,)`` for conditional models; cycles through the
                classes (0, 1, ..., 0, 1, ...) when omitted.
            seed: seed for the latents (and only them); None draws fresh ones.

        Returns:
            ``np.ndarray`` float32 in [-1, 1], shape ``(n, H, W, C)``.
        """
        if n is None and z is None and labels is not None and np.ndim(labels) == 1:
            n = len(labels)  # generate(labels=[7] * 4): one sample per label
        z = check_latents(z, n, self.latent_dim, seed)
        n = len(z)
        inputs = [z]
        if self.conditional:
            inputs.append(check_labels(labels, n, self.num_classes, required=False))
        elif labels is not None:
            raise ValueError(
                f"labels were given but {self.name} is unconditional (num_classes=0); "
                "drop the labels or use a conditional family such as cgan_mnist."
            )
        with self.inference_weights():
            batches = [
                keras.ops.convert_to_numpy(
                    self.generator([x[i:i + batch_size] for x in inputs], training=False)
                    if self.conditional
                    else self.generator(z[i:i + batch_size], training=False)
                )
                for i in range(0, n, batch_size)
            ]
        images = np.concatenate(batches, axis=0).astype("float32")
        return np.clip(images, -1.0, 1.0)

    # ------------------------------------------------------------------ checks
    def _check_batch(self, batch):
        """``fit``'s first batch: images of the model's shape in [-1, 1], with labels in
        range when the model is conditional."""
        images, labels = split_batch(batch)
        check_images(images, self.image_shape)
        if self.conditional:
            if labels is None:
                raise ValueError(
                    f"{self.name} is conditional (num_classes={self.num_classes}) but the "
                    "data has no labels: load it with kgan.data.load(name, labels=True)."
                )
            check_labels(labels, None, self.num_classes, required=True)

    def _check_augment(self, augment, ada_target, ada_kimg):
        """Validates ``compile``'s augmentation arguments: ``(policy, target, kimg)``."""
        policy, _, adaptive = gan_augment.parse_policy(augment)
        if (ada_target is not None or ada_kimg is not None) and not adaptive:
            raise ValueError(f"ada_target and ada_kimg configure augment='ada'; received "
                             f"augment={augment!r}.")
        target = gan_augment.ADA_TARGET if ada_target is None else ada_target
        kimg = gan_augment.ADA_KIMG if ada_kimg is None else ada_kimg
        if not 0.0 < target < 1.0:
            raise ValueError(f"ada_target must be in (0, 1), the range of E[sign(D(real))] "
                             f"that ADA steers to (default {gan_augment.ADA_TARGET}); "
                             f"received {ada_target!r}.")
        if not kimg > 0:
            raise ValueError(f"ada_kimg must be > 0 (default {gan_augment.ADA_KIMG}); "
                             f"received {ada_kimg!r}.")
        if policy is not None and len(self.image_shape) != 3:
            raise ValueError(f"augment={augment!r} transforms images (H, W, C); {self.name} "
                             f"makes samples of shape {self.image_shape}.")
        cls = type(self)  # the game below augments; a step of the family's own does not
        if policy is not None and (cls.train_step is not LatentGAN.train_step
                                   or cls._gan_step is not LatentGAN._gan_step):
            return super()._check_augment(augment, ada_target, ada_kimg)
        return policy, float(target), float(kimg)

    # ------------------------------------------------------------------ the standard game
    def sample_latents(self, batch_size, stream):
        """Latents for this replica's share of the global batch at the current step."""
        return self._random("normal", batch_size, (self.latent_dim,), stream)

    def _prepare_batch(self, data):
        """``(images float32, cond)`` from a batch, checked against the model."""
        images, labels = split_batch(data)
        if static_rank(images) is not None:
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
            z = self.sample_latents(batch, GENERATOR_STREAM)
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
                              stream, fold=AUGMENT_FOLDS[part])
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
                               GENERATOR_STREAM - 1 - stream)
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
        fake = self._augment(self._g(z, cond, training=True), GENERATOR_STREAM, 1)
        g_loss = self.generator_loss_fn(self._d(fake, cond))
        self._trackers["g_loss"].update_state(g_loss)
        return g_loss
