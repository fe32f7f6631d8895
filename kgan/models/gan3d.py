"""3D-GAN (Wu, Zhang, Xue, Freeman & Tenenbaum 2016, "Learning a Probabilistic Latent Space of
Object Shapes via 3D Generative-Adversarial Modeling", arXiv:1610.07584).

DCGAN lifted to voxels: the generator maps a 200-d latent to a 4^3 feature volume and
doubles it with strided ``Conv3DTranspose`` layers (kernel 4, BatchNorm, ReLU) up to a
32^3 occupancy grid with a sigmoid output; the discriminator mirrors it with strided
``Conv3D`` layers and LeakyReLU(0.2). The paper trains with Adam (G 0.0025, D 1e-5, beta_1
0.5; kgan's defaults) and one trick against a discriminator that learns much faster than
the generator:

**Adaptive discriminator updates.** D is updated on a batch only when its accuracy on that
batch (real voxels scored real, generated scored fake) is below 80%; the generator is
updated every step. ``train_step`` measures the accuracy over the *global* batch (summed
across replicas), so every replica makes the same decision, then always runs D's update and
restores D's weights and optimizer state where the decision was "skip" (a masked update in
the cross-replica context, as Keras applies gradients; on JAX, whose step is one program over
the global batch, a masked assignment). A ``tf.cond`` around the optimizer
would not be distribution-safe: its all-reduce would sit inside a conditional branch.
Metrics ``d_accuracy`` (the batch accuracy the rule looked at) and ``d_updated`` (fraction
of steps on which D was updated) show the rule at work.

Samples are float32 occupancy in [0, 1], ``(N, 32, 32, 32, 1)`` with axis order ``(x, y,
z)``, y up; :mod:`kgan.modalities.voxels` renders them and writes ``.npy`` / ``.obj`` files.
"""

import keras
from keras import layers, ops

try:
    import tensorflow as tf
except ImportError:  # generate() and the weights work without TensorFlow (see kgan.gan)
    tf = None

from kgan.latent import LatentGAN
from kgan.trainers.base import GENERATOR_STREAM
from kgan.layers import BatchNormalization, MinibatchStdDev
from kgan.models.common import SYNC_BN, register_entry
from kgan.models.dcgan import latent_inputs, projection_logits

PAPER = "Wu, Zhang, Xue, Freeman & Tenenbaum 2016, arXiv:1610.07584"


def _start_size(size, widths):
    start = size // 2 ** len(widths)
    if start < 1 or start * 2 ** len(widths) != size:
        raise ValueError(f"3D-GAN doubles its volume {len(widths)} times (one per width in "
                         f"{tuple(widths)}), so the grid size must be a multiple of "
                         f"{2 ** len(widths)}; received {size}.")
    return start


def _check_shape(shape):
    shape = tuple(shape)
    if len(shape) != 4 or shape[-1] != 1 or len(set(shape[:3])) != 1:
        raise ValueError(f"3D-GAN makes cubic occupancy grids (D, D, D, 1); received {shape}.")
    return shape[0]


