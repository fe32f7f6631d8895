"""CycleGAN (Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks", arXiv:1703.10593).

Two generators translate between two domains without paired examples: ``G_ab`` maps A to B,
``G_ba`` maps B to A, and a discriminator per domain (``D_b`` judges B images, ``D_a`` A
images) makes the translations look like the target domain. What keeps a translation tied
to its input is the *cycle*: ``G_ba(G_ab(a))`` must give ``a`` back (and ``G_ab(G_ba(b))``
``b``). The paper's recipe, followed here:

* generators: Johnson et al.'s ResNet: reflection-padded 7x7 conv, two stride-2 convs down,
  ``n_blocks`` residual blocks, two stride-2 transposed convs up, 7x7 conv to tanh, with
  instance norm (``kgan.layers.GroupNormalization(groups=-1)``) and ReLU;
* discriminators: PatchGAN (4x4 convs, stride 2, 2, 1, LeakyReLU 0.2, instance norm after
  the first), one least-squares real/fake output per patch;
* least-squares adversarial loss (Mao et al. 2017): G minimises ``(D(G(x)) - 1)^2``, D
  ``0.5 (D(y) - 1)^2 + 0.5 D(G(x))^2``;
* cycle loss ``lambda * (|G_ba(G_ab(a)) - a| + |G_ab(G_ba(b)) - b|)`` with lambda = 10, and
  identity loss ``0.5 lambda * (|G_ba(a) - a| + |G_ab(b) - b|)``, which keeps colours and
  makes a generator leave images of its target domain alone;
* discriminators see generated images through a history pool of the last 50 (Shrivastava
  et al. 2017), ``kgan.layers.ImagePool``, so they do not forget earlier generator mistakes;
* Adam(2e-4, beta_1=0.5), constant for a while and then decayed linearly to zero,
  ``kgan.schedules.LinearDecay``.

Each ``train_step`` makes one update of both generators (one optimizer, like the paper's
code) and then one update of both discriminators on the same generated images.

The networks are named for their directions (``generator_ab``, ``generator_ba``,
``discriminator_a``, ``discriminator_b``; see :class:`CycleGAN` for ``generator`` /
``discriminator``). As a ``kgan.TranslationGAN`` it has no latents and translates with
``translate(images, direction="a2b" | "b2a")``.

Training: ``model.fit`` on TensorFlow (any ``tf.distribute`` strategy) or JAX (the step is in
``keras.ops`` and :mod:`kgan.trainers`' primitives; the pools draw from ``tf.random`` or
``jax.random``: other numbers, the same distribution); ``tools/train_cyclegan.py`` runs the
recipes, ``tools/int8_finetune.py`` readies a generator for an int8 filter.
"""

import keras
from keras import layers, ops

from kgan import losses as gan_losses
from kgan.translation import TranslationGAN
from kgan.layers import ImagePool, ReflectionPadding2D
from kgan.layers.image_pool import pool_draws
from kgan.models.common import instance_norm, register_entry
from kgan.schedules import LinearDecay

PAPER = "Zhu, Park, Isola & Efros 2017, arXiv:1703.10593"

#: Trackers in the order the logs list them: the total losses of both players, the parts of
#: the generators' objective, each discriminator's loss, and the share of patches both
#: discriminators get right (LSGAN outputs above / below 0.5) on real and on pooled images.
METRIC_NAMES = ("d_loss", "g_loss", "adv_loss", "cycle_loss", "identity_loss", "d_a_loss",
                "d_b_loss", "d_real_acc", "d_fake_acc")

#: RNG streams per step of the two pools (each draws two numbers).
_POOL_STREAMS = {"a": 0, "b": 2}


def _conv_norm_relu(x, filters, kernel, strides=1, reflect=0, transpose=False):
    if reflect:
        x = ReflectionPadding2D(reflect)(x)
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(filters, kernel, strides=strides, padding="valid" if reflect else "same",
             use_bias=False)(x)
    return layers.ReLU()(instance_norm()(x))


def _residual_block(x, filters):
    y = _conv_norm_relu(x, filters, 3, reflect=1)
    y = ReflectionPadding2D(1)(y)
    y = instance_norm()(layers.Conv2D(filters, 3, use_bias=False)(y))
    return layers.Add()([x, y])


