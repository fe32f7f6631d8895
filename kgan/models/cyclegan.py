"""CycleGAN (Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks", arXiv:1703.10593).

Two generators translate between two domains without paired examples: ``G_ab`` maps A to B,
``G_ba`` maps B to A, and a discriminator per domain (``D_b`` judges B images, ``D_a`` A
images) makes the translations look like the target domain. What keeps a translation tied
to its input is the *cycle*: ``G_ba(G_ab(a))`` must give ``a`` back (and ``G_ab(G_ba(b))``
``b``). The paper's recipe, followed here:

* generators: Johnson et al.'s ResNet: reflection-padded 7x7 conv, two stride-2 convs down,
  ``n_blocks`` residual blocks, two stride-2 transposed convs up, 7x7 conv to tanh, with
  instance norm (``keras.layers.GroupNormalization(groups=-1)``) and ReLU;
* discriminators: PatchGAN (4x4 convs, stride 2, 2, 1, LeakyReLU 0.2, instance norm after
  the first), one least-squares real/fake output per patch;
* least-squares adversarial loss (Mao et al. 2017): G minimises ``(D(G(x)) - 1)^2``, D
  ``0.5 (D(y) - 1)^2 + 0.5 D(G(x))^2``;
* cycle loss ``lambda * (|G_ba(G_ab(a)) - a| + |G_ab(G_ba(b)) - b|)`` with lambda = 10, and
  identity loss ``0.5 lambda * (|G_ba(a) - a| + |G_ab(b) - b|)``, which keeps colours and
  makes a generator leave images of its target domain alone;
* discriminators see generated images through a history pool of the last 50 (Shrivastava
  et al. 2017), :class:`ImagePool`, so they do not forget earlier generator mistakes;
* Adam(2e-4, beta_1=0.5), constant for a while and then decayed linearly to zero,
  :class:`LinearDecay`.

Each ``train_step`` makes one update of both generators (one optimizer, like the paper's
code) and then one update of both discriminators on the same generated images.

How the ``kgan.GAN`` attributes map: ``generator`` is ``G_ab`` and ``discriminator`` is
``D_b`` (the default direction, a2b), ``generator_ba`` and ``discriminator_a`` the other
two; ``g_optimizer`` updates both generators and ``d_optimizer`` both discriminators.
Weights files, ``.keras`` files and zoo entries hold all four networks and both pools.

CycleGAN has no latent space: ``generate()`` raises a ``ValueError`` pointing to
``translate(images, direction="a2b" | "b2a")``, which the ``ImageTranslator`` mixin
provides; ``filter_model(direction)`` is the network each direction exports as an
image-in, image-out filter.

Training: ``model.fit`` on TensorFlow (any ``tf.distribute`` strategy) or JAX: the step is
written in ``keras.ops`` and :mod:`kgan.trainers`' primitives; the history pools draw from
``tf.random`` or ``jax.random`` (other numbers, the same distribution).
``tools/train_cyclegan.py`` runs the recipes.
"""

import contextlib

import keras
import numpy as np
from keras import layers, ops

from kgan import losses as gan_losses
from kgan._validation import check_images
from kgan.gan import GAN, _split_batch, tf
from kgan.trainers.base import _static_rank
from kgan.translation import ImageTranslator
from kgan.models._common import register_translator_entry

PAPER = "Zhu, Park, Isola & Efros 2017, arXiv:1703.10593"

#: Trackers in the order the logs list them: the total losses of both players, the parts of
#: the generators' objective, each discriminator's loss, and the share of patches both
#: discriminators get right (LSGAN outputs above / below 0.5) on real and on pooled images.
METRIC_NAMES = ("d_loss", "g_loss", "adv_loss", "cycle_loss", "identity_loss", "d_a_loss",
                "d_b_loss", "d_real_acc", "d_fake_acc")

#: RNG streams per step of the two pools (each draws two numbers).
_POOL_STREAMS = {"a": 0, "b": 2}