def gan3d_generator(size, latent_dim=200, widths=(128, 64, 32), num_classes=0,
                    name="generator"):
    """z (and label) -> Dense(s^3 x widths[0]) -> [ConvT3D(k4, /2), BN, ReLU] per width ->
    sigmoid.

    ``s = size / 2^len(widths)``: widths (128, 64, 32) grow 4^3 -> 8^3 -> 16^3 -> 32^3 (the
    paper's widths are 512, 256, 128, 64 from a 4^3 start to 64^3). A conditional generator
    (``num_classes`` > 0) starts from z concatenated with a label embedding, as CGAN's.
    """
    start = _start_size(size, widths)
    inputs, x = latent_inputs(latent_dim, num_classes)
    x = layers.Dense(start ** 3 * widths[0], use_bias=False)(x)
    x = BatchNormalization(synchronized=SYNC_BN)(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((start, start, start, widths[0]))(x)
    for width in widths[1:]:
        x = layers.Conv3DTranspose(width, 4, strides=2, padding="same", use_bias=False)(x)
        x = BatchNormalization(synchronized=SYNC_BN)(x)
        x = layers.ReLU()(x)
    x = layers.Conv3DTranspose(1, 4, strides=2, padding="same")(x)
    out = layers.Activation("sigmoid", dtype="float32", name="voxels")(x)
    return keras.Model(inputs if num_classes else inputs[0], out, name=name)


def gan3d_discriminator(size, widths=(32, 64, 128), minibatch_stddev=False, num_classes=0,
                        name="discriminator"):
    """voxels (and label) -> [Conv3D(k4, /2), (BN), LeakyReLU(0.2)] per width -> Dense(1)
    logits.

    BatchNorm follows every convolution but the first, as in DCGAN and the paper.
    ``minibatch_stddev`` appends the batch's feature standard deviation (ProGAN's
    ``kgan.layers.MinibatchStdDev``, groups of 4) to the coarsest volume before the head,
    so D sees how varied a batch is and can reject one where every shape is the same.
    A conditional discriminator adds the projection term <features, embed(label)> (Miyato &
    Koyama 2018) to its logits, so it judges whether the shape fits the class.
    """
    _start_size(size, widths)
    voxels = keras.Input((size, size, size, 1), name="voxels")
    label = keras.Input((), dtype="int32", name="label") if num_classes else None
    x = voxels
    for i, width in enumerate(widths):
        x = layers.Conv3D(width, 4, strides=2, padding="same", use_bias=i == 0)(x)
        if i:
            x = BatchNormalization(synchronized=SYNC_BN)(x)
        x = layers.LeakyReLU(0.2)(x)
    if minibatch_stddev:
        x = MinibatchStdDev()(x)
    logits = projection_logits(layers.Flatten()(x), label, num_classes, layers.Dense(1))
    return keras.Model([voxels, label] if num_classes else voxels, logits, name=name)


@keras.saving.register_keras_serializable(package="kgan")
class GAN3D(LatentGAN):
    """3D-GAN: voxel shapes from a 200-d latent, with adaptive discriminator updates.

    Unconditional as in the paper, or class-conditional (``num_classes`` > 0: G and D see
    the class, as in CGAN; ``generate(labels=...)`` picks it). The paper trains one model
    per object category; a conditional model is all of them in one network.

    Args: see ``kgan.LatentGAN``; build with :meth:`build`.

    Example:
        >>> model = kgan.zoo.load("gan3d_shapes")               # conditional on 6 classes
        >>> chairs = model.generate(labels=[0] * 4, seed=0)     # (4, 32, 32, 32, 1) in [0, 1]
        >>> kgan.modalities.voxels.write_obj("chair.obj", chairs[0])
        >>> model.fit(kgan.data.load("shapes3d_32", batch_size=16, labels=True), epochs=1)

    Reference: Wu et al. 2016, arXiv:1610.07584.
    """

    modality = "voxels"
    #: Formats kgan.export refuses (with the reason) instead of writing a wrong file.
    export_unsupported = {
        "tflite-int8": "the TFLite converter keeps 3-D transposed convolutions in float "
                       "(on test_gan3d it left 6 float tensors, the CONV_3D_TRANSPOSE weights "
                       "among them), so no full-integer model can be built; use "
                       "quantize='none' or 'float16' (both convert and match Keras).",
    }

    compile_defaults = dict(LatentGAN.compile_defaults, d_accuracy_threshold=0.8,
                            g_learning_rate=2.5e-3, d_learning_rate=1e-5,
                            mode_seeking_weight=0.0)
    compile_config_attributes = ("d_accuracy_threshold", "mode_seeking_weight")
    #: Trackers this family reports besides the base class's.
    extra_metric_names = ("d_accuracy", "d_updated")

    def __init__(self, generator, discriminator, latent_dim, num_classes=0, seed=0, **kwargs):
        super().__init__(generator, discriminator, latent_dim, num_classes, seed, **kwargs)
        for name in (*self.extra_metric_names, "diversity"):
            self._trackers[name] = keras.metrics.Mean(name=name)

    @classmethod
    def build(cls, image_shape=(32, 32, 32, 1), latent_dim=200, g_widths=(128, 64, 32),
              d_widths=(32, 64, 128), minibatch_stddev=False, num_classes=0, seed=0,
              name=None):
        """Builds G and D for ``(D, D, D, 1)`` grids; ``g_widths`` / ``d_widths`` are the
        channels of each resolution (G from coarse to fine, D from fine to coarse).

        ``minibatch_stddev=True`` gives D a minibatch standard-deviation feature (see
        :func:`gan3d_discriminator`), kgan's measure against mode collapse: without it the
        adaptive rule let G settle on one class (``gan3d_shapes``' note). Batches must
        then be a multiple of 4 per replica (or smaller than 4).
        """
        size = _check_shape(image_shape)
        if num_classes == 1 or num_classes < 0:
            raise ValueError(f"num_classes must be 0 (unconditional) or >= 2; received "
                             f"{num_classes}.")
        return cls(gan3d_generator(size, latent_dim, tuple(g_widths), num_classes),
                   gan3d_discriminator(size, tuple(d_widths), minibatch_stddev, num_classes),
                   latent_dim=latent_dim, num_classes=num_classes, seed=seed,
                   name=name or "gan3d")

    @property
    def sample_shape(self):
        """Shape of one generated sample: ``(D, D, D, 1)``."""
        return self.image_shape

    # ------------------------------------------------------------------ compile
    def compile(self, d_accuracy_threshold=None, g_learning_rate=None, d_learning_rate=None,
                mode_seeking_weight=None, **kwargs):
        """``GAN.compile`` plus the paper's rule and learning rates.

        Args:
            d_accuracy_threshold: D is updated on a batch only when its accuracy there is
                below it (0.8, the paper's); 1.0 updates D on every batch except perfectly
                classified ones.
            g_learning_rate, d_learning_rate: of the default Adam(beta_1=0.5) optimizers
                (the paper's 2.5e-3 and 1e-5: a slow D, which the rule slows further);
                ignored for an optimizer passed as ``g_optimizer`` / ``d_optimizer``.
            mode_seeking_weight: weight of the mode-seeking term (Mao et al. 2019, "Mode
                Seeking Generative Adversarial Networks", arXiv:1903.05628) in G's loss:
                ``weight / (mean|G(z1) - G(z2)| / mean|z1 - z2| + 1e-5)`` on two latents per
                label, which penalises a generator that ignores z. A conditional 3D-GAN
                otherwise makes one shape per class: the label alone already fools D, and
                a batch of mixed classes hides that sameness from the minibatch stddev.
                0 (the default) trains the paper's loss; the term is logged as
                ``diversity`` (the ratio).
            **kwargs: ``GAN.compile``'s; alternating updates with ``d_steps=1`` only.
        """
        defaults = self.compile_defaults
        threshold = (defaults["d_accuracy_threshold"]
                     if d_accuracy_threshold is None else float(d_accuracy_threshold))
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"d_accuracy_threshold must be in (0, 1]; received "
                             f"{d_accuracy_threshold!r}.")
        for key, allowed in (("d_steps", 1), ("update", "alternating")):
            if kwargs.get(key) not in (None, allowed):
                raise ValueError(f"3D-GAN trains with {key}={allowed!r} (its adaptive rule "
                                 f"decides D's updates); received {key}={kwargs[key]!r}.")
        ema = defaults["ema_decay"] if kwargs.get("ema_decay") is None else kwargs["ema_decay"]
        if kwargs.get("d_optimizer") is None:
            kwargs["d_optimizer"] = keras.optimizers.Adam(
                d_learning_rate or defaults["d_learning_rate"], beta_1=0.5)
        if kwargs.get("g_optimizer") is None:
            kwargs["g_optimizer"] = keras.optimizers.Adam(
                g_learning_rate or defaults["g_learning_rate"], beta_1=0.5, use_ema=ema > 0,
                ema_momentum=ema or 0.99)
        mode_seeking = float(defaults["mode_seeking_weight"] if mode_seeking_weight is None
                             else mode_seeking_weight)
        if not mode_seeking >= 0.0:
            raise ValueError(f"mode_seeking_weight must be >= 0; received "
                             f"{mode_seeking_weight!r}.")
        super().compile(**kwargs)
        self.d_accuracy_threshold = threshold
        self.mode_seeking_weight = mode_seeking
        self._active_metric_names = (*self._active_metric_names, *self.extra_metric_names,
                                     *(("diversity",) if mode_seeking else ()))

    # ------------------------------------------------------------------ training
    def _discriminator_update(self, images, z, cond, num_replicas, stream):
        grads, variables, losses = self._discriminator_gradients(
            images, z, cond, num_replicas, stream)
        total, penalties, real_logits, fake_logits = losses
        accuracy = self._global_accuracy(real_logits, fake_logits)
        update = accuracy < self.d_accuracy_threshold
        # Read before the update (automatic control dependencies keep that order). BatchNorm's
        # moving statistics are not the optimizer's to skip: D's forward passes in training
        # mode update them, in the generator's step too, as in every family.
        state = [*variables, *self.d_optimizer.variables]
        saved = [ops.copy(v.value if isinstance(v, keras.Variable) else v) for v in state]
        self._apply(self.d_optimizer, grads, variables)
        if tf is not None and keras.backend.backend() == "tensorflow":
            tf.__internal__.distribute.interim.maybe_merge_call(
                _keep_unless, tf.distribute.get_strategy(), state, saved, update)
        else:  # JAX: one program over the global batch, no cross-replica context
            for variable, value in zip(state, saved):
                variable.assign(ops.where(update, variable.value, value))
        self._track_discriminator(total, penalties, real_logits, fake_logits)
        self._trackers["d_accuracy"].update_state(accuracy)
        self._trackers["d_updated"].update_state(ops.cast(update, "float32"))

    def _global_accuracy(self, real_logits, fake_logits):
        """D's accuracy over the global batch: real scored real, fake scored fake."""
        threshold = 0.5 if self.loss_name == "least_squares" else 0.0
        correct = (ops.sum(ops.cast(real_logits > threshold, "float32"))
                   + ops.sum(ops.cast(fake_logits <= threshold, "float32")))
        count = ops.cast(ops.size(real_logits) + ops.size(fake_logits), "float32")
        _, num_replicas = self._replica_info()
        if num_replicas > 1:
            correct, count = ops.unstack(self._cross_replica_sum(ops.stack([correct, count])))
        return correct / count

    def _generator_loss(self, z, cond):
        """GAN's generator loss; with a mode-seeking weight, on a second latent per sample
        too (same labels), plus the mode-seeking term."""
        if not self.mode_seeking_weight:
            return super()._generator_loss(z, cond)
        # G's latent stream, folded.
        z2 = self._random("normal", ops.shape(z)[0], (self.latent_dim,), GENERATOR_STREAM,
                          fold=1)
        pairs = tuple(ops.concatenate([c, c], axis=0) for c in cond)
        fake = self._g(ops.concatenate([z, z2], axis=0), pairs, training=True)
        g_loss = self.generator_loss_fn(self._d(fake, pairs))
        first, second = ops.split(ops.cast(fake, "float32"), 2)
        diversity = (ops.mean(ops.abs(first - second))
                     / ops.mean(ops.abs(ops.cast(z - z2, "float32"))))
        self._trackers["g_loss"].update_state(g_loss)
        self._trackers["diversity"].update_state(diversity)
        return g_loss + self.mode_seeking_weight / (diversity + 1e-5)

    # ------------------------------------------------------------------ inference
    def generate(self, n=None, z=None, labels=None, seed=None, batch_size=64):
        """Samples occupancy grids: float32 in [0, 1], ``(n, D, D, D, 1)``.

        ``n``, ``z``, ``labels``, ``seed`` as in ``kgan.LatentGAN.generate`` (labels for a
        conditional model only; they cycle through the classes when omitted). The sigmoid
        output is already in [0, 1], inside the [-1, 1] that the base class clips to.
        """
        return super().generate(n, z, labels, seed, batch_size)