def _check_shape(image_shape):
    if len(image_shape) != 3 or image_shape[0] % 4 or image_shape[1] % 4:
        raise ValueError(
            f"CycleGAN needs image_shape (H, W, C) with H and W divisible by 4 (two stride-2 "
            f"downsamplings); received {tuple(image_shape)}.")


def resnet_generator(image_shape, width=32, n_blocks=6, name="generator"):
    """c7s1-w, d2w, d4w, n_blocks x R4w, u2w, uw, c7s1-C (tanh): Johnson et al.'s
    transformation network as CycleGAN uses it. Images [-1, 1] in, [-1, 1] out."""
    _check_shape(image_shape)
    image = keras.Input(tuple(image_shape), name="image")
    x = _conv_norm_relu(image, width, 7, reflect=3)
    x = _conv_norm_relu(x, 2 * width, 3, strides=2)
    x = _conv_norm_relu(x, 4 * width, 3, strides=2)
    for _ in range(n_blocks):
        x = _residual_block(x, 4 * width)
    x = _conv_norm_relu(x, 2 * width, 3, strides=2, transpose=True)
    x = _conv_norm_relu(x, width, 3, strides=2, transpose=True)
    x = layers.Conv2D(image_shape[-1], 7)(ReflectionPadding2D(3)(x))
    out = layers.Activation("tanh", dtype="float32", name="translated")(x)
    return keras.Model(image, out, name=name)


def patch_discriminator(image_shape, width=64, n_layers=2, name="discriminator"):
    """PatchGAN: C(w, /2, no norm), ``n_layers - 1`` more stride-2 convs doubling the filters
    (up to 8w), one stride-1 conv, 1 logit per patch. ``n_layers=3`` is the paper's 70x70
    PatchGAN; 2 on 28x28 images gives 7x7 scores, each patch judging the shoe as a whole."""
    _check_shape(image_shape)
    image = keras.Input(tuple(image_shape), name="image")
    x = layers.LeakyReLU(0.2)(layers.Conv2D(width, 4, strides=2, padding="same")(image))
    for i in range(1, n_layers + 1):
        filters, strides = min(2**i, 8) * width, 2 if i < n_layers else 1
        x = layers.Conv2D(filters, 4, strides=strides, padding="same", use_bias=False)(x)
        x = layers.LeakyReLU(0.2)(instance_norm()(x))
    x = layers.Conv2D(1, 4, padding="same")(x)
    logits = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(image, logits, name=name)


