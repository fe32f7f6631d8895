"""``kgan.GAN``: the core every GAN family in kgan is built on.

A GAN is two networks playing a game (Goodfellow et al. 2014): the discriminator D learns to
tell real samples from generated ones, the generator G learns to fool it. This module holds
what every kind of GAN shares, backend-neutral: the two players, their optimizers (and the
generator's EMA weights), ``compile`` and its configuration, serialization, and ``fit``'s
checks before any step. Two kinds build on it, as keras-hub's tasks build on a backbone:

* :class:`kgan.latent.LatentGAN` (noise to samples: DCGAN, StyleGAN, WaveGAN, 3D-GAN, ...)
  adds latents, ``generate`` and the standard game;
* :class:`kgan.translation.TranslationGAN` (image to image: pix2pix, CycleGAN, SRGAN) adds
  ``translate`` and paired or unpaired batches, each family playing its own game.

``GAN`` inherits the training mixin of Keras' active backend (:mod:`kgan.trainers`:
``train_step(data)`` with ``tf.GradientTape`` on TensorFlow, ``train_step(state, data)``
stateless on JAX), which runs the kind's ``_gan_step`` with the backend's gradients, so users
train with plain ``model.compile()`` / ``model.fit(dataset)``, callbacks and progress bars.
"""

import contextlib

import numpy as np
import keras

from kgan import augment as gan_augment
from kgan import losses as gan_losses
from kgan.trainers import backend_trainer, check_backend
from kgan.trainers.base import MAX_D_STEPS, OptimizerPair, first_batch

#: How ``train_step`` updates the two players (see ``GAN.compile``).
UPDATE_MODES = ("alternating", "simultaneous")


@keras.saving.register_keras_serializable(package="kgan")
class GAN(backend_trainer(), keras.Model):
    """Base class of every kgan family: a generator, a discriminator and their optimizers.

    Families subclass one of the two kinds, :class:`kgan.latent.LatentGAN` or
    :class:`kgan.translation.TranslationGAN`, which add what the core leaves open: what the
    generator takes, what a batch holds (``_check_batch``) and the training step
    (``_gan_step``).

    Args:
        generator: ``keras.Model`` making samples in [-1, 1] (from latents or from images,
            as the kind says).
        discriminator: ``keras.Model`` mapping samples (and what they are conditioned on)
            to logits.
        seed: seed of the training step's RNG (its draws are a pure function of ``seed``
            and the step number, which makes training reproducible and resumable).

    Every GAN also has ``latent_dim`` and ``num_classes``: 0 for families without latents
    or classes (the image-to-image ones).

    Training on both backends:
        ``GAN`` inherits the training mixin of Keras' active backend
        (:func:`kgan.trainers.backend_trainer`), so ``fit`` runs Keras' own loop, callbacks
        and ``steps_per_execution`` on TensorFlow and on JAX. Each kind's step is written
        once in ``keras.ops`` on the mixin's primitives (:mod:`kgan.trainers.base`).

        Two optimizers, one slot: ``compile`` sets ``model.optimizer`` to an
        :class:`~kgan.trainers.base.OptimizerPair` holding ``d_optimizer`` and
        ``g_optimizer``, so Keras' trainers (JAX's state threading, ``BackupAndRestore``,
        ``summary()``) handle both without knowing there are two. The pair is not saved:
        weight files keep their ``d_optimizer`` / ``g_optimizer`` entries.

    Example:
        >>> model = kgan.zoo.load("test_dcgan", pretrained=False)   # compiled
        >>> isinstance(model, kgan.GAN), isinstance(model, kgan.LatentGAN)
        (True, True)
        >>> model.fit(kgan.data.load("mnist", batch_size=32), steps_per_epoch=2)
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
    #: Every tracker the family may report, in the order logs list them (``gp`` and ``r1``
    #: only while their weights are non-zero).
    metric_names = ()
    #: ``compile(augment=...)``'s canonical policy (None: off) and, with ``"ada"``, the
    #: non-trainable float32 variable holding ADA's probability p.
    augment = None
    ada_p = None
    #: Size of the latent vector z and number of classes (0: none); LatentGAN sets both.
    latent_dim = 0
    num_classes = 0

    def __init__(self, generator, discriminator, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.seed = int(seed)
        self._trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names}
        self._active_metric_names = self._reported_metrics(gp_weight=0.0, r1_weight=0.0)
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
        self._active_metric_names = self._reported_metrics(self.gp_weight, self.r1_weight)
        self._kgan_compile_args = dict(kwargs)
        if self.built:
            # Slot variables must exist before load_weights / BackupAndRestore restore them.
            self.build_optimizers()

    def _check_augment(self, augment, ada_target, ada_kimg):
        """``compile``'s augmentation arguments as ``(policy, target, kimg)``. Augmentation
        is applied by :class:`kgan.latent.LatentGAN`'s standard game, which checks them;
        a family with a step of its own refuses them."""
        if augment is not None or ada_target is not None or ada_kimg is not None:
            raise ValueError(f"augment is applied by kgan.LatentGAN's standard game; "
                             f"{type(self).__name__} trains with its own step and does not "
                             f"support it (received augment={augment!r}).")
        return None, gan_augment.ADA_TARGET, gan_augment.ADA_KIMG

    def _reported_metrics(self, gp_weight, r1_weight):
        """The names of :attr:`metric_names` that logs report under these penalty weights."""
        return tuple(n for n in self.metric_names
                     if (n != "gp" or gp_weight) and (n != "r1" or r1_weight))

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
        """Runs the generator on its inputs (latents, ``[z, labels]``, or source images)."""
        return self.generator(inputs, training=training)

    def inference_weights(self):
        """Context manager that swaps the generator's EMA weights in, when there are any."""
        return _SwapEMA(getattr(self, "g_optimizer", None), self.generator)

    # ------------------------------------------------------------------ training
    def fit(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.fit``, after checking the backend and the first batch.

        Runs on Keras' TensorFlow and JAX backends (others raise a ``RuntimeError`` naming
        these two). The first batch goes through the kind's ``_check_batch``: wrong image
        shapes, a [0, 255] range, missing / out-of-range labels or unpaired images raise a
        ``ValueError`` before any training step runs.
        """
        check_backend()
        if not getattr(self, "compiled", False):
            raise ValueError(
                f"{self.name} is not compiled: call model.compile() (no arguments needed) "
                "or load it with kgan.zoo.load(name), which compiles it."
            )
        batch = first_batch(x, y)
        if batch is not None:
            self._check_batch(batch)
        return super().fit(x, y, *args, **kwargs)

    def test_step(self, data):
        """Keras' ``evaluate()`` hook, refused: a GAN has no validation loss."""
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
