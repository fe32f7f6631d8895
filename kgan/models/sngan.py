"""SNGAN (Miyato et al. 2018, "Spectral Normalization for Generative Adversarial Networks")
and its class-conditional form with a projection discriminator (Miyato & Koyama 2018,
"cGANs with Projection Discriminator"), on the CIFAR-10 ResNets of those papers (as
re-implemented by Mimicry and StudioGAN).

Generator: z -> Dense(4 x 4 x w) -> up residual blocks (BN-ReLU-Upsample-Conv3x3-BN-ReLU-
Conv3x3, shortcut Upsample-Conv1x1) -> BN-ReLU-Conv3x3-tanh, w = 256 channels throughout.
Discriminator: an "optimized" first block (Conv-ReLU-Conv-AvgPool, shortcut AvgPool-Conv1x1),
residual down blocks to 8 x 8, two residual blocks without resampling, ReLU, global *sum*
pooling and Dense(1); every kernel spectrally normalised (``keras.layers.SpectralNormalization``).
At 32 x 32 that is 3 up blocks and 2 downsamplings; every doubling of the side adds one up
and one down block.

Conditional models (``num_classes > 0``) put class-conditional BatchNorm in every generator
block (the label is the generator's second input) and add the projection term
<embed(y), h> to the discriminator's logits, the embedding spectrally normalised as in the
authors' code: the BigGAN-style cGAN at 32 x 32.

The recipe: hinge loss, 5 discriminator steps per generator step, Adam(2e-4, beta_1=0,
beta_2=0.9). The same builders, without spectral norm and with mean pooling, are
Gulrajani et al.'s CIFAR-10 ResNet (``WGANGP.build(..., arch="resnet")``).
"""

import math

import keras
from keras import layers

from kgan.latent import LatentGAN
from kgan.layers import (BatchNormalization, ConditionalBatchNorm, GlobalSumPooling2D,
                         maybe_spectral_norm)
from kgan.models.common import SYNC_BN, register_family_entries

#: The references' BatchNorm (PyTorch's defaults: moving averages with momentum 0.9).
_BN = dict(momentum=0.9, epsilon=1e-5)


def resnet_blocks(image_shape):
    """Number of generator up blocks for ``image_shape`` (3 at 32 x 32, one more per
    doubling); any shape other than a square with a power-of-two side >= 32 is refused."""
    shape = tuple(image_shape)
    side = shape[0] if len(shape) == 3 else 0
    if len(shape) != 3 or shape[1] != side or side < 32 or side & (side - 1) or shape[2] < 1:
        raise ValueError(
            "The SNGAN / WGAN-GP ResNets take square images with a power-of-two side >= 32: "
            f"(32, 32, C), (64, 64, C), (128, 128, C), (256, 256, C), ...; received {shape}."
        )
    return int(math.log2(side)) - 2


def _glorot(gain=1.0):
    # A fresh initializer per layer: an unseeded Keras initializer instance repeats its values.
    return keras.initializers.VarianceScaling(gain ** 2, mode="fan_avg", distribution="uniform")


def _conv(filters, size, name, gain=math.sqrt(2.0)):
    """The references' convolutions: Glorot-uniform init with gain sqrt(2) in the residual
    branches, gain 1 on the 1x1 shortcuts and the output layers."""
    return layers.Conv2D(filters, size, padding="same", kernel_initializer=_glorot(gain),
                         name=name)


def _norm(x, label, num_classes, name):
    if num_classes:
        # synchronized=None: on with TensorFlow, like SYNC_BN, and saved as None so the
        # .keras file loads on every backend.
        return ConditionalBatchNorm(num_classes, **_BN, name=name)([x, label])
    return BatchNormalization(synchronized=SYNC_BN, **_BN, name=name)(x)


def _up_block(x, width, label, num_classes, name):
    h = _norm(x, label, num_classes, f"{name}_bn1")
    h = layers.ReLU()(h)
    h = layers.UpSampling2D(2)(h)
    h = _conv(width, 3, f"{name}_conv1")(h)
    h = _norm(h, label, num_classes, f"{name}_bn2")
    h = layers.ReLU()(h)
    h = _conv(width, 3, f"{name}_conv2")(h)
    shortcut = _conv(width, 1, f"{name}_shortcut", gain=1.0)(layers.UpSampling2D(2)(x))
    return layers.Add(name=name)([h, shortcut])