@keras.saving.register_keras_serializable(package="kgan")
class CycleGAN(TranslationGAN):
    """Unpaired image-to-image translation between domains A and B, both ways.

    Args (keyword-only: the four networks share one shape, a swap would go unnoticed):
        generator_ab: ``G_ab``, images of A -> images of B (both in [-1, 1]).
        generator_ba: ``G_ba``, B -> A.
        discriminator_a: ``D_a``, images of A -> patch logits.
        discriminator_b: ``D_b``, images of B -> patch logits.
        pool_size: images in each discriminator's ``kgan.layers.ImagePool`` (0: no pool).
        seed: seed of the pools' stateless RNG (keyed on ``(seed, step)``).

    ``generator`` / ``discriminator`` are ``generator_ab`` / ``discriminator_b``, the
    default direction's pair (see the module). Training data: unpaired batches
    ``(a_batch, b_batch)``, e.g. ``kgan.data.load("sneaker2boot")``.

    Example:
        >>> model = kgan.zoo.load("cyclegan_sneaker2boot")
        >>> boots = model.translate(sneakers, direction="a2b")     # (N, 28, 28, 1)
        >>> back = model.translate(boots, direction="b2a")
    """

    directions = ("a2b", "b2a")
    batch_format = ("unpaired batches (a_batch, b_batch) of the two domains, as "
                    "kgan.data.load('sneaker2boot') yields, or fit(x=a_images, y=b_images)")
    metric_names = METRIC_NAMES
    compile_defaults = dict(learning_rate=2e-4, beta_1=0.5, beta_2=0.999, cycle_weight=10.0,
                            identity_weight=0.5)
    networks = ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b")

    def __init__(self, *, generator_ab, generator_ba, discriminator_a, discriminator_b,
                 pool_size=50, seed=0, **kwargs):
        super().__init__(generator_ab, discriminator_b, seed=seed, **kwargs)
        self.generator_ba = generator_ba
        self.discriminator_a = discriminator_a
        for net, role in ((generator_ba, "generator_ba"), (discriminator_a, "discriminator_a"),
                          (discriminator_b, "discriminator_b")):
            if tuple(net.input_shape[1:]) != self.image_shape:
                raise ValueError(
                    f"{role} takes images of shape {tuple(net.input_shape[1:])} but "
                    f"generator_ab makes {self.image_shape}; all four networks must share it.")
        self.pool_size = int(pool_size)
        self.pool_a = ImagePool(pool_size, name="pool_a")
        self.pool_b = ImagePool(pool_size, name="pool_b")
        for pool in (self.pool_a, self.pool_b):
            pool.build((None, *self.image_shape))
        self.loss_name = "least_squares"

    @property
    def generator_ab(self):
        """``G_ab``, A -> B: the model's ``generator``."""
        return self.generator

    @property
    def discriminator_b(self):
        """``D_b``, judge of B images: the model's ``discriminator``."""
        return self.discriminator

    @classmethod
    def build(cls, image_shape, width=32, n_blocks=6, d_width=64, d_layers=2, pool_size=50,
              seed=0, name=None):
        """Both ResNet generators and both PatchGAN discriminators for ``image_shape``."""
        image_shape = tuple(image_shape)
        return cls(
            generator_ab=resnet_generator(image_shape, width, n_blocks, name="generator_ab"),
            generator_ba=resnet_generator(image_shape, width, n_blocks, name="generator_ba"),
            discriminator_a=patch_discriminator(image_shape, d_width, d_layers, "discriminator_a"),
            discriminator_b=patch_discriminator(image_shape, d_width, d_layers, "discriminator_b"),
            pool_size=pool_size, seed=seed, name=name or "cyclegan",
        )

    # ------------------------------------------------------------------ compile
    def compile(self, d_optimizer=None, g_optimizer=None, learning_rate=None, hold_steps=0,
                decay_steps=0, cycle_weight=None, identity_weight=None, **kwargs):
        """Configures training; every argument left out takes the paper's value.

        Args:
            d_optimizer, g_optimizer: optimizers of both discriminators / both generators
                (default: Adam(learning_rate, beta_1=0.5) with the schedule below).
            learning_rate: initial learning rate of the default optimizers (2e-4).
            hold_steps, decay_steps: with ``decay_steps > 0`` the default optimizers hold
                ``learning_rate`` for ``hold_steps`` steps and then decay it linearly to 0
                over ``decay_steps`` (:class:`LinearDecay`); a step is one batch.
            cycle_weight: lambda, the weight of the cycle-consistency L1 loss (10).
            identity_weight: weight of the identity L1 loss as a fraction of lambda (0.5,
                the reference code's ``lambda_identity``); 0 turns it off.
            **kwargs: passed to ``keras.Model.compile`` (``jit_compile``...).
        """
        given = dict(learning_rate=learning_rate, cycle_weight=cycle_weight,
                     identity_weight=identity_weight)
        cfg = {**self.compile_defaults, **{k: v for k, v in given.items() if v is not None}}
        for key in ("cycle_weight", "identity_weight"):
            if cfg[key] < 0:
                raise ValueError(f"{key} must be >= 0; received {cfg[key]!r}.")
        if decay_steps and (d_optimizer or g_optimizer):
            raise ValueError("hold_steps/decay_steps configure the default optimizers; with "
                             "your own optimizers give them a LinearDecay learning rate.")
        keras.Model.compile(self, optimizer=None, **kwargs)

        def default_optimizer():
            rate = cfg["learning_rate"]
            if decay_steps:
                rate = LinearDecay(rate, hold_steps, decay_steps)
            return keras.optimizers.Adam(rate, beta_1=cfg["beta_1"], beta_2=cfg["beta_2"])

        g_optimizer = keras.optimizers.get(g_optimizer) if g_optimizer else default_optimizer()
        if getattr(g_optimizer, "use_ema", False):
            raise ValueError("CycleGAN does not support generator EMA (use_ema=True on "
                             "g_optimizer): the paper has none; translate uses the weights.")
        self._set_optimizers(d_optimizer or default_optimizer(), g_optimizer)
        self.cycle_weight = float(cfg["cycle_weight"])
        self.identity_weight = float(cfg["identity_weight"])
        self._kgan_compile_args = dict(kwargs)
        if self.built:
            self.build_optimizers()

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return None
        return {**self._optimizer_config(), "cycle_weight": self.cycle_weight,
                "identity_weight": self.identity_weight, **self._kgan_compile_args}

    def build_optimizers(self):
        self.d_optimizer.build(self._discriminator_variables())
        self.g_optimizer.build(self._generator_variables())

    def _generator_variables(self):
        return self.generator_ab.trainable_variables + self.generator_ba.trainable_variables

    def _discriminator_variables(self):
        return (self.discriminator_b.trainable_variables
                + self.discriminator_a.trainable_variables)

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        return {"name": self.name, "pool_size": self.pool_size, "seed": self.seed,
                **{key: keras.saving.serialize_keras_object(getattr(self, key))
                   for key in self.networks}}

    @classmethod
    def from_config(cls, config):
        # .keras files written before the networks were named for their directions call
        # generator_ab and discriminator_b "generator" and "discriminator".
        renamed = {"generator": "generator_ab", "discriminator": "discriminator_b"}
        config = {renamed.get(key, key): value for key, value in config.items()}
        config.update({key: keras.saving.deserialize_keras_object(config[key])
                       for key in cls.networks})
        return cls(**config)

    # ------------------------------------------------------------------ inference
    def filter_model(self, direction=None):
        """``generator_ab`` for ``"a2b"`` (the default), ``generator_ba`` for ``"b2a"``."""
        direction = self.check_direction(direction)
        return self.generator_ab if direction == "a2b" else self.generator_ba

    # ------------------------------------------------------------------ training
    def _gan_step(self, data):
        """One update of both generators, the pools, one of both discriminators (paper's order)."""
        a, b = self._prepare_pair(data)
        _, num_replicas = self._replica_info()
        step = self._step_counter()  # before G's update moves it
        fake_a, fake_b = self._generator_update(a, b, num_replicas)
        self._discriminator_update(a, b, self._pooled(self.pool_a, fake_a, step, "a"),
                                   self._pooled(self.pool_b, fake_b, step, "b"), num_replicas)
        return {m.name: m.result() for m in self.metrics}

    def _generator_update(self, a, b, num_replicas):
        variables = self._generator_variables()

        def loss_fn():
            fake_b = self.generator_ab(a, training=True)
            fake_a = self.generator_ba(b, training=True)
            # The paper's LSGAN generator term (D(G(x)) - 1)^2, twice kgan's 0.5-scaled one.
            adv = 2.0 * (gan_losses.least_squares_generator_loss(self._d_b(fake_b))
                         + gan_losses.least_squares_generator_loss(self._d_a(fake_a)))
            cycle = (gan_losses.l1_distance(self.generator_ba(fake_b, training=True), a)
                     + gan_losses.l1_distance(self.generator_ab(fake_a, training=True), b))
            total = adv + self.cycle_weight * cycle
            identity = ops.zeros((), "float32")
            if self.identity_weight:
                identity = (gan_losses.l1_distance(self.generator_ba(a, training=True), a)
                            + gan_losses.l1_distance(self.generator_ab(b, training=True), b))
                total += self.cycle_weight * self.identity_weight * identity
            scaled = self.g_optimizer.scale_loss(total / num_replicas)
            return (scaled,), (total, adv, cycle, identity, fake_a, fake_b)

        _, aux, (grads,) = self._value_and_grads(loss_fn, [variables])
        total, adv, cycle, identity, fake_a, fake_b = aux
        self._apply(self.g_optimizer, grads, variables)
        for name, value in (("g_loss", total), ("adv_loss", adv), ("cycle_loss", cycle),
                            ("identity_loss", identity)):
            self._trackers[name].update_state(value)
        return ops.stop_gradient(fake_a), ops.stop_gradient(fake_b)

    def _discriminator_update(self, a, b, fake_a, fake_b, num_replicas):
        variables = self._discriminator_variables()

        def loss_fn():
            logits = [self._d_a(a), self._d_a(fake_a), self._d_b(b), self._d_b(fake_b)]
            d_a, d_b, real_acc, fake_acc = discriminator_losses(*logits)
            total = d_a + d_b
            scaled = self.d_optimizer.scale_loss(total / num_replicas)
            return (scaled,), (total, d_a, d_b, real_acc, fake_acc)

        _, aux, (grads,) = self._value_and_grads(loss_fn, [variables])
        self._apply(self.d_optimizer, grads, variables)
        for name, value in zip(("d_loss", "d_a_loss", "d_b_loss", "d_real_acc", "d_fake_acc"),
                               aux):
            self._trackers[name].update_state(value)

    def _d_a(self, images):
        return ops.cast(self.discriminator_a(images, training=True), "float32")

    def _d_b(self, images):
        return ops.cast(self.discriminator_b(images, training=True), "float32")

    def _pooled(self, pool, fakes, step, domain):
        """The pool's answer for this replica's ``fakes``: the pool sees the global batch."""
        if not pool.size:
            return fakes
        replica_id, num_replicas = self._replica_info()
        local = ops.shape(fakes)[0]
        every = fakes
        if num_replicas > 1:  # tf.distribute only: JAX's step sees the global batch
            import tensorflow as tf

            every = tf.distribute.get_replica_context().all_gather(fakes, axis=0)
        coin, noise = pool_draws(ops.shape(every)[0], pool.size, self.seed, step,
                                 _POOL_STREAMS[domain])
        chosen = pool.update(every, coin, noise)
        return ops.cast(chosen[replica_id * local:(replica_id + 1) * local], fakes.dtype)


