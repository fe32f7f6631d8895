"""SRGAN (Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network", arXiv:1609.04802).

The generator (SRResNet) maps a low-resolution image to one ``scale`` times larger: a 9x9
conv with PReLU, ``blocks`` residual blocks (conv-BN-PReLU-conv-BN plus skip), a conv-BN with
a long skip over all blocks, then one sub-pixel upsampling stage per factor 2 (a conv to 4x
the channels rearranged by ``keras.ops.depth_to_space``, then PReLU) and a 9x9 conv with tanh.
The discriminator is the paper's VGG-style stack of 3x3 convs (stride 2 every other one,
BatchNorm, LeakyReLU 0.2) ending in a dense layer and a logit.

Training has two stages, both plain ``fit()`` on ``(low_res, high_res)`` batches, selected by
``compile(stage=...)``:

* ``"pretrain"``: SRResNet alone on the pixel MSE (the paper initialises the GAN with it, so
  the adversarial game starts from sensible images);
* ``"gan"``: the perceptual loss ``content + adversarial_weight * adversarial`` for G (the
  content loss is the MSE between features of a frozen network on SR and HR images, the
  adversarial one the non-saturating ``-log D(G(lr))`` with weight 1e-3) and the usual
  cross-entropy for D. ``pixel_weight`` adds the pixel MSE to G's loss (0 in the paper),
  as ESRGAN adds its L1 term: a content network weaker than VGG19 leaves colours free.

The paper's content network is VGG19 (ImageNet weights), which cannot be downloaded on
machines without a network and sees 28x28 grey images as tiny blurry RGB. So the default
content network is the project's own Fashion-MNIST classifier (``kgan.evaluation.classifiers``,
``content="classifier_fashion_mnist"``), frozen, read at ``block3_relu1``: the ReLU output of
its last conv before the final max-pooling (7x7x128), the analogue of the paper's "VGG54"
(VGG19's last conv before its last pooling). It takes images in [-1, 1], the generator's
range, so no rescaling is needed. ``content="vgg19"`` uses VGG19 when the user has its
weights (``vgg19_weights=path``): grey images are repeated to 3 channels, upsized to at least
32x32 (VGG19's minimum), mapped to [0, 255] and through VGG's caffe preprocessing, and the
``block5_conv4`` features are scaled by 1/12.75 as in the paper. ``content="mse"`` is the
pixel MSE (SRResNet's loss). The content networks are built in :mod:`kgan.models.srgan_content`;
``kgan.recipes.srgan`` runs both stages and publishes the zoo entry.
"""

import keras
from keras import layers, ops

from kgan.layers import BatchNormalization, PixelShuffle
from kgan.models.common import SYNC_BN, register_entry
from kgan.models.srgan_content import content_network
from kgan.translation import TranslationGAN

STAGES = ("pretrain", "gan")


# ---------------------------------------------------------------------------- generator
def _residual_block(x, width, name):
    y = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv1")(x)
    y = BatchNormalization(synchronized=SYNC_BN, name=f"{name}_bn1")(y)
    y = layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(y)
    y = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv2")(y)
    y = BatchNormalization(synchronized=SYNC_BN, name=f"{name}_bn2")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def _check_scale(scale):
    if scale not in (2, 4, 8):
        raise ValueError(f"scale must be 2, 4 or 8 (sub-pixel x2 stages); received {scale!r}.")


def srresnet_generator(source_shape, scale=4, width=64, blocks=16, name="generator"):
    """SRResNet: ``(H, W, C)`` in [-1, 1] -> ``(scale*H, scale*W, C)`` in [-1, 1].

    Args:
        source_shape: ``(H, W, C)`` of the low-resolution input.
        scale: upscaling factor (2, 4 or 8: one sub-pixel x2 stage per factor 2).
        width: filters of every conv (64 in the paper).
        blocks: residual blocks (16 in the paper).
    """
    _check_scale(scale)
    source = keras.Input(tuple(source_shape), name="source")
    x = layers.Conv2D(width, 9, padding="same", name="head_conv")(source)
    head = x = layers.PReLU(shared_axes=[1, 2], name="head_prelu")(x)
    for b in range(blocks):
        x = _residual_block(x, width, f"res{b + 1}")
    x = layers.Conv2D(width, 3, padding="same", name="body_conv")(x)
    x = BatchNormalization(synchronized=SYNC_BN, name="body_bn")(x)
    x = layers.Add(name="body_skip")([head, x])
    for s in range(scale.bit_length() - 1):
        x = layers.Conv2D(4 * width, 3, padding="same", name=f"up{s + 1}_conv")(x)
        x = PixelShuffle(2, name=f"up{s + 1}_shuffle")(x)
        x = layers.PReLU(shared_axes=[1, 2], name=f"up{s + 1}_prelu")(x)
    x = layers.Conv2D(source_shape[-1], 9, padding="same", name="tail_conv")(x)
    out = layers.Activation("tanh", dtype="float32", name="image")(x)
    return keras.Model(source, out, name=name)