# ---------------------------------------------------------------------------- layers
@keras.saving.register_keras_serializable(package="kgan")
class ReflectionPadding2D(layers.Layer):
    """Pads height and width by mirroring the border (no edge artefacts from zero padding)."""

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        p = 2 * self.padding
        return (b, None if h is None else h + p, None if w is None else w + p, c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="kgan")
class ImagePool(layers.Layer):
    """The history of generated images a CycleGAN discriminator trains on.

    ``pool(images, seed)`` takes a batch of generated images and returns a batch of the
    same size for the discriminator, updating the pool held in non-trainable variables
    (saved with the model, so a resumed run keeps its history). The paper's rule, per
    image: while the pool is not full, store the image and return it; once full, with
    probability 1/2 return a random stored image and store the new one in its place,
    otherwise return the new image.

    The batch version, graph-friendly with static shapes and stateless randomness keyed on
    ``seed`` (an int32 pair): swaps happen only once the pool was full at the start of the
    call (in the one batch that fills it, images that do not fit are returned unstored),
    and the swapped images of one call take distinct random slots (so at most ``size``
    swaps per call).

    Several replicas: the model calls the pool on the *global* batch (every replica's
    generated images, gathered) with the same seed on every replica, so all replicas
    compute the same new pool and the same returned batch, of which each keeps its own
    rows; the variables aggregate with ``ONLY_FIRST_REPLICA``. One and N replicas thus
    keep identical pools.

    Args:
        size: number of stored images (50 in the paper; 0 disables the pool).
    """

    def __init__(self, size=50, **kwargs):
        super().__init__(**kwargs)
        if int(size) != size or size < 0:
            raise ValueError(f"pool size must be an integer >= 0; received {size!r}.")
        self.size = int(size)

    def build(self, input_shape):
        if self.size:
            self.images = self.add_weight(
                name="images", shape=(self.size, *input_shape[1:]), initializer="zeros",
                trainable=False, aggregation="only_first_replica")
            self.count = self.add_weight(
                name="count", shape=(), dtype="int32", initializer="zeros", trainable=False,
                aggregation="only_first_replica")

    def call(self, images, seed):
        """The pool's answer, its random numbers from ``tf.random.stateless_uniform`` keyed
        on ``seed`` (TensorFlow; :meth:`update` takes them from any backend)."""
        if not self.size:
            return images
        coin, noise = tf_pool_draws(ops.shape(images)[0], self.size, seed)
        return self.update(images, coin, noise)

    def update(self, images, coin, noise):
        """:func:`pool_update` on the stored images with given random numbers (``coin``:
        ``(B,)``, ``noise``: ``(size,)`` uniforms); stores the new pool, returns the answer."""
        if not self.size:
            return images
        images = ops.cast(images, self.images.dtype)
        returned, stored, count = pool_update(images, ops.convert_to_tensor(self.images),
                                              ops.convert_to_tensor(self.count), coin, noise)
        self.images.assign(stored)
        self.count.assign(count)
        return returned


def tf_pool_draws(batch, size, seed):
    """:class:`ImagePool`'s random numbers on TensorFlow: ``(coin, noise)`` keyed on the int32
    pair ``seed``."""
    coin = tf.random.stateless_uniform((batch,), seed=seed)
    noise = tf.random.stateless_uniform((size,), seed=seed + [0, 1])
    return coin, noise