def discriminator_losses(real_a, fake_a, real_b, fake_b):
    """LSGAN losses of D_a and D_b from their patch outputs, and the share of real / fake
    patches they classify right (threshold 0.5, halfway between the targets 0 and 1)."""
    loss = gan_losses.least_squares_discriminator_loss

    def share(x, real):
        return ops.mean(ops.cast((x > 0.5) if real else (x <= 0.5), "float32"))

    return (loss(real_a, fake_a), loss(real_b, fake_b),
            0.5 * (share(real_a, True) + share(real_b, True)),
            0.5 * (share(fake_a, False) + share(fake_b, False)))


_SNEAKER2BOOT_TRAIN = 6000  # images per domain in sneaker2boot's train split


def _recipe(epochs, hold_epochs, batch_size=16, train_size=_SNEAKER2BOOT_TRAIN,
            jit_compile=True):
    """The paper's schedule in epochs of ``train_size`` images: constant, then linear to 0."""
    steps = train_size // batch_size
    return dict(epochs=epochs, batch_size=batch_size, seed=0, compile=dict(
        hold_steps=hold_epochs * steps, decay_steps=(epochs - hold_epochs) * steps,
        jit_compile=jit_compile))


def _register(name, dataset, model_kwargs, recipe, image_shape=(28, 28, 1), **weights):
    register_entry(CycleGAN, "cyclegan", PAPER, name, dataset, image_shape, model_kwargs,
                   recipe, **weights)


