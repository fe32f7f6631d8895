"""DCGAN (Radford et al. 2015, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks").

The recipe: strided (transposed) convolutions instead of pooling, BatchNorm in both networks
(not on G's output or D's input), ReLU in G with a tanh output, LeakyReLU(0.2) in D, and Adam
with learning rate 2e-4 and beta_1 = 0.5. The builders here are shared with the conditional
and WGAN-GP families.
"""

import keras
from keras import layers

from kgan.latent import LatentGAN
from kgan.layers import BatchNormalization, MinibatchStdDev, maybe_spectral_norm
from kgan.models.common import SYNC_BN, register_family_entries


#: The generator and discriminator topologies :func:`dcgan_generator` and
#: :func:`dcgan_discriminator` can build (``layout=``): ``"radford"`` is the paper's (start at
#: 4x4, one stride-2 layer per doubling), ``"compact"`` kgan's two-stage network for small
#: images such as 28x28 (the published MNIST entries), ``"auto"`` picks ``"radford"`` for
#: power-of-two sides >= 32 and ``"compact"`` otherwise.
LAYOUTS = ("auto", "radford", "compact")


def check_size(image_shape):
    """Raises a ``ValueError`` unless height and width are divisible by 4 (two stride-2
    stages of DCGAN-style networks)."""
    h, w, _ = image_shape
    if h % 4 or w % 4:
        raise ValueError(
            f"DCGAN-style models need height and width divisible by 4; received {image_shape}."
        )