def _keep_unless(distribution, state, saved, update):
    """Cross-replica context: puts the saved values back into ``state`` unless ``update``."""
    for variable, value in zip(state, saved):
        variable = variable.value if isinstance(variable, keras.Variable) else variable
        distribution.extended.update(
            variable, lambda v, old, keep: v.assign(tf.where(keep, v, old)),
            args=(value, update), group=False)


def _register(name, image_shape, model_kwargs, recipe, **weights):
    register_entry(GAN3D, "gan3d", PAPER, name, "shapes3d_32", image_shape, model_kwargs, recipe,
                   latent_dim=model_kwargs["latent_dim"],
                   num_classes=model_kwargs.get("num_classes", 0), **weights)


_RECIPE = dict(batch_size=32, compile=dict(loss="non_saturating", ema_decay=0.995))

# Sized for two shared CPU cores (the paper: widths 512..64 at 64^3). The runs that chose the
# rates, the minibatch stddev, the class conditioning and the mode-seeking weight, with their
# measured figures, are in docs/zoo/gan3d_shapes.md ("Measured", "Recipe and training").
_register("gan3d_shapes", (32, 32, 32, 1),
          dict(latent_dim=200, g_widths=(64, 32, 16), d_widths=(16, 32, 64),
               minibatch_stddev=True, num_classes=6),
          dict(_RECIPE, batch_size=16, epochs=20,
               compile=dict(_RECIPE["compile"], g_learning_rate=1e-3, d_learning_rate=1e-4,
                            mode_seeking_weight=0.1)),
          weights="gan3d_shapes.weights.h5",
          sha256="375a014d930bab498372d7c5817505d13fbcd634bca88fb7dc4818ee23de6683")
# Tiny entry for the standard checks: 8^3 grids from a 2^3 start.
_register("test_gan3d", (8, 8, 8, 1), dict(latent_dim=8, g_widths=(4, 2), d_widths=(2, 4)),
          dict(_RECIPE, epochs=1))
