"""ProGAN: progressive growing of GANs (Karras, Aila, Laine & Lehtinen 2018, arXiv:1710.10196).

Generator and discriminator grow 4x4 -> 8x8 -> ... -> the image size; every new resolution
block fades in (alpha 0 -> 1 over ``fade_images`` training images) and then stabilises for
``stable_images``. The growth is a schedule inside the networks (``kgan.layers.GrowthSchedule``
counts the training images in a variable saved with the weights), so ``fit`` grows the model
on TensorFlow and on JAX, and a run resumed from its weights or from
``BackupAndRestore`` continues mid-growth. Every block is built (and computed) from the
start: below the current stage its output is blended away with weight 0, which costs compute
at 32x32 but keeps one static graph.

Also from the paper: pixel-wise feature normalization in G, equalized learning rate in both
networks, a minibatch standard deviation layer in D, and the WGAN-GP loss with the drift
term ``0.001 * E[D(x)^2]`` (``loss="wasserstein_drift"``, ``gp_weight=10``), one critic
update per generator update, Adam(1e-3, 0, 0.99).

Departures: the generator ends in tanh (the paper's is linear) so that samples lie in
[-1, 1] like every kgan model; during a fade the real images are not blended between two
resolutions (the paper does this to smooth the transition): D's lower-resolution path
already sees them average-pooled.
"""

import keras
import numpy as np
from keras import layers, ops

from kgan.latent import LatentGAN
from kgan.layers import (EqualizedConv2D, EqualizedDense, FadeIn, GrowthSchedule,
                         MinibatchStdDev, PixelNormalization)
from kgan.models.common import register_family_entries

#: Resolution of the first stage.
BASE_RESOLUTION = 4


def num_resolutions(image_shape, channels):
    """The number of resolutions from 4x4 up to ``image_shape`` (one width of ``channels``
    each); a ``ValueError`` for a non-square, non-power-of-two shape or a wrong count."""
    h, w, _ = image_shape
    num = int(np.log2(h)) - 1
    if h != w or h != BASE_RESOLUTION * 2 ** (num - 1):
        raise ValueError(
            f"ProGAN grows square power-of-two images from {BASE_RESOLUTION}x"
            f"{BASE_RESOLUTION}; received image_shape {tuple(image_shape)}. Pad or resize "
            "the data (e.g. kgan.data.load('fashion_mnist_32')).")
    if len(channels) != num:
        raise ValueError(
            f"channels needs one width per resolution ({num} for {h}x{w}: "
            f"{[BASE_RESOLUTION * 2 ** i for i in range(num)]}); received {tuple(channels)}.")
    return num


def conv_lrelu(x, filters, name, kernel_size=3, pixel_norm=False):
    """Equalized-LR conv, LeakyReLU(0.2) and, in the generator, pixel norm."""
    x = EqualizedConv2D(filters, kernel_size, name=name)(x)
    x = layers.LeakyReLU(0.2)(x)
    return PixelNormalization()(x) if pixel_norm else x


def progan_generator(image_shape, latent_dim, channels, fade_images, stable_images,
                     name="generator"):
    """z -> 4x4 block -> (upsample, 2 convs) per resolution, each with its toRGB.

    The output is the last resolution's image blended down the stages: each block's RGB
    is mixed with the nearest-upsampled image of the stage below by its fade-in alpha.
    """
    num = num_resolutions(image_shape, channels)
    z = keras.Input((latent_dim,), name="z")
    alphas = GrowthSchedule(num, fade_images, stable_images, name="growth")(z)
    x = PixelNormalization()(z)
    x = EqualizedDense(BASE_RESOLUTION * BASE_RESOLUTION * channels[0],
                       gain=np.sqrt(2) / 4, name="dense_4x4")(x)
    x = layers.Reshape((BASE_RESOLUTION, BASE_RESOLUTION, channels[0]))(x)
    x = PixelNormalization()(layers.LeakyReLU(0.2)(x))
    x = conv_lrelu(x, channels[0], "conv_4x4", pixel_norm=True)
    to_rgb = EqualizedConv2D(image_shape[-1], 1, gain=1.0, name="to_rgb_4x4")
    image = to_rgb(x)
    for stage in range(1, num):
        res = BASE_RESOLUTION * 2 ** stage
        x = layers.UpSampling2D(2)(x)
        x = conv_lrelu(x, channels[stage], f"conv0_{res}x{res}", pixel_norm=True)
        x = conv_lrelu(x, channels[stage], f"conv1_{res}x{res}", pixel_norm=True)
        rgb = EqualizedConv2D(image_shape[-1], 1, gain=1.0, name=f"to_rgb_{res}x{res}")(x)
        image = FadeIn(stage, name=f"fade_{res}x{res}")(
            [layers.UpSampling2D(2)(image), rgb, alphas])
    out = layers.Activation("tanh", dtype="float32", name="image")(image)
    return keras.Model(z, out, name=name)