# Trained on one H200 with Keras on JAX (docs/zoo/cyclegan_sneaker2boot.md).
_register("cyclegan_sneaker2boot", "sneaker2boot",
          dict(width=16, n_blocks=6, d_width=32, pool_size=50), _recipe(40, 20),
          weights="cyclegan_sneaker2boot.weights.h5",
          sha256="017a2e51552604c30caee0e3cf58a84bb465063e4896477177f6e7b984d8d9d2")
# On 2 CPU cores: the recipe, the int8 fine-tuning and the int8 settings are measured on its card.
_register("cyclegan_horse2zebra", "horse2zebra",
          dict(width=32, n_blocks=9, d_width=64, d_layers=3, pool_size=50),
          {**_recipe(48, 24, batch_size=1, train_size=667, jit_compile=False), "crop": 128,
           "precision": "bfloat16", "int8_finetune": dict(
               direction="a2b", steps=2000, batch_size=2, learning_rate=1e-4,
               penalty_weight=0.1, threshold=6.0, target_share=0.25),
           "int8_export": dict(a2b=dict(float_upsampling=True, percentile=99.999),
                               b2a=dict(float_upsampling=True, percentile=99.9995))},
          image_shape=(256, 256, 3), weights="cyclegan_horse2zebra.weights.h5",
          weights_dtype="float16",
          sha256="5b706a051e14ba599c5653239f02e0096b007c62e22c4b8b21dfe399ffb78387")
_register("test_cyclegan", "sneaker2boot", dict(width=4, n_blocks=1, d_width=4, pool_size=50),
          dict(epochs=1, batch_size=8, seed=0, compile={}, int8_finetune=dict(
              direction="a2b", steps=2, steps_per_epoch=1, batch_size=2, learning_rate=1e-3,
              penalty_weight=0.03, threshold=6.0, target_share=0.25)))
