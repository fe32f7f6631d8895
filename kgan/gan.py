"""``kgan.GAN``: the Keras model every GAN family in kgan is built on.

A GAN is two networks playing a game (Goodfellow et al. 2014): the discriminator D learns to
tell real images from generated ones, the generator G learns to fool it. ``GAN.train_step``
runs ``d_steps`` discriminator updates, then one generator update, per batch, so users train
with plain ``model.compile()`` / ``model.fit(dataset)``, callbacks and progress bars.
``compile(update="simultaneous")`` instead updates both players from one forward pass, as
TensorFlow's DCGAN tutorial does (cheaper per batch; D and G see the same fakes).

The step is written to give the same result on one device and under
``tf.distribute.MirroredStrategy`` / ``MultiWorkerMirroredStrategy``:

* losses are means over the replica's batch divided by ``num_replicas_in_sync``, because
  Keras optimizers sum gradients across replicas;
* latents and interpolation coefficients are drawn for the *global* batch from a stateless
  RNG keyed on ``(seed, step)`` and each replica takes its own slice, so every replica gets
  different latents and 1 or N replicas see exactly the same ones.

With BatchNorm synchronised across replicas (the builders do this), 1 and N replicas then
train to the same weights. Layers that look at the batch on purpose, minibatch
discrimination and minibatch stddev, see each replica's share of it, as in the papers'
multi-GPU setups; dropout masks also differ per replica.
"""

import contextlib

import numpy as np
import keras

try:
    import tensorflow as tf
except ImportError:
    # The model, generate() and the weights are backend-neutral: kgan.jax_training trains
    # these models with Keras on JAX on machines without TensorFlow. Only fit()/train_step
    # below use tf, and they are not called there.
    tf = None

from kgan import augment as gan_augment
from kgan import losses as gan_losses
from kgan._validation import check_images, check_labels, check_latents

#: RNG streams per step: discriminator update k draws its latents from stream k and its
#: interpolation coefficients from stream ``_MAX_D_STEPS - 1 - k``, the generator update
#: from stream ``_MAX_D_STEPS``; so at most half of them can be discriminator updates.
_MAX_D_STEPS = 64
MAX_D_STEPS = _MAX_D_STEPS // 2

#: How ``train_step`` updates the two players (see ``GAN.compile``).
UPDATE_MODES = ("alternating", "simultaneous")

#: Every tracker a GAN may report, in the order logs list them.
METRIC_NAMES = ("d_loss", "g_loss", "gp", "r1", "d_real_acc", "d_fake_acc")

#: Keys folded into a step's stream seed for the augmentation draws of the reals and of the
#: fakes (``compile(augment=...)``): the latent and interpolation draws stay as they were.
_AUGMENT_FOLDS = (0x41756752, 0x41756746)