def jax_pool_draws(batch, size, seed, step, stream):
    """:class:`ImagePool`'s random numbers on JAX, keyed on ``fold_in(fold_in(key(seed),
    step), stream)``: other numbers than TensorFlow's, the same distribution."""
    import jax

    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), step), stream)
    coin_key, noise_key = jax.random.split(key)
    return (jax.random.uniform(coin_key, (batch,)), jax.random.uniform(noise_key, (size,)))

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def pool_update(images, stored, count, coin, noise):
    """:class:`ImagePool`'s rule as a pure function of arrays (any Keras backend).

    Args:
        images: the new generated images ``(B, ...)``.
        stored: the pool ``(P, ...)``; ``count``: how many slots hold images (int32).
        coin: ``(B,)`` uniform [0, 1) numbers (an image is swapped when < 0.5).
        noise: ``(P,)`` uniform numbers whose argsort orders the slots swaps go to.

    Returns:
        ``(returned images, new pool, new count)``.
    """
    size = stored.shape[0]
    batch = ops.shape(images)[0]
    index = ops.arange(batch, dtype="int32")
    fill = count + index < size
    swap = ops.logical_and(coin < 0.5, count >= size)
    rank = ops.cumsum(ops.cast(swap, "int32")) - 1
    swap = ops.logical_and(swap, rank < size)
    order = ops.cast(ops.argsort(noise), "int32")
    slot = ops.where(fill, count + index, ops.take(order, ops.clip(rank, 0, size - 1)))
    slot = ops.where(ops.logical_or(fill, swap), slot, -1)
    per_image = (-1,) + (1,) * (len(images.shape) - 1)
    returned = ops.where(ops.reshape(swap, per_image),
                         ops.take(stored, ops.maximum(slot, 0), axis=0), images)
    # source[j]: the batch row written into slot j (-1: slot j keeps its image).
    match = ops.equal(ops.expand_dims(slot, 1), ops.arange(size, dtype="int32")[None, :])
    source = ops.max(ops.where(match, ops.expand_dims(index, 1), -1), axis=0)
    new = ops.where(ops.reshape(source >= 0, per_image),
                    ops.take(images, ops.maximum(source, 0), axis=0), stored)
    return returned, new, ops.minimum(count + batch, size)


