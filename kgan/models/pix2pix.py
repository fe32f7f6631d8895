"""pix2pix (Isola, Zhu, Zhou & Efros 2017, "Image-to-Image Translation with Conditional
Adversarial Networks", arXiv:1611.07004).

A conditional GAN for *paired* data: the generator G maps a source image x (an edge map, a
label map...) to an output G(x); the discriminator D sees (x, y) pairs and tells the real
target y from G(x). G minimises the adversarial loss plus ``l1_weight`` (lambda = 100 in the
paper) times ``|y - G(x)|_1``: L1 gets the low frequencies right, the adversarial term the
sharp detail that L1 alone blurs away.

The paper's recipe, scaled to 32x32 images:

* **U-Net generator** (:func:`unet_generator`): ``depth`` stride-2 4x4 convolutions down,
  as many transposed convolutions up, each decoder level concatenated with the encoder
  level of the same size (skip connections carry the source's structure straight across),
  dropout 0.5 on the deepest decoder levels, LeakyReLU(0.2) down, ReLU up, tanh out;
* **PatchGAN discriminator** (:func:`patchgan_discriminator`): a fully convolutional net on
  the channel-concatenated pair that outputs a grid of logits, each judging one patch
  (the paper's 70x70 patches on 256x256 images; ``n_layers=1`` here gives 16x16 patches on
  32x32, about the same share of the image);
* non-saturating adversarial loss, Adam(2e-4, beta_1=0.5) for both players, one D update
  per G update.

Normalisation is instance norm (``GroupNormalization(groups=-1)``, the paper's batch norm
at batch size 1): per image, so a translation never depends on the rest of the batch and
1 or N replicas train alike. The innermost encoder level (1x1 or 2x2) has none, as in the
reference code. Inference here is deterministic (dropout off); the paper keeps dropout at
test time as G's only noise source, which made little difference to its outputs.

pix2pix has no latent: it is a ``kgan.TranslationGAN``, whose ``translate()`` runs G.
"""

import keras
import numpy as np
from keras import layers, ops

from kgan import losses as gan_losses
from kgan.translation import TranslationGAN
from kgan.models.common import instance_norm, register_entry


def _check_unet_size(image_shape, depth):
    h, w, _ = image_shape
    if h % 2**depth or w % 2**depth:
        raise ValueError(
            f"A U-Net of depth {depth} needs height and width divisible by {2**depth}; "
            f"received image shape {tuple(image_shape)}. Pad the images or lower depth.")


def unet_generator(image_shape, out_channels=None, width=64, depth=5, max_width=None,
                   dropout=0.5, dropout_levels=3, name="generator"):
    """Source images ``(B, H, W, C)`` in [-1, 1] -> outputs ``(B, H, W, out_channels)``.

    Args:
        width: filters of the first encoder level; each level doubles them up to
            ``max_width`` (default ``8 * width``).
        depth: number of stride-2 levels; H and W must be divisible by ``2**depth``.
        dropout: dropout rate of the deepest ``dropout_levels`` decoder levels.
    """
    _check_unet_size(image_shape, depth)
    out_channels = out_channels or image_shape[-1]
    max_width = max_width or 8 * width
    source = keras.Input(image_shape, name="source")
    x, skips = source, []
    for level in range(depth):
        filters = min(width * 2**level, max_width)
        x = layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=False,
                          name=f"down{level}_conv")(x)
        if 0 < level < depth - 1:
            x = instance_norm(f"down{level}_norm")(x)
        x = layers.LeakyReLU(0.2, name=f"down{level}_act")(x)
        skips.append(x)
    for level in reversed(range(depth - 1)):
        filters = min(width * 2**level, max_width)
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False,
                                   name=f"up{level}_conv")(x)
        x = instance_norm(f"up{level}_norm")(x)
        if depth - 2 - level < dropout_levels and dropout:
            x = layers.Dropout(dropout, name=f"up{level}_dropout")(x)
        x = layers.ReLU(name=f"up{level}_act")(x)
        x = layers.Concatenate(name=f"up{level}_skip")([x, skips[level]])
    x = layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same", name="out_conv")(x)
    out = layers.Activation("tanh", dtype="float32", name="image")(x)
    return keras.Model(source, out, name=name)