def resolve_layout(image_shape, layout="auto"):
    """The concrete layout (``"radford"`` or ``"compact"``) for ``image_shape``; a shape
    the layout cannot build raises a ``ValueError`` naming the sizes it supports."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(map(repr, LAYOUTS))}; "
                         f"received {layout!r}.")
    if len(image_shape) != 3 or image_shape[-1] not in (1, 3, 4):
        raise ValueError(f"DCGAN builds images (H, W, C) with C in 1/3/4; received "
                         f"{tuple(image_shape)}.")
    h, w, _ = image_shape
    square_power_of_two = h == w and h >= 32 and h & (h - 1) == 0
    if layout == "auto":
        layout = "radford" if square_power_of_two else "compact"
    if layout == "radford" and not square_power_of_two:
        raise ValueError(
            f"DCGAN's paper topology (layout='radford') builds square images whose side is a "
            f"power of two >= 32 (32, 64, 128, 256, ...); received {tuple(image_shape)}. Use "
            "layout='compact' for other sizes divisible by 4 (e.g. 28x28).")
    check_size(image_shape)
    return layout


def _radford_channels(side, width):
    """Channels of the feature maps from 4x4 up to side/2: halving per doubling, ``width``
    at side/2 (64x64 with width 128 gives the paper's 1024-512-256-128)."""
    stages = (side // 4).bit_length() - 1  # doublings from 4x4 to the image
    return [width * 2 ** (stages - 1 - i) for i in range(stages)]


def label_embedding(labels, num_classes, dim, name):
    """A learned ``dim``-vector per class for int labels ``(B,)`` -> ``(B, dim)``."""
    return layers.Flatten(name=f"{name}_flat")(
        layers.Embedding(num_classes, dim, name=name)(labels))


def latent_inputs(latent_dim, num_classes):
    """Generator inputs ``[latent(, label)]`` and the tensor the network starts from: the
    latent, concatenated with a 50-d label embedding for conditional models."""
    z = keras.Input((latent_dim,), name="latent")
    if not num_classes:
        return [z], z
    label = keras.Input((), dtype="int32", name="label")
    embedded = label_embedding(label, num_classes, 50, "label_embedding")
    return [z, label], layers.Concatenate()([z, embedded])


def projection_logits(features, label, num_classes, dense):
    """Discriminator logits ``dense(features)``, plus the projection discriminator's
    <features, embedding(label)> term (Miyato & Koyama 2018) for conditional models."""
    logits = dense(features)
    if num_classes:
        projection = layers.Dot(axes=1)([
            features, label_embedding(label, num_classes, features.shape[-1], "projection")])
        logits = layers.Add()([logits, projection])
    return layers.Activation("linear", dtype="float32", name="logits")(logits)


def dcgan_generator(image_shape, latent_dim, width=64, num_classes=0, layout="auto",
                    name="generator"):
    """z (and label) -> image in [-1, 1] (see :data:`LAYOUTS`).

    ``"radford"``: Dense(4 x 4 x c0) -> ConvT(c1, /2) -> ... -> ConvT(C, /2, tanh), the
    channels halving per doubling down to ``width``. ``"compact"``: Dense(H/4 x W/4 x 2w) ->
    ConvT(w, /2) -> ConvT(C, /2, tanh).

    BatchNorm is ``synchronized`` so that multi-replica training normalises over the global
    batch, exactly like one device.
    """
    layout = resolve_layout(image_shape, layout)
    inputs, x = latent_inputs(latent_dim, num_classes)
    if layout == "radford":
        out = _radford_upsampler(x, image_shape, width)
    else:
        out = dcgan_upsampler(x, image_shape, width)
    return keras.Model(inputs if num_classes else inputs[0], out, name=name)


def _up_block(x, filters):
    """ConvT(filters, 4, /2) -> BN -> ReLU."""
    x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False)(x)
    x = BatchNormalization(synchronized=SYNC_BN)(x)
    return layers.ReLU()(x)


def _radford_upsampler(x, image_shape, width):
    """The paper's generator body on a code vector: 4x4 up to the image, one ConvT a
    doubling."""
    channels = _radford_channels(image_shape[0], width)
    x = layers.Dense(4 * 4 * channels[0], use_bias=False)(x)
    x = BatchNormalization(synchronized=SYNC_BN)(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((4, 4, channels[0]))(x)
    for filters in channels[1:]:
        x = _up_block(x, filters)
    x = layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same")(x)
    return layers.Activation("tanh", dtype="float32", name="image")(x)


def dcgan_upsampler(x, image_shape, width):
    """kgan's compact generator body on a code vector ``x``: Dense(H/4 x W/4 x 2w) ->
    ConvT(w, /2) -> ConvT(C, /2) -> tanh image (shared by the families that condition it
    differently)."""
    h, w, c = image_shape
    x = layers.Dense(h // 4 * w // 4 * 2 * width, use_bias=False)(x)
    x = BatchNormalization(synchronized=SYNC_BN)(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((h // 4, w // 4, 2 * width))(x)
    x = _up_block(x, width)
    x = layers.Conv2DTranspose(c, 4, strides=2, padding="same")(x)
    return layers.Activation("tanh", dtype="float32", name="image")(x)


def dcgan_discriminator(image_shape, width=64, num_classes=0, batch_norm=True,
                        spectral_norm=False, minibatch_stddev=False, layout="auto",
                        name="discriminator"):
    """image (and label) -> strided convs -> Dense(1) logits, the generator's mirror.

    ``"radford"``: Conv(w, /2) -> Conv(2w, /2) -> ... down to 4x4; ``"compact"``: Conv(w, /2)
    -> Conv(2w, /2). No BatchNorm on the first layer (the paper's recipe).

    For conditional models the label enters twice: as an extra input channel (Mirza & Osindero
    2014) and through a projection term <embed(y), h> (Miyato & Koyama 2018), which makes the
    discriminator check that image and label agree.

    Args:
        batch_norm: BatchNorm after every conv but the first (DCGAN); WGAN-GP critics turn
            it off.
        spectral_norm: wrap every conv/dense in ``keras.layers.SpectralNormalization``.
        minibatch_stddev: append the batch's feature standard deviation before the head.
        layout: see :data:`LAYOUTS`.
    """
    layout = resolve_layout(image_shape, layout)
    h, w, _ = image_shape
    image = keras.Input(image_shape, name="image")
    inputs, x = [image], image
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        label_map = layers.Reshape((h, w, 1))(
            label_embedding(label, num_classes, h * w, "label_map"))
        x = layers.Concatenate()([x, label_map])
    channels = (_radford_channels(h, width)[::-1] if layout == "radford"
                else [width, 2 * width])
    x = maybe_spectral_norm(layers.Conv2D(channels[0], 4, strides=2, padding="same"),
                            spectral_norm)(x)
    x = layers.LeakyReLU(0.2)(x)
    for filters in channels[1:]:
        x = maybe_spectral_norm(
            layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=not batch_norm),
            spectral_norm)(x)
        if batch_norm:
            x = BatchNormalization(synchronized=SYNC_BN)(x)
        x = layers.LeakyReLU(0.2)(x)
    if minibatch_stddev:
        x = MinibatchStdDev()(x)
    logits = projection_logits(layers.Flatten()(x), label if num_classes else None,
                               num_classes, maybe_spectral_norm(layers.Dense(1), spectral_norm))
    return keras.Model(inputs if num_classes else image, logits, name=name)


@keras.saving.register_keras_serializable(package="kgan")
class DCGAN(LatentGAN):
    """Deep convolutional GAN with the Radford et al. recipe.

    Example:
        >>> model = kgan.models.dcgan.DCGAN.build((28, 28, 1), latent_dim=100)
        >>> model.compile()          # Adam(2e-4, beta_1=0.5), non-saturating loss
    """

    @classmethod
    def build(cls, image_shape, latent_dim=100, width=64, num_classes=0, spectral_norm=False,
              minibatch_stddev=False, layout="auto", seed=0, name=None):
        """Both networks for ``image_shape``: the paper's topology for square power-of-two
        sides >= 32 (64x64 has four upsampling stages), kgan's compact one otherwise (see
        :data:`LAYOUTS`)."""
        return cls(
            dcgan_generator(image_shape, latent_dim, width, num_classes, layout),
            dcgan_discriminator(image_shape, width, num_classes, spectral_norm=spectral_norm,
                                minibatch_stddev=minibatch_stddev, layout=layout),
            latent_dim=latent_dim, num_classes=num_classes, seed=seed, name=name or cls.__name__.lower(),
        )


register_family_entries(
    DCGAN,
    family="dcgan",
    paper="Radford, Metz & Chintala 2015, arXiv:1511.06434",
    entries={
        # Unconditional MNIST needed more: at width 64 many samples were malformed digits
        # (FID 6.3 on the project's classifier features), width 128 helped (4.6), and an R1
        # penalty (gamma 1) on D gave clean digits (2.2); see the card. D keeps its
        # BatchNorm, so R1's per-example input gradients see batch statistics: a
        # regulariser that worked here, not the exact penalty of a BN-free critic.
        "dcgan_mnist": dict(
            weights="dcgan_mnist.weights.h5",
            sha256="ef408fd7e00d73dca3db7195e92c4b610ae8cc36b43bc5202df1763d2a0029a0",
            dataset="mnist", epochs=60, model_kwargs=dict(width=128),
            compile=dict(loss="non_saturating", ema_decay=0.999, r1_weight=1.0)),
        "dcgan_fashion_mnist": dict(
            weights="dcgan_fashion_mnist.weights.h5",
            sha256="fd2f99d49693f73a20ebdae6c89e699ca77d461f84e67ac9caf87790656e487c",
            dataset="fashion_mnist", epochs=60),
        # The paper's topology at 32x32x3 (4x4x256 -> 8x8x128 -> 16x16x64 -> image), trained
        # in mixed bfloat16 (1.5x the float32 images per CPU-second on AMX, bench/results.md).
        "dcgan_cifar10": dict(
            dataset="cifar10", epochs=60, precision="bfloat16"),
    },
    model_kwargs=dict(latent_dim=100, width=64),
    test_kwargs=dict(latent_dim=8, width=4),
    recipe=dict(batch_size=128, compile=dict(loss="non_saturating", ema_decay=0.999)),
)
