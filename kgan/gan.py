"""``kgan.GAN``: the Keras model every GAN family in kgan is built on.

A GAN is two networks playing a game (Goodfellow et al. 2014): the discriminator D learns to
tell real images from generated ones, the generator G learns to fool it. ``GAN.train_step``
runs ``d_steps`` discriminator updates, then one generator update, per batch, so users train
with plain ``model.compile()`` / ``model.fit(dataset)``, callbacks and progress bars, on
Keras' TensorFlow or JAX backend. ``compile(update="simultaneous")`` instead updates both
players from one forward pass, as TensorFlow's DCGAN tutorial does (cheaper per batch; D and
G see the same fakes).

The game is written once, in ``keras.ops``, in :mod:`kgan.trainers.base`; ``GAN`` inherits
the training mixin of the active backend (:mod:`kgan.trainers.tensorflow`: ``train_step(data)``
with ``tf.GradientTape``; :mod:`kgan.trainers.jax`: ``train_step(state, data)``, stateless).
This module holds the model: the two players, their optimizers, EMA, configuration,
serialization and generation.

On TensorFlow the step gives the same result on one device and under
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
    # The model, generate(), the weights and fit() on JAX are backend-neutral: machines
    # with JAX but no TensorFlow train with KERAS_BACKEND=jax.
    tf = None

from kgan import augment as gan_augment
from kgan import losses as gan_losses
from kgan._validation import check_images, check_labels, check_latents
from kgan.trainers import SUPPORTED_BACKENDS, backend_trainer, check_backend
# Re-exported: families and tools import these from kgan.gan.
from kgan.trainers.base import _AUGMENT_FOLDS  # noqa: F401
from kgan.trainers.base import _MAX_D_STEPS  # noqa: F401
from kgan.trainers.base import MAX_D_STEPS, OptimizerPair
from kgan.trainers.base import split_batch as _split_batch

if tf is not None:
    from kgan.trainers.tensorflow import _dense, _multi_worker  # noqa: F401  (families)
else:  # the TensorFlow-only steps that import these never run without TensorFlow
    def _dense(grads):
        return grads

    def _multi_worker(strategy):
        return False

#: How ``train_step`` updates the two players (see ``GAN.compile``).
UPDATE_MODES = ("alternating", "simultaneous")

#: Every tracker a GAN may report, in the order logs list them.
METRIC_NAMES = ("d_loss", "g_loss", "gp", "r1", "d_real_acc", "d_fake_acc")


@keras.saving.register_keras_serializable(package="kgan")
class GAN(backend_trainer(), keras.Model):
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

    Training on both backends:
        ``GAN`` inherits the training mixin of Keras' active backend
        (:func:`kgan.trainers.backend_trainer`), so ``fit`` runs Keras' own loop, callbacks
        and ``steps_per_execution`` on TensorFlow and on JAX. The game itself
        (:class:`kgan.trainers.base.GANTrainer`) is written once in ``keras.ops``.

        Two optimizers, one slot: Keras' JAX trainer threads a single optimizer's variables
        through its jitted steps, as the third part of the state ``(trainable,
        non_trainable, optimizer, metrics)``, and writes them back in ``jax_state_sync()``.
        ``compile`` therefore sets ``model.optimizer`` to an
        :class:`~kgan.trainers.base.OptimizerPair` whose ``variables`` are
        ``d_optimizer.variables + g_optimizer.variables`` (slots, iteration counters, the
        generator's EMA weights, loss-scale state). The JAX ``train_step(state, data)``
        maps every variable to its value in ``state`` inside one ``keras.StatelessScope``,
        runs the shared game (each player's update goes through its own optimizer's
        ``stateless_apply``) and reads the new values back in the same order. Keras then
        builds, threads, syncs (callbacks such as ``BackupAndRestore`` see both optimizers'
        state mid-epoch) and counts both optimizers without knowing there are two. The pair
        is not saved: weight files keep their ``d_optimizer`` / ``g_optimizer`` entries.
        On TensorFlow the same game runs with ``tf.GradientTape`` and each optimizer's
        ``apply``; the pair only serves Keras' callbacks and ``summary()`` there.

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
    #: The Keras backends this family's training step runs on (``fit`` refuses the others
    #: before any step). Families whose step is still written in TensorFlow narrow it.
    train_backends = SUPPORTED_BACKENDS

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
        own_step = (type(self).train_step is not GAN.train_step
                    or type(self)._gan_step is not GAN._gan_step)
        if policy is not None and own_step:
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
        # Keras' trainers (JAX's state threading, BackupAndRestore, summary) see both.
        self.optimizer = OptimizerPair(self)

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
        """``keras.Model.fit``, after checking the backend and the first batch.

        Runs on Keras' TensorFlow and JAX backends (others raise a ``RuntimeError`` naming
        these two). Wrong image shapes, a [0, 255] range or missing / out-of-range labels
        raise a ``ValueError`` before any training step runs.
        """
        check_backend()
        backend = keras.backend.backend()
        if backend not in self.train_backends:
            raise NotImplementedError(
                f"{type(self).__name__}'s training step runs on Keras' "
                f"{' / '.join(self.train_backends)} backend only; the active backend is "
                f"{backend!r}. Its models load and generate on {backend!r}; train them with "
                f"KERAS_BACKEND={self.train_backends[0]}."
            )
        if not getattr(self, "compiled", False):
            raise ValueError(
                f"{self.name} is not compiled: call model.compile() (no arguments needed) "
                "or load it with kgan.zoo.load(name), which compiles it."
            )
        self._check_first_batch(x, y)
        return super().fit(x, y, *args, **kwargs)

    def _check_first_batch(self, x, y):
        if tf is not None and isinstance(x, tf.data.Dataset):
            element = next(iter(x.take(1)), None)
            if element is None:
                raise ValueError("The training dataset is empty: it yielded no batch.")
            images, labels = _split_batch(element)
        elif x is None:
            raise ValueError("fit() needs training data: a tf.data.Dataset, a "
                             "keras.utils.PyDataset or an image array.")
        elif isinstance(x, np.ndarray) or hasattr(x, "__array__") or (
                tf is not None and isinstance(x, tf.Tensor)):
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

    def test_step(self, data):
        raise NotImplementedError(
            "GANs have no validation loss; evaluate samples with kgan.metrics.evaluate()."
        )


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