def patchgan_discriminator(source_shape, target_shape, width=64, n_layers=3,
                           name="discriminator"):
    """(source, target) pair -> a grid of real/fake logits, one per patch.

    ``n_layers`` stride-2 4x4 convolutions (the first without normalisation), one stride-1
    convolution, then a stride-1 convolution to one logit per position; ``n_layers=3`` is
    the paper's 70x70 PatchGAN, ``n_layers=1`` sees 16x16 patches.
    """
    if tuple(source_shape[:2]) != tuple(target_shape[:2]):
        raise ValueError(
            f"pix2pix pairs need source and target of the same height and width; received "
            f"{tuple(source_shape)} and {tuple(target_shape)}.")
    source = keras.Input(source_shape, name="source")
    target = keras.Input(target_shape, name="target")
    x = layers.Concatenate(name="pair")([source, target])
    for i in range(n_layers + 1):
        filters = width * min(2**i, 8)
        x = layers.Conv2D(filters, 4, strides=2 if i < n_layers else 1, padding="same",
                          use_bias=i == 0, name=f"conv{i}")(x)
        if i:
            x = instance_norm(f"norm{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"act{i}")(x)
    x = layers.Conv2D(1, 4, padding="same", name="patch_logits")(x)
    logits = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model([source, target], logits, name=name)


@keras.saving.register_keras_serializable(package="kgan")
class Pix2Pix(TranslationGAN):
    """pix2pix: a U-Net generator and a PatchGAN discriminator trained on (source, target)
    pairs with the adversarial loss plus ``l1_weight`` * L1.

    Train on batches of ``(source, target)`` (or ``(source, target, labels)``; labels are
    ignored) float images in [-1, 1], e.g. ``kgan.data.load("edges2fashion")``.

    Example:
        >>> model = kgan.zoo.load("pix2pix_edges2fashion")
        >>> (edges, garments), _ = kgan.data.load_arrays("edges2fashion", "test")
        >>> drawn = model.translate(edges[:8] / 127.5 - 1)      # (8, 32, 32, 1) in [-1, 1]

    Reference:
        Isola et al. 2017, arXiv:1611.07004.
    """

    compile_defaults = dict(TranslationGAN.compile_defaults, l1_weight=100.0)
    compile_config_attributes = ("l1_weight",)
    metric_names = ("d_loss", "g_loss", "l1", "d_real_acc", "d_fake_acc")
    batch_format = ("paired data: batches of (source, target) images (optionally (source, "
                    "target, labels)), as kgan.data.load('edges2fashion') yields, or "
                    "fit(x=sources, y=targets)")

    @classmethod
    def build(cls, image_shape, source_channels=None, width=64, depth=5, dropout=0.5,
              dropout_levels=3, d_width=64, d_layers=3, seed=0, name=None):
        """Builds G and D for targets of ``image_shape`` and sources with
        ``source_channels`` channels (default: the target's)."""
        source_shape = (*image_shape[:2], source_channels or image_shape[-1])
        return cls(
            unet_generator(source_shape, image_shape[-1], width, depth, dropout=dropout,
                           dropout_levels=dropout_levels),
            patchgan_discriminator(source_shape, image_shape, d_width, d_layers),
            seed=seed, name=name or "pix2pix",
        )

    # ------------------------------------------------------------------ compile
    def compile(self, l1_weight=None, **kwargs):
        """``kgan.GAN.compile`` plus ``l1_weight`` (lambda of the L1 term, 100 by default).

        pix2pix plays one D update per G update without gradient penalties, so
        ``d_steps`` other than 1 and non-zero ``gp_weight`` / ``r1_weight`` are refused.
        """
        l1_weight = self.compile_defaults["l1_weight"] if l1_weight is None else l1_weight
        if not np.isfinite(l1_weight) or l1_weight < 0:
            raise ValueError(f"l1_weight must be a finite number >= 0; received {l1_weight!r}.")
        for key, allowed in (("d_steps", 1), ("gp_weight", 0), ("r1_weight", 0)):
            if kwargs.get(key) not in (None, allowed):
                raise ValueError(
                    f"pix2pix trains with {key}={allowed}; received {key}={kwargs[key]!r}.")
        super().compile(**kwargs)
        self.l1_weight = float(l1_weight)

    # ------------------------------------------------------------------ training
    def _gan_step(self, data):
        """One step: D on (source, target) vs (source, G(source)), then G on the adversarial
        loss plus ``l1_weight`` * L1, from the one forward pass G(source) (so its dropout
        masks are the ones D's update saw)."""
        source, target = self._prepare_pair(data)
        _, num_replicas = self._replica_info()
        variables = self.generator.trainable_variables

        def loss_fn():
            fake = self.generator(source, training=True)
            # D's update takes G's output as data: no gradient reaches G through it.
            d_loss, real_logits, fake_logits = self._discriminator_update(
                source, target, ops.stop_gradient(fake), num_replicas)
            adversarial = self.generator_loss_fn(self._d(source, fake))
            l1 = gan_losses.l1_distance(target, fake)
            total = adversarial + self.l1_weight * l1
            scaled = self.g_optimizer.scale_loss(total / num_replicas)
            return (scaled,), (d_loss, real_logits, fake_logits, adversarial, l1)

        _, aux, (grads,) = self._value_and_grads(loss_fn, [variables])
        d_loss, real_logits, fake_logits, adversarial, l1 = aux
        self._apply(self.g_optimizer, grads, variables)
        self._trackers["d_loss"].update_state(d_loss)
        self._trackers["g_loss"].update_state(adversarial)
        self._trackers["l1"].update_state(l1)
        self._trackers["d_real_acc"].update_state(
            ops.mean(ops.cast(real_logits > 0, "float32")))
        self._trackers["d_fake_acc"].update_state(
            ops.mean(ops.cast(fake_logits <= 0, "float32")))
        return {m.name: m.result() for m in self.metrics}

    def _d(self, source, image, training=True):
        return ops.cast(self.discriminator([source, image], training=training), "float32")

    def _discriminator_update(self, source, target, fake, num_replicas):
        variables = self.discriminator.trainable_variables

        def loss_fn():
            real_logits = self._d(source, target)
            fake_logits = self._d(source, fake)
            d_loss = self.discriminator_loss_fn(real_logits, fake_logits)
            return ((self.d_optimizer.scale_loss(d_loss / num_replicas),),
                    (d_loss, real_logits, fake_logits))

        _, losses, (grads,) = self._value_and_grads(loss_fn, [variables])
        self._apply(self.d_optimizer, grads, variables)
        return losses


def _register(name, dataset, image_shape, source_channels, model_kwargs, recipe, **weights):
    register_entry(Pix2Pix, "pix2pix", PAPER, name, dataset, image_shape,
                   {"source_channels": source_channels, **model_kwargs}, recipe, **weights)


PAPER = "Isola, Zhu, Zhou & Efros 2017, arXiv:1611.07004"
#: 32x32 images: a depth-4 U-Net (down to 2x2), dropout on its two deepest decoder levels,
#: and a PatchGAN with 16x16 patches.
_RECIPE = dict(batch_size=64, epochs=6, compile=dict(loss="non_saturating", l1_weight=100.0))

_register("pix2pix_edges2fashion", "edges2fashion", (32, 32, 1), 1,
          dict(width=32, depth=4, dropout_levels=2, d_width=32, d_layers=1), _RECIPE,
          weights="pix2pix_edges2fashion.weights.h5",
          sha256="7c1cd16dad6c85936a6e0dc3310a5a85bc53cfd879c41e6f7c58d5a58e7955c2")
#: Facades at 256x256 (Isola et al.'s networks: a depth-8 U-Net down to 1x1, dropout on the
#: three deepest decoder levels, the 70x70 PatchGAN), labels -> photo, with pix2pix's jitter.
#: Batch 4 instead of the paper's 1: on 2 CPU cores it trains 2.1x more images per second
#: (instance norm makes each image's output independent of its batch). Its 57 M parameters
#: are published in float16 (114 MB instead of 229).
_register("pix2pix_facades", "facades", (256, 256, 3), 3,
          dict(width=64, depth=8, dropout_levels=3, d_width=64, d_layers=3),
          dict(_RECIPE, batch_size=4, epochs=100, precision="bfloat16",
               compile=dict(_RECIPE["compile"], steps_per_execution=10)),
          weights="pix2pix_facades.weights.h5", weights_dtype="float16",
          sha256="2bc658a32508f5ddaa7b9e7cc9971b7276153e8ace02bc35263d25d0d71fb3f3")
_register("test_pix2pix", "edges2fashion", (32, 32, 1), 1,
          dict(width=4, depth=3, dropout_levels=1, d_width=4, d_layers=1),
          dict(_RECIPE, epochs=1))