@keras.saving.register_keras_serializable(package="kgan")
class GAN(keras.Model):
    """Base class of every kgan family: a generator, a discriminator and the game between them.

    Args:
        generator: ``keras.Model`` mapping a latent batch ``(B, latent_dim)`` (and, when
            ``num_classes > 0``, integer labels ``(B,)``) to images ``(B, H, W, C)`` in
            [-1, 1].
        discriminator: ``keras.Model`` mapping images (and labels) to logits ``(B, 1)``.
        latent_dim: size of the latent vector z.
        num_classes: number of classes for conditional models; 0 when unconditional.
        seed: seed of the latent RNG used in training (latents are a pure function of
            ``seed`` and the step number, which makes training reproducible and resumable).

    Example:
        >>> model = kgan.zoo.load("test_dcgan", pretrained=False)   # compiled
        >>> model.fit(kgan.data.load("mnist", batch_size=32), steps_per_epoch=2)
        >>> images = model.generate(16, seed=0)                   # (16, 28, 28, 1) in [-1, 1]
    """

    #: Arguments ``compile()`` uses when called without them; families override this.
    compile_defaults = dict(
        loss="non_saturating",
        learning_rate=2e-4,
        beta_1=0.5,
        beta_2=0.999,
        d_steps=1,
        gp_weight=0.0,
        r1_weight=0.0,
        ema_decay=0.0,
        update="alternating",
    )
    #: Attributes a family's ``compile()`` sets beyond the base ones (e.g. pix2pix's
    #: ``l1_weight``): saved in the compile config under their names, so a loaded model is
    #: compiled with them again.
    compile_config_attributes = ()
    #: ``compile(augment=...)``'s canonical policy (None: off) and, with ``"ada"``, the
    #: non-trainable float32 variable holding ADA's probability p.
    augment = None
    ada_p = None

    def __init__(self, generator, discriminator, latent_dim, num_classes=0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.num_classes = int(num_classes)
        self.seed = int(seed)
        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in METRIC_NAMES
        }
        self._active_metric_names = ("d_loss", "g_loss", "d_real_acc", "d_fake_acc")
        if generator.built and discriminator.built:
            self.built = True

    # ------------------------------------------------------------------ shapes
    @property
    def image_shape(self):
        """``(H, W, C)`` of the generated images."""
        return tuple(self.generator.output_shape[1:])

    @property
    def conditional(self):
        return self.num_classes > 0

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        d_optimizer=None,
        g_optimizer=None,
        loss=None,
        d_steps=None,
        gp_weight=None,
        r1_weight=None,
        ema_decay=None,
        update=None,
        augment=None,
        ada_target=None,
        ada_kimg=None,
        **kwargs,
    ):
        """Configures the game. Any argument left out takes the family's default.

        Args:
            d_optimizer, g_optimizer: Keras optimizers (Adam with the family's recipe when
                omitted). Under ``mixed_float16`` they are wrapped in a
                ``LossScaleOptimizer``.
            loss: one of ``kgan.losses.LOSS_NAMES``.
            d_steps: discriminator updates per generator update (>= 1).
            gp_weight: weight of the WGAN-GP gradient penalty (0 disables it).
            r1_weight: gamma of the R1 penalty; the penalty added is gamma / 2 * R1.
            ema_decay: if > 0, the generator optimizer keeps an exponential moving average of
                the generator weights, which ``generate`` and export use.
            update: ``"alternating"`` (Goodfellow et al.'s algorithm: D steps, then a G step
                on fresh latents against the updated D) or ``"simultaneous"`` (one forward
                pass, both players' gradients from it, both applied; TensorFlow's DCGAN
                tutorial; needs ``d_steps=1``).
            augment: differentiable augmentation of every batch D sees (``kgan.augment``),
                reals and fakes alike, in D's and G's updates: None (off), a
                comma-separated subset of ``"color,translation,cutout"`` (DiffAugment), or
                ``"ada"`` (all three, each transform applied with ADA's adaptive
                probability p, logged as ``ada_p``). The gradient penalty and R1 are
                computed on the augmented batches, i.e. on what D is trained on (as
                StyleGAN2-ADA does for R1).
            ada_target: with ``augment="ada"``, the target of r_t = E[sign(D(real))] in
                (0, 1) (default 0.6): p rises while r_t is above it.
            ada_kimg: with ``augment="ada"``, thousands of images over which p can move
                from 0 to 1 (default 500, the paper's); p moves after every D update.
            **kwargs: passed to ``keras.Model.compile`` (``jit_compile``,
                ``steps_per_execution``...).
        """
        cfg = dict(self.compile_defaults)
        given = dict(loss=loss, d_steps=d_steps, gp_weight=gp_weight, r1_weight=r1_weight,
                     ema_decay=ema_decay, update=update)
        cfg.update({k: v for k, v in given.items() if v is not None})
        gan_losses.get(cfg["loss"])  # raises a ValueError naming the choices
        if int(cfg["d_steps"]) != cfg["d_steps"] or not 1 <= cfg["d_steps"] <= MAX_D_STEPS:
            raise ValueError(
                f"d_steps must be an integer in [1, {MAX_D_STEPS}]; received {cfg['d_steps']!r}."
            )
        for name in ("gp_weight", "r1_weight"):
            if cfg[name] < 0:
                raise ValueError(f"{name} must be >= 0; received {cfg[name]!r}.")
        if not 0.0 <= cfg["ema_decay"] < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1); received {cfg['ema_decay']!r}.")
        if cfg["update"] not in UPDATE_MODES:
            raise ValueError(f"update must be one of {', '.join(map(repr, UPDATE_MODES))}; "
                             f"received {cfg['update']!r}.")
        if cfg["update"] == "simultaneous" and cfg["d_steps"] != 1:
            raise ValueError(f"update='simultaneous' takes one step for both players; "
                             f"d_steps={cfg['d_steps']} needs update='alternating'.")
        policy, ada_target, ada_kimg = self._check_augment(augment, ada_target, ada_kimg)
        # The two players' optimizers replace Keras' single one.
        super().compile(optimizer=None, **kwargs)

        def default_optimizer(ema_decay=0.0):
            return keras.optimizers.Adam(
                cfg["learning_rate"], beta_1=cfg["beta_1"], beta_2=cfg["beta_2"],
                use_ema=ema_decay > 0, ema_momentum=ema_decay or 0.99,
            )

        self._set_optimizers(d_optimizer or default_optimizer(),
                             g_optimizer or default_optimizer(cfg["ema_decay"]))
        self.loss_name = cfg["loss"]
        self.generator_loss_fn, self.discriminator_loss_fn = gan_losses.get(cfg["loss"])
        self.d_steps = int(cfg["d_steps"])
        self.gp_weight = float(cfg["gp_weight"])
        self.r1_weight = float(cfg["r1_weight"])
        self.ema_decay = float(cfg["ema_decay"])
        self.update = cfg["update"]
        self._set_augment(policy, ada_target, ada_kimg)
        self._active_metric_names = tuple(
            n for n in METRIC_NAMES
            if (n != "gp" or self.gp_weight) and (n != "r1" or self.r1_weight)
        )
        self._kgan_compile_args = dict(kwargs)
        if self.built:
            # Slot variables must exist before load_weights / BackupAndRestore restore them.
            self.build_optimizers()

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
        if policy is not None and type(self).train_step is not GAN.train_step:
            raise ValueError(f"augment is applied by kgan.GAN's training step; "
                             f"{type(self).__name__} trains with its own and does not support "
                             f"it (received augment={augment!r}).")
        return policy, float(target), float(kimg)

    def _set_augment(self, policy, ada_target, ada_kimg):
        """Sets the policy; ``"ada"`` creates p (0) on the first such compile."""
        self.augment, self.ada_target, self.ada_kimg = policy, ada_target, ada_kimg
        if policy == gan_augment.ADA and self.ada_p is None:
            strategy = getattr(self, "distribute_strategy", None)  # TensorFlow backend only
            with strategy.scope() if strategy is not None else contextlib.nullcontext():
                # Every replica assigns the same value (see _adapt); "mean" keeps it.
                self.ada_p = keras.Variable(0.0, dtype="float32", trainable=False,
                                            aggregation="mean", name="ada_p")

    def _augment_config(self):
        """The compile config's augmentation keys (none when off, as before augment)."""
        if self.augment is None:
            return {}
        if self.augment != gan_augment.ADA:
            return {"augment": self.augment}
        return {"augment": self.augment, "ada_target": self.ada_target,
                "ada_kimg": self.ada_kimg}

    def load_own_variables(self, store):
        """Restores ADA's p, the one variable of the model itself (its networks and
        optimizers restore their own). A file saved without p leaves it as it is (0 on a
        fresh model); a model without p (not compiled with ``augment="ada"``) skips the
        file's, which generation does not need."""
        own = self._trainable_variables + self._non_trainable_variables
        keys = list(store.keys()) if store else []
        if len(own) == 1 and own[0] is self.ada_p and not keys:
            return
        if not own and keys == ["0"] and np.shape(store["0"]) == ():
            return
        super().load_own_variables(store)

    def _set_optimizers(self, d_optimizer, g_optimizer):
        """Sets both players' optimizers (names or instances); under ``mixed_float16`` each is
        wrapped in a ``LossScaleOptimizer``. Shared by the families that override compile."""
        optimizers = [keras.optimizers.get(o) for o in (d_optimizer, g_optimizer)]
        if keras.mixed_precision.dtype_policy().name == "mixed_float16":
            optimizers = [o if isinstance(o, keras.optimizers.LossScaleOptimizer)
                          else keras.optimizers.LossScaleOptimizer(o) for o in optimizers]
        self.d_optimizer, self.g_optimizer = optimizers

    def _optimizer_config(self):
        """Both optimizers, serialized: the shared part of every family's compile config."""
        return {"d_optimizer": keras.optimizers.serialize(self.d_optimizer),
                "g_optimizer": keras.optimizers.serialize(self.g_optimizer)}

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return None
        return {
            **self._optimizer_config(),
            "loss": self.loss_name,
            "d_steps": self.d_steps,
            "gp_weight": self.gp_weight,
            "r1_weight": self.r1_weight,
            "ema_decay": self.ema_decay,
            "update": self.update,
            **self._augment_config(),
            **{name: getattr(self, name) for name in self.compile_config_attributes},
            **self._kgan_compile_args,
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.optimizers.deserialize(config[key])
        self.compile(**config)

    def build_optimizers(self):
        """Creates both optimizers' slot variables now (needed before restoring their state)."""
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return [self._trackers[n] for n in self._active_metric_names]

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        return {
            "name": self.name,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    # ------------------------------------------------------------------ inference
    def call(self, inputs, training=False):
        """Runs the generator: ``z`` or, for conditional models, ``[z, labels]``."""
        return self.generator(inputs, training=training)

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

    def inference_weights(self):
        """Context manager that swaps the generator's EMA weights in, when there are any."""
        return _SwapEMA(getattr(self, "g_optimizer", None), self.generator)

    # ------------------------------------------------------------------ training
    def fit(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.fit``, after checking the first batch against the model.

        Wrong image shapes, a [0, 255] range or missing / out-of-range labels raise a
        ``ValueError`` before any training step runs.
        """
        if tf is None or keras.backend.backend() != "tensorflow":
            raise RuntimeError(
                "GAN.fit runs on Keras' TensorFlow backend; on JAX train with "
                "kgan.jax_training.fit_jax(model, images, labels, ...)."
            )
        if not getattr(self, "compiled", False):
            raise ValueError(
                f"{self.name} is not compiled: call model.compile() (no arguments needed) "
                "or load it with kgan.zoo.load(name), which compiles it."
            )
        self._check_first_batch(x, y)
        return super().fit(x, y, *args, **kwargs)

    def _check_first_batch(self, x, y):
        if isinstance(x, tf.data.Dataset):
            element = next(iter(x.take(1)), None)
            if element is None:
                raise ValueError("The training dataset is empty: it yielded no batch.")
            images, labels = _split_batch(element)
        elif x is None:
            raise ValueError("fit() needs training data: a tf.data.Dataset or an image array.")
        elif isinstance(x, (np.ndarray, tf.Tensor)) or hasattr(x, "__array__"):
            images, labels = x, y
        else:  # Python generators / PyDatasets: checked at trace time in train_step.
            return
        check_images(images, self.image_shape)
        if self.conditional:
            if labels is None:
                raise ValueError(
                    f"{self.name} is conditional (num_classes={self.num_classes}) but the "
                    "data has no labels: load it with kgan.data.load(name, labels=True)."
                )
            check_labels(labels, None, self.num_classes, required=True)

    def _replica_info(self):
        ctx = tf.distribute.get_replica_context()
        replica_id = ctx.replica_id_in_sync_group if ctx is not None else 0
        return replica_id, self.distribute_strategy.num_replicas_in_sync

    def _global_slice(self, sampler, local_batch, stream):
        """Draws ``sampler(global_batch, seed)`` and returns this replica's rows."""
        replica_id, num_replicas = self._replica_info()
        step = tf.cast(self.g_optimizer.iterations, "int32")
        seed = tf.stack([tf.constant(self.seed, "int32"), step * (_MAX_D_STEPS + 1) + stream])
        full = sampler(local_batch * num_replicas, seed)
        start = replica_id * local_batch
        return full[start:start + local_batch]

    def sample_latents(self, batch_size, stream):
        """Latents for this replica's share of the global batch at the current step."""
        return self._global_slice(
            lambda b, s: tf.random.stateless_normal((b, self.latent_dim), seed=s),
            batch_size, stream)

    def train_step(self, data):
        images, labels = _split_batch(data)
        if images.shape.rank is not None:
            check_images(images, self.image_shape, static=True)
        if self.conditional:
            if labels is None:
                raise ValueError(
                    f"{self.name} is conditional but the batches have no labels; load the "
                    "data with labels=True."
                )
            labels = tf.reshape(tf.cast(labels, "int32"), (-1,))
        # Data stay float32 (like G's float32 output) whatever the dtype policy: each
        # network casts to its compute dtype itself, and the penalties' input gradients
        # and the losses see unrounded images under mixed_bfloat16 / mixed_float16.
        images = tf.cast(images, "float32")
        batch = tf.shape(images)[0]
        _, num_replicas = self._replica_info()
        cond = (labels,) if self.conditional else ()

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
            logs["ada_p"] = tf.identity(self.ada_p.value)
        if _multi_worker(self.distribute_strategy):
            # Keras reduces multi-worker logs with reduce(MEAN, axis=0), which needs a
            # batch axis: give each scalar one (the reduction returns a scalar again).
            logs = {k: tf.reshape(v, (1,)) for k, v in logs.items()}
        return logs

    def _d(self, images, cond, training=True):
        logits = self.discriminator([images, *cond] if cond else images, training=training)
        return tf.cast(logits, "float32")

    def _g(self, z, cond, training=True):
        return self.generator([z, *cond] if cond else z, training=training)

    def _augment(self, images, stream, part):
        """``compile(augment=...)`` applied to a batch about to enter D (``part`` 0: reals,
        1: fakes); the draws come from the step's ``stream``, per replica like latents."""
        if self.augment is None:
            return images
        params = self._global_slice(
            lambda b, s: tf.random.stateless_uniform(
                (b, gan_augment.NUM_PARAMS),
                seed=tf.random.experimental.stateless_fold_in(s, _AUGMENT_FOLDS[part])),
            tf.shape(images)[0], stream)
        p = self.ada_p.value if self.augment == gan_augment.ADA else None
        return gan_augment.apply(images, self.augment, params, p)

    def _adapt(self, real_logits):
        """ADA: moves p after a D update from r_t = E[sign(D(real))] over the global batch
        (summed across replicas, so every replica computes the same p)."""
        if self.augment != gan_augment.ADA:
            return
        logits = tf.cast(real_logits, "float32")
        stats = tf.stack([tf.reduce_sum(tf.sign(logits)), tf.cast(tf.size(logits), "float32"),
                          tf.cast(tf.shape(logits)[0], "float32")])
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            stats = ctx.all_reduce(tf.distribute.ReduceOp.SUM, stats)
        self.ada_p.assign(gan_augment.ada_adjust(
            self.ada_p.value, stats[0] / stats[1], stats[2], self.ada_target, self.ada_kimg))

    def _critic_loss(self, images, fake, cond, stream):
        """D's loss on a real and a fake batch, with the penalties; also returns the logits.
        With ``augment``, both batches are augmented first and the penalties see them so."""
        images = self._augment(images, stream, 0)
        fake = self._augment(fake, stream, 1)

        def critic(inputs):  # the penalties' view of D: [images, *cond] -> logits
            return self._d(inputs[0], inputs[1:]) if cond else self._d(inputs, ())

        real_logits = self._d(images, cond)
        fake_logits = self._d(fake, cond)
        total = self.discriminator_loss_fn(real_logits, fake_logits)
        penalties = {}
        if self.gp_weight:
            eps = self._global_slice(
                lambda b, s: tf.random.stateless_uniform(
                    (b,) + (1,) * len(self.image_shape), seed=s),
                tf.shape(images)[0], _MAX_D_STEPS - 1 - stream)
            penalties["gp"] = gan_losses.gradient_penalty(
                critic, images, tf.cast(tf.stop_gradient(fake), images.dtype), eps, cond)
            total += self.gp_weight * penalties["gp"]
        if self.r1_weight:
            penalties["r1"] = gan_losses.r1_penalty(critic, images, cond)
            total += 0.5 * self.r1_weight * penalties["r1"]
        return total, penalties, real_logits, fake_logits

    def _track_discriminator(self, total, penalties, real_logits, fake_logits):
        """Records the latest discriminator update's loss, penalties and accuracies."""
        threshold = 0.5 if self.loss_name == "least_squares" else 0.0
        self._trackers["d_loss"].update_state(total)
        for name, value in penalties.items():
            self._trackers[name].update_state(value)
        self._trackers["d_real_acc"].update_state(
            tf.reduce_mean(tf.cast(real_logits > threshold, "float32")))
        self._trackers["d_fake_acc"].update_state(
            tf.reduce_mean(tf.cast(fake_logits <= threshold, "float32")))

    def _discriminator_gradients(self, images, z, cond, num_replicas, stream):
        """D's gradients on a real batch and G(z): ``(grads, variables, (total, penalties,
        real_logits, fake_logits))``."""
        fake = self._g(z, cond, training=True)
        with tf.GradientTape() as tape:
            losses = self._critic_loss(images, fake, cond, stream)
            scaled = self.d_optimizer.scale_loss(losses[0] / num_replicas)
        variables = self.discriminator.trainable_variables
        return _dense(tape.gradient(scaled, variables)), variables, losses

    def _discriminator_update(self, images, z, cond, num_replicas, stream):
        grads, variables, losses = self._discriminator_gradients(
            images, z, cond, num_replicas, stream)
        self.d_optimizer.apply(grads, variables)
        self._track_discriminator(*losses)
        self._adapt(losses[2])

    def _simultaneous_update(self, images, z, cond, num_replicas):
        """Both players' gradients from one forward pass G(z), D(real), D(G(z))."""
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self._g(z, cond, training=True)
            total, penalties, real_logits, fake_logits = self._critic_loss(
                images, fake, cond, stream=0)
            g_loss = self.generator_loss_fn(fake_logits)
            d_scaled = self.d_optimizer.scale_loss(total / num_replicas)
            g_scaled = self.g_optimizer.scale_loss(g_loss / num_replicas)
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        d_grads = _dense(d_tape.gradient(d_scaled, d_vars))
        g_grads = _dense(g_tape.gradient(g_scaled, g_vars))
        self.d_optimizer.apply(d_grads, d_vars)
        self.g_optimizer.apply(g_grads, g_vars)
        self._track_discriminator(total, penalties, real_logits, fake_logits)
        self._trackers["g_loss"].update_state(g_loss)
        self._adapt(real_logits)

    def _generator_update(self, z, cond, num_replicas):
        with tf.GradientTape() as tape:
            scaled = self.g_optimizer.scale_loss(self._generator_loss(z, cond) / num_replicas)
        variables = self.generator.trainable_variables
        self.g_optimizer.apply(_dense(tape.gradient(scaled, variables)), variables)

    def _generator_loss(self, z, cond):
        """G's loss on latents ``z`` (recorded as ``g_loss``); families add their terms."""
        fake = self._augment(self._g(z, cond, training=True), _MAX_D_STEPS, 1)
        g_loss = self.generator_loss_fn(self._d(fake, cond))
        self._trackers["g_loss"].update_state(g_loss)
        return g_loss

    def test_step(self, data):
        raise NotImplementedError(
            "GANs have no validation loss; evaluate samples with kgan.metrics.evaluate()."
        )


def _multi_worker(strategy):
    in_multi_worker_mode = getattr(strategy.extended, "_in_multi_worker_mode", None)
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and in_multi_worker_mode is not None and in_multi_worker_mode())


def _dense(grads):
    """Embedding gradients arrive as IndexedSlices whose size differs between replicas,
    which the cross-replica all-reduce cannot pack; the embeddings here are small."""
    return [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]


def _split_batch(data):
    """Accepts ``images``, ``(images,)``, ``(images, labels)`` or a dict batch."""
    if isinstance(data, dict):
        return data.get("image", data.get("images")), data.get("label", data.get("labels"))
    if isinstance(data, (tuple, list)):
        if len(data) == 1:
            return data[0], None
        return data[0], data[1]
    return data, None


class _SwapEMA:
    """Swaps the optimizer's EMA values into the generator for the duration of a block."""

    def __init__(self, optimizer, generator):
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        self.ema = getattr(inner, "_model_variables_moving_average", None) if inner else None
        self.variables = generator.trainable_variables
        if (not self.ema or not getattr(inner, "use_ema", False) or not inner.built
                or int(keras.ops.convert_to_numpy(inner.iterations)) == 0):
            self.ema = None  # untrained: the averages are still zeros
        self.saved = None

    def __enter__(self):
        if self.ema:
            self.saved = [keras.ops.convert_to_numpy(v) for v in self.variables]
            for v, e in zip(self.variables, self.ema):
                v.assign(e)
        return self

    def __exit__(self, *exc):
        if self.ema:
            for v, value in zip(self.variables, self.saved):
                v.assign(value)
        return False