def discriminator_head(x, width, group_size):
    """The 4x4 end of ProGAN's (and StyleGAN's) discriminator: minibatch stddev, conv,
    dense, and float32 logits."""
    x = MinibatchStdDev(group_size)(x)
    x = conv_lrelu(x, width, "conv_4x4")
    x = layers.Flatten()(x)
    x = layers.LeakyReLU(0.2)(EqualizedDense(width, name="dense_4x4")(x))
    logits = EqualizedDense(1, gain=1.0, name="dense_out")(x)
    return layers.Activation("linear", dtype="float32", name="logits")(logits)


def progan_discriminator(image_shape, channels, fade_images, stable_images,
                         group_size=4, name="discriminator"):
    """Mirror of the generator: fromRGB at every resolution, blended into the stage below.

    A block (2 convs, average pooling) at resolution r feeds the stage r/2, where it is
    blended with fromRGB of the image average-pooled to r/2 by the block's alpha. The 4x4
    head: minibatch stddev, conv, dense, dense(1).
    """
    num = num_resolutions(image_shape, channels)
    image = keras.Input(image_shape, name="image")
    alphas = GrowthSchedule(num, fade_images, stable_images, name="growth")(image)
    pooled = [image]  # image at full, 1/2, 1/4 ... resolution
    for _ in range(num - 1):
        pooled.append(layers.AveragePooling2D(2)(pooled[-1]))

    def from_rgb(stage):
        res = BASE_RESOLUTION * 2 ** stage
        return conv_lrelu(pooled[num - 1 - stage], channels[stage], f"from_rgb_{res}x{res}", 1)

    x = from_rgb(num - 1)
    for stage in range(num - 1, 0, -1):
        res = BASE_RESOLUTION * 2 ** stage
        x = conv_lrelu(x, channels[stage], f"conv0_{res}x{res}")
        x = conv_lrelu(x, channels[stage - 1], f"conv1_{res}x{res}")
        x = layers.AveragePooling2D(2)(x)
        x = FadeIn(stage, name=f"fade_{res}x{res}")([from_rgb(stage - 1), x, alphas])
    return keras.Model(image, discriminator_head(x, channels[0], group_size), name=name)