@keras.saving.register_keras_serializable(package="kgan")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant ``initial_learning_rate`` for ``hold_steps``, then linearly to 0 over
    ``decay_steps`` (the paper: 100 epochs constant, 100 decaying); 0 afterwards.

    The step is the optimizer's own update count, so the schedule resumes with the
    optimizer state (``BackupAndRestore``, ``.keras`` files) and needs no callback.
    """

    def __init__(self, initial_learning_rate, hold_steps, decay_steps):
        if decay_steps < 1 or hold_steps < 0:
            raise ValueError(
                f"LinearDecay needs decay_steps >= 1 and hold_steps >= 0; received "
                f"hold_steps={hold_steps!r}, decay_steps={decay_steps!r}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.hold_steps = int(hold_steps)
        self.decay_steps = int(decay_steps)

    def __call__(self, step):
        progress = (ops.cast(step, "float32") - self.hold_steps) / self.decay_steps
        return self.initial_learning_rate * ops.clip(1.0 - progress, 0.0, 1.0)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "hold_steps": self.hold_steps, "decay_steps": self.decay_steps}


# ---------------------------------------------------------------------------- builders
def _instance_norm(name=None):
    return layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)


def _conv_norm_relu(x, filters, kernel, strides=1, reflect=0, transpose=False):
    if reflect:
        x = ReflectionPadding2D(reflect)(x)
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(filters, kernel, strides=strides, padding="valid" if reflect else "same",
             use_bias=False)(x)
    return layers.ReLU()(_instance_norm()(x))


def _residual_block(x, filters):
    y = _conv_norm_relu(x, filters, 3, reflect=1)
    y = ReflectionPadding2D(1)(y)
    y = _instance_norm()(layers.Conv2D(filters, 3, use_bias=False)(y))
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


def patch_discriminator(image_shape, width=64, name="discriminator"):
    """PatchGAN: C(w, /2, no norm) -> C(2w, /2) -> C(4w, /1) -> 1 logit per patch.

    On 28x28 images the output is a 7x7 grid of real/fake scores, each seeing a 34x34
    window (clipped to the image), i.e. every patch judges the shoe's shape as a whole.
    """
    _check_shape(image_shape)
    image = keras.Input(tuple(image_shape), name="image")
    x = layers.LeakyReLU(0.2)(layers.Conv2D(width, 4, strides=2, padding="same")(image))
    for filters, strides in ((2 * width, 2), (4 * width, 1)):
        x = layers.Conv2D(filters, 4, strides=strides, padding="same", use_bias=False)(x)
        x = layers.LeakyReLU(0.2)(_instance_norm()(x))
    x = layers.Conv2D(1, 4, padding="same")(x)
    logits = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(image, logits, name=name)


# ---------------------------------------------------------------------------- model
@keras.saving.register_keras_serializable(package="kgan")
class CycleGAN(ImageTranslator, GAN):
    """Unpaired image-to-image translation between domains A and B, both ways.

    Args:
        generator: ``G_ab``, images of A -> images of B (both in [-1, 1]).
        discriminator: ``D_b``, images of B -> patch logits.
        generator_ba: ``G_ba``, B -> A.
        discriminator_a: ``D_a``, images of A -> patch logits.
        pool_size: images in each discriminator's :class:`ImagePool` (0: no pool).
        seed: seed of the pools' stateless RNG (keyed on ``(seed, step)``).

    Training data are unpaired batches ``(a_batch, b_batch)``, e.g.
    ``kgan.data.load("sneaker2boot")``, or ``fit(x=a_images, y=b_images)``.

    Example:
        >>> model = kgan.zoo.load("cyclegan_sneaker2boot")
        >>> boots = model.translate(sneakers, direction="a2b")     # (N, 28, 28, 1)
        >>> back = model.translate(boots, direction="b2a")
    """

    directions = ("a2b", "b2a")
    #: Formats kgan.export refuses (with the reason) instead of writing a wrong file.
    export_unsupported = {
        "tflite-int8": "full-integer quantization of the instance-normalised ResNet generators "
                       "misses the export tolerance (mean error 0.058 a2b, 0.021 b2a on "
                       "cyclegan_sneaker2boot against 0.02); use quantize='none' or 'float16'.",
    }
    compile_defaults = dict(learning_rate=2e-4, beta_1=0.5, beta_2=0.999, cycle_weight=10.0,
                            identity_weight=0.5)

    def __init__(self, generator, discriminator, generator_ba, discriminator_a, pool_size=50,
                 seed=0, latent_dim=0, num_classes=0, **kwargs):
        if latent_dim or num_classes:
            raise ValueError(
                f"CycleGAN has no latent space and no classes; received latent_dim="
                f"{latent_dim!r}, num_classes={num_classes!r} (leave both at 0).")
        super().__init__(generator, discriminator, latent_dim=0, num_classes=0, seed=seed,
                         **kwargs)
        self.generator_ba = generator_ba
        self.discriminator_a = discriminator_a
        for net, role in ((generator_ba, "generator_ba"), (discriminator, "discriminator"),
                          (discriminator_a, "discriminator_a")):
            if tuple(net.input_shape[1:]) != self.image_shape:
                raise ValueError(
                    f"{role} takes images of shape {tuple(net.input_shape[1:])} but the "
                    f"generator makes {self.image_shape}; all four networks must share it.")
        self.pool_size = int(pool_size)
        self.pool_a = ImagePool(pool_size, name="pool_a")
        self.pool_b = ImagePool(pool_size, name="pool_b")
        for pool in (self.pool_a, self.pool_b):
            pool.build((None, *self.image_shape))
        self._trackers = {name: keras.metrics.Mean(name=name) for name in METRIC_NAMES}
        self._active_metric_names = METRIC_NAMES
        self.loss_name = "least_squares"

    @classmethod
    def build(cls, image_shape, width=32, n_blocks=6, d_width=64, pool_size=50, seed=0,
              name=None):
        """Both ResNet generators and both PatchGAN discriminators for ``image_shape``."""
        image_shape = tuple(image_shape)
        return cls(
            resnet_generator(image_shape, width, n_blocks, name="generator_ab"),
            patch_discriminator(image_shape, d_width, name="discriminator_b"),
            resnet_generator(image_shape, width, n_blocks, name="generator_ba"),
            patch_discriminator(image_shape, d_width, name="discriminator_a"),
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
        cfg = dict(self.compile_defaults)
        given = dict(learning_rate=learning_rate, cycle_weight=cycle_weight,
                     identity_weight=identity_weight)
        cfg.update({k: v for k, v in given.items() if v is not None})
        for key in ("cycle_weight", "identity_weight"):
            if cfg[key] < 0:
                raise ValueError(f"{key} must be >= 0; received {cfg[key]!r}.")
        if decay_steps and (d_optimizer or g_optimizer):
            raise ValueError(
                "hold_steps/decay_steps configure the default optimizers; with your own "
                "optimizers give them a LinearDecay learning rate instead.")
        keras.Model.compile(self, optimizer=None, **kwargs)

        def default_optimizer():
            rate = cfg["learning_rate"]
            if decay_steps:
                rate = LinearDecay(rate, hold_steps, decay_steps)
            return keras.optimizers.Adam(rate, beta_1=cfg["beta_1"], beta_2=cfg["beta_2"])

        g_optimizer = keras.optimizers.get(g_optimizer) if g_optimizer else default_optimizer()
        if getattr(g_optimizer, "use_ema", False):
            raise ValueError(
                "CycleGAN does not support generator EMA (use_ema=True on g_optimizer): the "
                "paper has none, and translate/export use the trained weights.")
        self._set_optimizers(d_optimizer or default_optimizer(), g_optimizer)
        self.cycle_weight = float(cfg["cycle_weight"])
        self.identity_weight = float(cfg["identity_weight"])
        self._kgan_compile_args = dict(kwargs)
        if self.built:
            self.build_optimizers()

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return None
        return {
            **self._optimizer_config(),
            "cycle_weight": self.cycle_weight,
            "identity_weight": self.identity_weight,
            **self._kgan_compile_args,
        }

    def build_optimizers(self):
        self.d_optimizer.build(self._discriminator_variables())
        self.g_optimizer.build(self._generator_variables())

    def _generator_variables(self):
        return self.generator.trainable_variables + self.generator_ba.trainable_variables

    def _discriminator_variables(self):
        return self.discriminator.trainable_variables + self.discriminator_a.trainable_variables

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        return {
            "name": self.name,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "generator_ba": keras.saving.serialize_keras_object(self.generator_ba),
            "discriminator_a": keras.saving.serialize_keras_object(self.discriminator_a),
            "pool_size": self.pool_size,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator", "generator_ba", "discriminator_a"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    # ------------------------------------------------------------------ inference
    def filter_model(self, direction=None):
        """``G_ab`` for ``"a2b"`` (the default), ``G_ba`` for ``"b2a"``."""
        direction = self.check_direction(direction)
        return self.generator if direction == "a2b" else self.generator_ba

    def inference_weights(self):
        """The trained weights are the inference weights (no EMA): a no-op context."""
        return contextlib.nullcontext()

    def generate(self, n=None, z=None, labels=None, seed=None, batch_size=256):
        """Not available: CycleGAN maps images to images and has no latent space."""
        raise ValueError(
            f"{self.name} is a CycleGAN: it translates images and does not sample from a "
            "latent space. Use model.translate(images, direction='a2b') (or 'b2a') with "
            f"images of shape (N, {', '.join(map(str, self.image_shape))}) in [-1, 1].")

    # ------------------------------------------------------------------ training
    def _check_first_batch(self, x, y):
        if tf is not None and isinstance(x, tf.data.Dataset):
            element = next(iter(x.take(1)), None)
            if element is None:
                raise ValueError("The training dataset is empty: it yielded no batch.")
            a, b = _split_batch(element)
        elif x is None:
            raise ValueError("fit() needs training data: a dataset of (a_batch, b_batch).")
        elif isinstance(x, np.ndarray) or hasattr(x, "__array__") or (
                tf is not None and isinstance(x, tf.Tensor)):
            a, b = x, y
        else:  # Python generators / PyDatasets: checked at trace time in train_step.
            return
        _require_pair(b)
        for images in (a, b):
            check_images(images, self.image_shape)

    def _gan_step(self, data):
        """One update of both generators, then the pools, then one update of both
        discriminators (the paper's order)."""
        a, b = _split_batch(data)
        _require_pair(b)
        for images in (a, b):
            if _static_rank(images) is not None:
                check_images(images, self.image_shape, static=True)
        # float32 data under any dtype policy: the networks cast to their compute dtype.
        a = ops.cast(a, "float32")
        b = ops.cast(b, "float32")
        _, num_replicas = self._replica_info()
        step = self._step_counter()  # before G's update moves it
        fake_a, fake_b = self._generator_update(a, b, num_replicas)
        self._discriminator_update(a, b, self._pooled(self.pool_a, fake_a, step, "a"),
                                   self._pooled(self.pool_b, fake_b, step, "b"), num_replicas)
        return {m.name: m.result() for m in self.metrics}

    def _generator_update(self, a, b, num_replicas):
        variables = self._generator_variables()

        def loss_fn():
            fake_b = self.generator(a, training=True)
            fake_a = self.generator_ba(b, training=True)
            # The paper's LSGAN generator term (D(G(x)) - 1)^2, twice kgan's 0.5-scaled one.
            adv = 2.0 * (gan_losses.least_squares_generator_loss(self._d(fake_b, ()))
                         + gan_losses.least_squares_generator_loss(self._d_a(fake_a)))
            cycle = (_l1(self.generator_ba(fake_b, training=True), a)
                     + _l1(self.generator(fake_a, training=True), b))
            total = adv + self.cycle_weight * cycle
            identity = ops.zeros((), "float32")
            if self.identity_weight:
                identity = (_l1(self.generator_ba(a, training=True), a)
                            + _l1(self.generator(b, training=True), b))
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
            logits = [self._d_a(a), self._d_a(fake_a), self._d(b, ()), self._d(fake_b, ())]
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

    def _pooled(self, pool, fakes, step, domain):
        """The pool's answer for this replica's ``fakes``: the pool sees the global batch."""
        if not pool.size:
            return fakes
        replica_id, num_replicas = self._replica_info()
        local = ops.shape(fakes)[0]
        every = fakes
        if num_replicas > 1:  # tf.distribute only: JAX's step sees the global batch
            every = tf.distribute.get_replica_context().all_gather(fakes, axis=0)
        if keras.backend.backend() == "tensorflow":
            seed = tf.stack([tf.constant(self.seed, "int32"), step * 4 + _POOL_STREAMS[domain]])
            coin, noise = tf_pool_draws(tf.shape(every)[0], pool.size, seed)
        else:
            coin, noise = jax_pool_draws(ops.shape(every)[0], pool.size, self.seed, step,
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


def _l1(x, y):
    return ops.mean(ops.abs(ops.cast(x, "float32") - ops.cast(y, "float32")))


def _require_pair(b):
    if b is None:
        raise ValueError(
            "CycleGAN trains on unpaired batches (a_batch, b_batch) of the two domains; "
            "received images only. Use kgan.data.load('sneaker2boot') or "
            "fit(x=a_images, y=b_images).")


# ---------------------------------------------------------------------------- samples, figures
def translation_rows(model, a, b):
    """Six rows for a grid: A inputs, their a2b translations and cycles back to A, then B
    inputs, b2a and back to B (``len(a) == len(b)`` columns)."""
    a2b = model.translate(a, "a2b")
    b2a = model.translate(b, "b2a")
    return np.concatenate([a, a2b, model.translate(a2b, "b2a"),
                           b, b2a, model.translate(b2a, "a2b")])


def save_translation_grid(model, a, b, path):
    """Writes :func:`translation_rows` as a PNG grid (6 rows) and returns its path."""
    from kgan.images import save_grid

    return save_grid(path, translation_rows(model, a, b), rows=6)


class TranslationGrid(keras.callbacks.Callback):
    """Writes ``epoch_XXXX.png`` with :func:`save_translation_grid` of fixed images."""

    def __init__(self, out_dir, a, b, every_n_epochs=1):
        super().__init__()
        self.out_dir, self.a, self.b, self.every = out_dir, a, b, int(every_n_epochs)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            save_translation_grid(self.model, self.a, self.b,
                                  f"{self.out_dir}/epoch_{epoch + 1:04d}.png")


def evaluate(model, a, b, classes=(7, 9), dataset="fashion_mnist", batch_size=500):
    """Measures a trained CycleGAN with the project's classifier of ``dataset``.

    Args:
        model: a CycleGAN.
        a, b: float images in [-1, 1] of domains A and B (e.g. the test split).
        classes: the classifier's class index of domain A and of domain B.

    Returns:
        A dict: ``a2b_target_share`` (share of translated A images the classifier calls B's
        class) and ``b2a_target_share``; the identity baseline, the same classifier on the
        untranslated inputs (``a_called_b_untranslated`` / ``b_called_a_untranslated``)
        and the real-data ceiling (``b_called_b`` / ``a_called_a``); the cycle
        reconstruction L1 ``cycle_l1_a`` / ``cycle_l1_b`` (mean absolute error in [-1, 1]
        units) and how far each translation moved its input, ``a2b_l1_to_input`` /
        ``b2a_l1_to_input``.
    """
    from kgan import classifier

    net = classifier.load_classifier(dataset)

    def share(images, label):
        probs = classifier.predict(net, images, batch_size)
        return round(float(np.mean(np.argmax(probs, -1) == label)), 4)

    def l1(x, y):
        return round(float(np.mean(np.abs(x - y))), 4)

    a2b = model.translate(a, "a2b", batch_size)
    b2a = model.translate(b, "b2a", batch_size)
    return {
        "n_a": len(a), "n_b": len(b),
        "a2b_target_share": share(a2b, classes[1]),
        "b2a_target_share": share(b2a, classes[0]),
        "a_called_b_untranslated": share(a, classes[1]),
        "b_called_a_untranslated": share(b, classes[0]),
        "a_called_a": share(a, classes[0]),
        "b_called_b": share(b, classes[1]),
        "cycle_l1_a": l1(model.translate(a2b, "b2a", batch_size), a),
        "cycle_l1_b": l1(model.translate(b2a, "a2b", batch_size), b),
        "a2b_l1_to_input": l1(a2b, a),
        "b2a_l1_to_input": l1(b2a, b),
    }


# ---------------------------------------------------------------------------- zoo
#: Steps per epoch of the recipe: 6,000 images per domain in sneaker2boot's train split.
_SNEAKER2BOOT_TRAIN = 6000


def _recipe(epochs, hold_epochs, batch_size=16):
    """The paper's schedule: constant for ``hold_epochs``, linear decay to 0 after."""
    steps = _SNEAKER2BOOT_TRAIN // batch_size
    return dict(epochs=epochs, batch_size=batch_size, seed=0, compile=dict(
        hold_steps=hold_epochs * steps, decay_steps=(epochs - hold_epochs) * steps,
        jit_compile=True))


def _register(name, dataset, model_kwargs, recipe, **weights):
    register_translator_entry(CycleGAN, "cyclegan", PAPER, name, dataset, (28, 28, 1),
                              model_kwargs, recipe, **weights)


# Trained on one H200 with Keras on JAX (290 s for 15,000 steps, with a JAX twin of the step
# that fit on JAX has since replaced), published under TensorFlow after checking the
# translations match (card.json).
_register("cyclegan_sneaker2boot", "sneaker2boot",
          dict(width=16, n_blocks=6, d_width=32, pool_size=50), _recipe(40, 20),
          weights="cyclegan_sneaker2boot.weights.h5",
          sha256="017a2e51552604c30caee0e3cf58a84bb465063e4896477177f6e7b984d8d9d2")
_register("test_cyclegan", "sneaker2boot", dict(width=4, n_blocks=1, d_width=4, pool_size=50),
          dict(epochs=1, batch_size=8, seed=0, compile={}))