def resnet_generator(image_shape, latent_dim=128, width=256, num_classes=0, name="generator"):
    """z (and label) -> Dense(4 x 4 x width) -> up residual blocks -> BN-ReLU-Conv3x3-tanh.

    Conditional generators (``num_classes > 0``) take ``[z, label]`` and use
    ``ConditionalBatchNorm`` in every residual block.
    """
    num_up = resnet_blocks(image_shape)
    z = keras.Input((latent_dim,), name="latent")
    label = keras.Input((), dtype="int32", name="label") if num_classes else None
    x = layers.Dense(4 * 4 * width, kernel_initializer=_glorot(), name="dense")(z)
    x = layers.Reshape((4, 4, width))(x)
    for i in range(num_up):
        x = _up_block(x, width, label, num_classes, f"up_block{i + 1}")
    x = BatchNormalization(synchronized=SYNC_BN, **_BN, name="bn_out")(x)
    x = layers.ReLU()(x)
    x = _conv(image_shape[-1], 3, "conv_out", gain=1.0)(x)
    image = layers.Activation("tanh", dtype="float32", name="image")(x)
    return keras.Model([z, label] if num_classes else z, image, name=name)


def _down_block(x, width, spectral_norm, downsample, name):
    """ReLU-Conv3x3-ReLU-Conv3x3(-AvgPool); a learned 1x1 shortcut when the block resamples
    or changes the width, else the identity."""
    sn = lambda layer: maybe_spectral_norm(layer, spectral_norm)  # noqa: E731
    h = layers.ReLU()(x)
    h = sn(_conv(x.shape[-1], 3, f"{name}_conv1"))(h)
    h = layers.ReLU()(h)
    h = sn(_conv(width, 3, f"{name}_conv2"))(h)
    shortcut = x
    if downsample or x.shape[-1] != width:
        shortcut = sn(_conv(width, 1, f"{name}_shortcut", gain=1.0))(x)
    if downsample:
        h = layers.AveragePooling2D(2)(h)
        shortcut = layers.AveragePooling2D(2)(shortcut)
    return layers.Add(name=name)([h, shortcut])


def resnet_discriminator(image_shape, width=128, num_classes=0, spectral_norm=True,
                         pooling="sum", name="discriminator"):
    """image (and label) -> optimized block -> down blocks to 8 x 8 -> two blocks -> ReLU ->
    global pooling -> Dense(1), plus <embed(y), h> for conditional models.

    Args:
        spectral_norm: wrap every convolution, the output layer and the class embedding in
            ``keras.layers.SpectralNormalization`` (SNGAN); False gives WGAN-GP's critic.
        pooling: ``"sum"`` (SNGAN, Mimicry, StudioGAN) or ``"mean"`` (Gulrajani et al.).
    """
    if pooling not in ("sum", "mean"):
        raise ValueError(f"pooling must be 'sum' or 'mean'; received {pooling!r}.")
    # The optimized block halves the side; num_down more blocks take it to 8 x 8.
    num_down = resnet_blocks(image_shape) - 2
    sn = lambda layer: maybe_spectral_norm(layer, spectral_norm)  # noqa: E731
    image = keras.Input(image_shape, name="image")
    h = sn(_conv(width, 3, "block1_conv1"))(image)
    h = layers.ReLU()(h)
    h = sn(_conv(width, 3, "block1_conv2"))(h)
    h = layers.AveragePooling2D(2)(h)
    shortcut = sn(_conv(width, 1, "block1_shortcut", gain=1.0))(
        layers.AveragePooling2D(2)(image))
    x = layers.Add(name="block1")([h, shortcut])
    for i in range(num_down + 2):
        x = _down_block(x, width, spectral_norm, downsample=i < num_down, name=f"block{i + 2}")
    x = layers.ReLU()(x)
    features = (GlobalSumPooling2D() if pooling == "sum" else layers.GlobalAveragePooling2D())(x)
    logits = sn(layers.Dense(1, kernel_initializer=_glorot(), name="dense"))(features)
    inputs = image
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs = [image, label]
        # embed(y) as one_hot(y) @ E: the (num_classes, width) table is then a Dense kernel,
        # which SpectralNormalization normalises like the authors' SN embedding.
        one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot")(label)
        embedded = sn(layers.Dense(width, use_bias=False, kernel_initializer=_glorot(),
                                   name="projection"))(one_hot)
        logits = layers.Add()([logits, layers.Dot(axes=1)([features, embedded])])
    logits = layers.Activation("linear", dtype="float32", name="logits")(logits)
    return keras.Model(inputs, logits, name=name)