@keras.saving.register_keras_serializable(package="kgan")
class ProGAN(LatentGAN):
    """Progressively growing GAN; ``fit`` grows it on the schedule built into the networks.

    Args (of ``build``):
        image_shape: square power-of-two ``(H, W, C)``, e.g. ``(32, 32, 1)``.
        latent_dim: size of z.
        channels: feature maps per resolution, lowest first (4x4, 8x8, ...).
        fade_images, stable_images: the growth schedule (see ``kgan.layers.GrowthSchedule``).

    Example:
        >>> model = kgan.zoo.load("progan_fashion_mnist_32")
        >>> model.stage, model.alpha, model.resolution     # (3, 1.0, 32)
        >>> model.generate(16, resolution=8)                 # what it drew at 8x8

    Reference: Karras et al. 2018, "Progressive Growing of GANs for Improved Quality,
    Stability, and Variation", ICLR.
    """

    #: Formats kgan.export refuses (with the reason) instead of writing a wrong file.
    export_unsupported = {
        "tflite-int8": "pixel normalization keeps float ops under full-integer quantization, "
                       "and with those rewritten (x * x for square) fully grown nets with "
                       "random weights are off by a mean 0.019-0.037 at the published widths "
                       "(limit 0.02); use quantize='none' or 'float16'.",
    }

    compile_defaults = dict(LatentGAN.compile_defaults, loss="wasserstein_drift",
                            learning_rate=1e-3, beta_1=0.0, beta_2=0.99, gp_weight=10.0,
                            ema_decay=0.999)

    @classmethod
    def build(cls, image_shape, latent_dim=128, channels=(128, 128, 128, 64),
              fade_images=60000, stable_images=60000, num_classes=0, seed=0, name=None):
        if num_classes:
            raise ValueError(f"ProGAN is unconditional; received num_classes={num_classes}.")
        return cls(
            progan_generator(image_shape, latent_dim, channels, fade_images, stable_images),
            progan_discriminator(image_shape, channels, fade_images, stable_images),
            latent_dim=latent_dim, seed=seed, name=name or "progan")

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        # Network calls per training step (see GAN.train_step): G runs once per critic
        # update and once for its own; D sees reals and fakes (+ GP points, + R1 reals) per
        # critic update and the fakes of the generator update.
        d_calls = 2 + bool(self.gp_weight) + bool(self.r1_weight)
        strategy = getattr(self, "distribute_strategy", None)  # TensorFlow backend only
        replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        for net, calls in ((self.generator, self.d_steps + 1),
                           (self.discriminator, self.d_steps * d_calls + 1)):
            schedule = net.get_layer("growth")
            schedule.calls_per_step, schedule.replicas = calls, replicas

    # ------------------------------------------------------------------ growth state
    @property
    def schedule(self):
        return self.generator.get_layer("growth")

    @property
    def images_seen(self):
        """Training images the generator has seen (the growth clock)."""
        return float(ops.convert_to_numpy(self.schedule.images_seen))

    @property
    def stage(self):
        """Index of the highest resolution block with alpha > 0 (0: 4x4 only)."""
        return int(np.ceil(float(ops.convert_to_numpy(self.schedule.progress())) - 1e-6))

    @property
    def alpha(self):
        """Fade-in coefficient of the current stage's block (1.0 once it has stabilised)."""
        alphas = ops.convert_to_numpy(self.schedule.alphas())
        return 1.0 if self.stage == 0 else float(alphas[self.stage - 1])

    @property
    def resolution(self):
        """Side of the highest resolution the model draws at now."""
        return BASE_RESOLUTION * 2 ** self.stage

    def generate(self, n=None, z=None, labels=None, seed=None, batch_size=256,
                 resolution=None):
        """``GAN.generate``; ``resolution`` returns the images average-pooled to that side.

        The generator always outputs ``image_shape`` (lower stages nearest-upsampled);
        ``resolution`` may be any grown resolution up to ``model.resolution``.
        """
        if resolution is not None:
            grown = [BASE_RESOLUTION * 2 ** s for s in range(self.stage + 1)]
            if resolution not in grown:
                raise ValueError(
                    f"{self.name} has grown to {self.resolution}x{self.resolution} "
                    f"(stage {self.stage}, alpha {self.alpha:.2f}); resolution must be one of "
                    f"{grown}, received {resolution!r}. Train longer to reach higher ones.")
        images = super().generate(n=n, z=z, labels=labels, seed=seed, batch_size=batch_size)
        if resolution is None or resolution == images.shape[1]:
            return images
        f = images.shape[1] // resolution
        h, w, c = images.shape[1:]
        return images.reshape(-1, h // f, f, w // f, f, c).mean(axis=(2, 4))


register_family_entries(
    ProGAN,
    family="progan",
    paper="Karras, Aila, Laine & Lehtinen 2018, arXiv:1710.10196",
    entries={
        # The published weights: 22 epochs (20,814 steps at batch 64) in 408 s on one H200
        # shared with two other runs (~59 steps/s), JAX backend; one forward pass of G or D
        # at these widths is ~0.16 GFLOP per image, a step (critic update with the penalty's
        # double backprop + generator update) ~3 GFLOP per image.
        "progan_fashion_mnist_32": dict(
            dataset="fashion_mnist_32", epochs=22,
            weights="progan_fashion_mnist_32.weights.h5",
            sha256="df0a6c24b7b06ee0617c89a33e12a2c2b25f3ae87efa277e29ebd19009b61ed4"),
    },
    # Growth is complete after 7 x 20k = 140k images (2.3 epochs); the other ~20 epochs
    # train the 32x32 model.
    model_kwargs=dict(latent_dim=128, channels=(128, 128, 64, 32), fade_images=20000,
                      stable_images=20000),
    # Growth in the fast tests: 4x4 for 8 images, 8x8 fades in over the next 8.
    test_kwargs=dict(latent_dim=8, channels=(8, 8, 8, 4), fade_images=8, stable_images=8),
    recipe=dict(batch_size=64, compile=dict(loss="wasserstein_drift", gp_weight=10.0,
                                            ema_decay=0.999)),
    test_dataset="fashion_mnist_32",
)