# ---------------------------------------------------------------------------- discriminator
def vgg_discriminator(image_shape, width=64, depth=4, dense_units=1024, name="discriminator"):
    """The paper's D: ``depth`` pairs of 3x3 convs (``width * 2**i`` filters; the second of
    each pair has stride 2), BatchNorm (not after the first conv), LeakyReLU(0.2), then
    ``Dense(dense_units)`` -> LeakyReLU -> ``Dense(1)`` logits."""
    image = keras.Input(tuple(image_shape), name="image")
    x = image
    for i in range(depth):
        filters = width * 2 ** i
        for stride in (1, 2):
            first = i == 0 and stride == 1
            x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=first,
                              name=f"d{i + 1}_conv_s{stride}")(x)
            if not first:
                x = BatchNormalization(synchronized=SYNC_BN,
                                              name=f"d{i + 1}_bn_s{stride}")(x)
            x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense_units)(x)
    x = layers.LeakyReLU(0.2)(x)
    logits = layers.Dense(1)(x)
    logits = layers.Activation("linear", dtype="float32", name="logits")(logits)
    return keras.Model(image, logits, name=name)


# ---------------------------------------------------------------------------- the model
@keras.saving.register_keras_serializable(package="kgan")
class SRGAN(TranslationGAN):
    """Super-resolution GAN: ``translate(low_res)`` returns images ``scale`` times larger.

    Batches are ``(low_res, high_res)`` (an extra labels element is ignored), float32 in
    [-1, 1], e.g. ``kgan.data.load("fashion_x4")``.

    Example:
        >>> model = kgan.zoo.load("srgan_fashion_x4")            # trained, compiled ("gan")
        >>> sr = model.translate(low_res)                         # (N, 7, 7, 1) -> (N, 28, 28, 1)
        >>> fresh = kgan.zoo.load("srgan_fashion_x4", pretrained=False, compile=False)
        >>> fresh.compile(stage="pretrain")                       # SRResNet on the pixel MSE
        >>> fresh.fit(kgan.data.load("fashion_x4"), epochs=1)
        >>> fresh.compile(stage="gan")                            # then the GAN stage
        >>> fresh.fit(kgan.data.load("fashion_x4"), epochs=1)

    Reference: Ledig et al. 2017, arXiv:1609.04802.
    """

    compile_defaults = dict(TranslationGAN.compile_defaults, learning_rate=1e-4)
    compile_config_attributes = ("stage", "content", "content_layer", "vgg19_weights",
                                 "adversarial_weight", "pixel_weight")
    #: Trackers reported in each stage.
    STAGE_METRICS = {
        "pretrain": ("mse", "psnr"),
        "gan": ("d_loss", "g_loss", "content_loss", "adversarial_loss", "mse", "psnr",
                "d_real_acc", "d_fake_acc"),
    }
    metric_names = STAGE_METRICS["gan"]
    batch_format = ("(low_res, high_res[, labels]) pairs, as kgan.data.load('fashion_x4') "
                    "yields, or fit(x=low_res, y=high_res)")

    def __init__(self, generator, discriminator, seed=0, **kwargs):
        super().__init__(generator, discriminator, seed=seed, **kwargs)
        self._content_net = _Frozen(None)

    @classmethod
    def build(cls, image_shape, scale=4, width=64, blocks=16, d_width=64, d_depth=4,
              d_dense=1024, seed=0, name=None):
        """SRGAN making ``image_shape`` ``(H, W, C)`` images from ``(H/scale, W/scale, C)``."""
        _check_scale(scale)
        h, w, c = image_shape
        if h % scale or w % scale:
            raise ValueError(f"image_shape {tuple(image_shape)} is not divisible by scale "
                             f"{scale}.")
        return cls(
            srresnet_generator((h // scale, w // scale, c), scale, width, blocks),
            vgg_discriminator(image_shape, d_width, d_depth, d_dense),
            seed=seed, name=name or "srgan")

    # ------------------------------------------------------------------ compile
    def compile(self, stage="gan", content="classifier_fashion_mnist", content_layer=None,
                vgg19_weights=None, adversarial_weight=1e-3, pixel_weight=0.0,
                learning_rate=None, **kwargs):
        """Chooses the training stage and the losses; other arguments go to ``GAN.compile``
        (``d_optimizer``, ``g_optimizer``, ``learning_rate`` defaults: Adam(1e-4, 0.9)).

        Args:
            stage: ``"pretrain"`` (SRResNet on the pixel MSE; D untouched) or ``"gan"``.
            content: content network of the GAN stage, a key of
                :data:`kgan.models.srgan_content.CONTENT_LAYERS`.
            content_layer: its feature layer (default: the one in ``CONTENT_LAYERS``).
            vgg19_weights: weights for ``content="vgg19"`` (see :func:`content_network`).
            adversarial_weight: weight of the adversarial term in G's loss (1e-3).
            pixel_weight: weight of the pixel MSE added to G's loss in the GAN stage (0, the
                paper's loss). ``srgan_photos_x4`` uses 1: with the CIFAR-10 classifier's
                features as content, 300 GAN steps without it tinted edges magenta and
                green and blew out whites (docs/zoo/srgan_photos_x4.md).
            learning_rate: of the default Adam optimizers (1e-4, beta_1 0.9, as the paper).
            **kwargs: ``GAN.compile``'s ``d_optimizer``, ``g_optimizer``, ``loss`` (of the
                adversarial game, non-saturating by default), ``ema_decay`` and Keras'
                compile arguments.
        """
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}; received {stage!r}.")
        for key, weight in (("adversarial_weight", adversarial_weight),
                            ("pixel_weight", pixel_weight)):
            if weight < 0:
                raise ValueError(f"{key} must be >= 0; received {weight!r}.")
        for key, plain in (("d_steps", 1), ("gp_weight", 0), ("r1_weight", 0),
                           ("update", "alternating")):
            if kwargs.get(key, plain) not in (None, plain):
                raise ValueError(
                    f"SRGAN trains with {key}={plain!r} (one D update, then one G update, "
                    f"no penalty, as in the paper); received {key}={kwargs[key]!r}.")
        # Fails early on a bad content choice, before any optimizer exists.
        net = content_network(content, self.image_shape, content_layer, vgg19_weights) \
            if stage == "gan" else None
        kwargs.setdefault("loss", "non_saturating")
        lr = self.compile_defaults["learning_rate"] if learning_rate is None else learning_rate
        ema = kwargs.get("ema_decay") or 0.0
        kwargs["d_optimizer"] = kwargs.get("d_optimizer") or keras.optimizers.Adam(lr, beta_1=0.9)
        kwargs["g_optimizer"] = kwargs.get("g_optimizer") or keras.optimizers.Adam(
            lr, beta_1=0.9, use_ema=ema > 0, ema_momentum=ema or 0.99)
        super().compile(**kwargs)
        self.stage = stage
        self.content = content
        self.content_layer = content_layer
        self.vgg19_weights = vgg19_weights
        self.adversarial_weight = float(adversarial_weight)
        self.pixel_weight = float(pixel_weight)
        self._content_net = _Frozen(net)
        self._active_metric_names = self.STAGE_METRICS[stage]

    # ------------------------------------------------------------------ training
    def _gan_step(self, data):
        """One step: in the ``"gan"`` stage D's update on the one generator pass G(source),
        then G on content + ``adversarial_weight`` * adversarial (+ ``pixel_weight`` *
        MSE); in ``"pretrain"`` G on
        the MSE alone."""
        source, target = self._prepare_pair(data)
        _, num_replicas = self._replica_info()
        variables = self.generator.trainable_variables

        def loss_fn():
            # One generator pass serves both players: D's update takes it as data.
            fake = ops.cast(self.generator(source, training=True), "float32")
            mse = ops.mean(ops.square(fake - target))
            content = adversarial = None
            if self.stage == "pretrain":
                g_loss = mse
            else:
                self._discriminator_update(target, ops.stop_gradient(fake), num_replicas)
                content = self._content_loss(fake, target, mse)
                adversarial = self.generator_loss_fn(self._d(fake))
                g_loss = (content + self.adversarial_weight * adversarial
                          + self.pixel_weight * mse)
            scaled = self.g_optimizer.scale_loss(g_loss / num_replicas)
            return (scaled,), (mse, g_loss, content, adversarial)

        _, aux, (grads,) = self._value_and_grads(loss_fn, [variables])
        mse, g_loss, content, adversarial = aux
        self._apply(self.g_optimizer, grads, variables)
        self._trackers["mse"].update_state(mse)
        # PSNR of [-1, 1] images: peak-to-peak 2, so 10 log10(4 / MSE).
        self._trackers["psnr"].update_state(
            10.0 * ops.log(4.0 / ops.maximum(mse, 1e-10)) / ops.log(10.0))
        if self.stage == "gan":
            self._trackers["g_loss"].update_state(g_loss)
            self._trackers["content_loss"].update_state(content)
            self._trackers["adversarial_loss"].update_state(adversarial)
        return {m.name: m.result() for m in self.metrics}

    def _discriminator_update(self, target, fake, num_replicas):
        variables = self.discriminator.trainable_variables

        def loss_fn():
            real_logits = self._d(target)
            fake_logits = self._d(fake)
            d_loss = self.discriminator_loss_fn(real_logits, fake_logits)
            return ((self.d_optimizer.scale_loss(d_loss / num_replicas),),
                    (d_loss, real_logits, fake_logits))

        _, (d_loss, real_logits, fake_logits), (grads,) = self._value_and_grads(
            loss_fn, [variables])
        self._apply(self.d_optimizer, grads, variables)
        self._trackers["d_loss"].update_state(d_loss)
        self._trackers["d_real_acc"].update_state(
            ops.mean(ops.cast(real_logits > 0, "float32")))
        self._trackers["d_fake_acc"].update_state(
            ops.mean(ops.cast(fake_logits <= 0, "float32")))

    def _d(self, images):
        return ops.cast(self.discriminator(images, training=True), "float32")

    def _content_loss(self, fake, target, mse):
        net = self._content_net.model
        if net is None:
            return mse
        both = ops.cast(net(ops.concatenate([fake, target], 0), training=False), "float32")
        fake_features, real_features = ops.split(both, 2, axis=0)
        return ops.mean(ops.square(fake_features - ops.stop_gradient(real_features)))


class _Frozen:
    """Holds the content network outside Keras' tracking, so its (frozen, possibly 80 MB)
    weights are neither saved with the SRGAN nor counted as its weights."""

    def __init__(self, model):
        self.model = model


# ---------------------------------------------------------------------------- zoo
PAPER = "Ledig et al. 2017, arXiv:1609.04802"


def _register(name, dataset, image_shape, model_kwargs, recipe, **weights):
    register_entry(SRGAN, "srgan", PAPER, name, dataset, image_shape, model_kwargs, recipe,
                   **weights)


_RECIPE = dict(
    batch_size=32, seed=0,
    # Stage 1: SRResNet on the pixel MSE; stage 2: the GAN from stage 1's weights. Short
    # "epochs" (steps_per_epoch) sized for two shared CPU cores.
    pretrain=dict(epochs=6, steps_per_epoch=500,
                  compile=dict(stage="pretrain", learning_rate=1e-3)),
    epochs=5, steps_per_epoch=400,
    compile=dict(stage="gan", content="classifier_fashion_mnist", adversarial_weight=1e-3,
                 learning_rate=1e-4),
)

_register("srgan_fashion_x4", "fashion_x4", (28, 28, 1),
          dict(scale=4, width=32, blocks=6, d_width=16, d_depth=3, d_dense=128), _RECIPE,
          weights="srgan_fashion_x4.weights.h5",
          sha256="6982c973550edcfb3b824ef6ba0815dbdea2831da805735f6ebf6f5c1ee04230")
#: Colour photos, 32x32 -> 128x128: the paper's networks (16 residual blocks of 64
#: filters; the 8-convolution VGG-style D with a 1024-unit dense layer), content features of
#: the project's CIFAR-10 classifier (VGG19's ImageNet weights are not on these machines).
#: Far fewer steps than the paper's 10^6 + 10^5: 3,000 + 600, what one 3-hour session of
#: two CPU cores trains (runs do not outlive a session's checkout, docs/zoo/srgan_photos_x4.md).
_register("srgan_photos_x4", "photos_x4", (128, 128, 3),
          dict(scale=4, width=64, blocks=16, d_width=64, d_depth=4, d_dense=1024),
          dict(batch_size=16, seed=0, precision="bfloat16",
               pretrain=dict(epochs=6, steps_per_epoch=500,
                             compile=dict(stage="pretrain", learning_rate=2e-4)),
               epochs=2, steps_per_epoch=300,
               compile=dict(stage="gan", content="classifier_cifar10",
                            adversarial_weight=1e-3, pixel_weight=1.0, learning_rate=1e-4)),
          weights="srgan_photos_x4.weights.h5", weights_dtype="float16",
          sha256="e570183a09d2410f0708a53ef4a65ea083469054336fa8cb4e4a5df342a05f91")
_register("test_srgan", "fashion_x4", (28, 28, 1),
          dict(scale=4, width=4, blocks=1, d_width=4, d_depth=2, d_dense=8),
          dict(_RECIPE, epochs=1, steps_per_epoch=2,
               pretrain=dict(_RECIPE["pretrain"], epochs=1, steps_per_epoch=2)))