@keras.saving.register_keras_serializable(package="kgan")
class SNGAN(LatentGAN):
    """Spectrally normalised ResNet GAN; with ``num_classes > 0`` the projection cGAN.

    Args of ``build``:
        image_shape: ``(S, S, C)`` with S a power of two >= 32.
        latent_dim: size of z (128 in the papers).
        g_width, d_width: channels of the generator (256) and discriminator (128) blocks.
        num_classes: 0 for SNGAN; > 0 for conditional BatchNorm + projection discriminator.

    Example:
        >>> model = kgan.models.SNGAN.build((32, 32, 3))
        >>> model.compile()     # hinge loss, d_steps=5, Adam(2e-4, 0.0, 0.9)
        >>> model.fit(kgan.data.load("cifar10", batch_size=64), epochs=64)

    Reference:
        Miyato, Kataoka, Koyama & Yoshida 2018, arXiv:1802.05957;
        Miyato & Koyama 2018, arXiv:1802.05637.
    """

    compile_defaults = dict(LatentGAN.compile_defaults, loss="hinge", learning_rate=2e-4,
                            beta_1=0.0, beta_2=0.9, d_steps=5)

    @classmethod
    def build(cls, image_shape, latent_dim=128, g_width=256, d_width=128, num_classes=0,
              seed=0, name=None):
        return cls(
            resnet_generator(image_shape, latent_dim, g_width, num_classes),
            resnet_discriminator(image_shape, d_width, num_classes, spectral_norm=True),
            latent_dim=latent_dim, num_classes=num_classes, seed=seed, name=name or "sngan",
        )


_PAPER = "Miyato et al. 2018, arXiv:1802.05957"
_PROJECTION_PAPER = ("Miyato & Koyama 2018, arXiv:1802.05637 (projection discriminator); "
                     "Miyato et al. 2018, arXiv:1802.05957 (spectral norm)")
# Miyato et al.'s CIFAR-10 ResNet runs: batch 64, 50k generator updates (each after 5
# discriminator updates); one epoch is 781 batches, so 64 epochs.
_RECIPE = dict(batch_size=64, compile=dict(loss="hinge", d_steps=5, ema_decay=0.999))
_MODEL_KWARGS = dict(latent_dim=128, g_width=256, d_width=128)
# The test generators keep 64 channels: at 8 the untrained ResNet's full-int8 export misses
# the export tests' mean-error bound (0.021-0.023 against 0.02; 0.010-0.012 at 64), since
# per-tensor int8 activations lose more on narrow layers. The critic can stay tiny.
_TEST_KWARGS = dict(latent_dim=8, g_width=64, d_width=8)

register_family_entries(
    SNGAN, family="sngan", paper=_PAPER,
    entries={
        "sngan_cifar10": dict(dataset="cifar10", epochs=64),
        # DiffAugment's small-data benchmark: 10 % of the training set, the same recipe
        # with colour, translation and cutout on every batch D sees (Zhao et al. 2020).
        # 5,000 images are 78 batches of 64: 640 epochs are sngan_cifar10's 50k G steps.
        "sngan_cifar10_10pct_diffaug": dict(
            dataset="cifar10_10pct", epochs=640,
            compile=dict(_RECIPE["compile"], augment="color,translation,cutout")),
    },
    model_kwargs=_MODEL_KWARGS, test_kwargs=_TEST_KWARGS, recipe=_RECIPE,
    test_dataset="cifar10",
)
# The class-conditional ResNet (conditional BN + projection discriminator) as the zoo's
# CIFAR-10 cGAN; its family is Mimicry's name for it, so its test entry is test_cgan_pd.
register_family_entries(
    SNGAN, family="cgan_pd", paper=_PROJECTION_PAPER,
    entries={"cgan_cifar10": dict(dataset="cifar10", epochs=64)},
    model_kwargs=_MODEL_KWARGS, test_kwargs=_TEST_KWARGS, recipe=_RECIPE,
    conditional=True, test_dataset="cifar10",
)
