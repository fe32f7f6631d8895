"""StyleGAN: a style-based generator (Karras, Laine & Aila 2019, arXiv:1812.04948).

The generator maps a latent z (pixel-normalized) through an 8-layer MLP to an intermediate
latent w, and draws the image from a learned constant 4x4 input: after every convolution,
per-pixel noise scaled by a learned per-channel weight is added and AdaIN sets each
channel's scale and bias from a per-layer affine map of w (the "style"). Two layers per
resolution give ``num_ws = 2 * log2(H / 2)`` styles (8 at 32x32).

In training (inside the generator's own training call, so ``fit`` runs it on either backend):

* style mixing regularization: with probability ``mixing_prob`` a second latent is mapped
  and the styles from a random crossover layer on come from it;
* the running mean of w (``MeanW``, beta 0.995) is tracked for the truncation trick.

``generate(n, truncation_psi=0.7, noise_mode="const")`` draws ``w_avg + psi * (w - w_avg)``;
``style_mix(z_a, z_b, crossover)`` takes layers ``< crossover`` (coarse) from A and the rest
(fine) from B.

Loss: non-saturating with the R1 penalty on reals (Mescheder et al. 2018), gamma
``r1_weight`` = 0.1 here: the paper's gamma = 10 is for 1024x1024 faces; the penalty scales
with the squared input size, and StyleGAN2-ADA's heuristic gamma = 0.0002 * res^2 / batch gives
0.003 at 32x32 / batch 64; 0.1 sits between, on the stable side for a short run.
Adam(2e-3, 0, 0.99), mapping network at 0.01x learning rate, generator EMA 0.999.

Resolution: trained at full 32x32 from the start, without progressive growing. StyleGAN2
dropped growing (it causes phase artifacts), at 32x32 there are only three growth steps to
gain from, and a fixed graph keeps the short GPU budget for training. The discriminator is
ProGAN's (equalized learning rate, minibatch stddev) without the fade-ins.
"""

from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from kgan.latent import LatentGAN
from kgan.layers import (AdaIN, ConstantInput, EqualizedConv2D, EqualizedDense, MeanW,
                         NoiseInjection, NoiseMode, PixelNormalization, SecondLatent,
                         StyleMixing)
from kgan.layers.style import NOISE_MODES
from kgan.models.common import register_family_entries
from kgan.validation import check_latents
from kgan.models.progan import BASE_RESOLUTION, conv_lrelu, discriminator_head, num_resolutions


def mapping_network(latent_dim, w_dim, num_layers=8, lr_multiplier=0.01, name="mapping"):
    """z -> PixelNorm -> ``num_layers`` x (equalized Dense, leaky ReLU) -> w."""
    z = keras.Input((latent_dim,), name="z")
    x = PixelNormalization()(z)
    for i in range(num_layers):
        x = EqualizedDense(w_dim, lr_multiplier=lr_multiplier, name=f"dense_{i}")(x)
        x = layers.LeakyReLU(0.2)(x)
    return keras.Model(z, x, name=name)


def synthesis_network(image_shape, w_dim, channels, seed=0, name="synthesis"):
    """ws ``(B, num_ws, w_dim)`` -> image: const 4x4, then (upsample, conv) blocks.

    Each conv (and the constant) is followed by noise, leaky ReLU and AdaIN with its own
    style ``ws[:, i]``. The constant's block computes in float32 under any dtype policy: its
    instance norm divides by the tiny spread of a constant plus weak noise, which bfloat16
    (8 significant bits) rounds away (a bf16 model then draws other images than its float32
    weights do).
    """
    num = num_resolutions(image_shape, channels)
    num_ws = 2 * num
    ws = keras.Input((num_ws, w_dim), name="ws")
    index = iter(range(num_ws))

    def style(x, label, dtype=None):
        i = next(index)
        x = NoiseInjection(seed=seed + i, name=f"noise_{label}", dtype=dtype)(x)
        x = layers.LeakyReLU(0.2, dtype=dtype)(x)
        return AdaIN(i, name=f"adain_{label}", dtype=dtype)([x, ws])

    x = ConstantInput((BASE_RESOLUTION, BASE_RESOLUTION, channels[0]), name="const",
                      dtype="float32")(ws)
    x = style(x, "4x4_const", dtype="float32")
    x = style(EqualizedConv2D(channels[0], 3, name="conv_4x4")(x), "4x4_conv")
    for stage in range(1, num):
        res = BASE_RESOLUTION * 2 ** stage
        x = layers.UpSampling2D(2, interpolation="bilinear")(x)
        x = style(EqualizedConv2D(channels[stage], 3, name=f"conv0_{res}x{res}")(x),
                  f"{res}x{res}_0")
        x = style(EqualizedConv2D(channels[stage], 3, name=f"conv1_{res}x{res}")(x),
                  f"{res}x{res}_1")
    x = EqualizedConv2D(image_shape[-1], 1, gain=1.0, name="to_rgb")(x)
    out = layers.Activation("tanh", dtype="float32", name="image")(x)
    return keras.Model(ws, out, name=name)


def stylegan_generator(image_shape, latent_dim, w_dim, channels, mapping_layers=8,
                       mixing_prob=0.9, seed=0, name="generator"):
    """z -> mapping -> w (mean tracked) -> styles (mixed in training) -> synthesis."""
    mapping = mapping_network(latent_dim, w_dim, mapping_layers)
    synthesis = synthesis_network(image_shape, w_dim, channels, seed=seed)
    z = keras.Input((latent_dim,), name="z")
    w = MeanW(name="mean_w")(mapping(z))
    w_mix = mapping(SecondLatent(seed=seed + 1000, name="second_latent")(z))
    ws = StyleMixing(synthesis.input_shape[1], mixing_prob, seed=seed + 2000,
                     name="style_mixing")([w, w_mix])
    return keras.Model(z, synthesis(ws), name=name)


def stylegan_discriminator(image_shape, channels, group_size=4, name="discriminator"):
    """fromRGB at full resolution, (2 convs, average pool) per resolution, ProGAN's head."""
    num = num_resolutions(image_shape, channels)
    image = keras.Input(image_shape, name="image")
    res = image_shape[0]
    x = conv_lrelu(image, channels[-1], f"from_rgb_{res}x{res}", 1)
    for stage in range(num - 1, 0, -1):
        res = BASE_RESOLUTION * 2 ** stage
        x = conv_lrelu(x, channels[stage], f"conv0_{res}x{res}")
        x = conv_lrelu(x, channels[stage - 1], f"conv1_{res}x{res}")
        x = layers.AveragePooling2D(2)(x)
    return keras.Model(image, discriminator_head(x, channels[0], group_size), name=name)


@keras.saving.register_keras_serializable(package="kgan")
class StyleGAN(LatentGAN):
    """Style-based GAN with truncation, style mixing and noise control at sampling time.

    Args (of ``build``):
        image_shape: square power-of-two ``(H, W, C)``.
        latent_dim, w_dim: sizes of z and w.
        channels: feature maps per resolution, 4x4 first.
        mapping_layers: depth of the mapping MLP (8 in the paper).
        mixing_prob: probability of style mixing per training batch (0.9 in the paper).

    Example:
        >>> model = kgan.zoo.load("stylegan_fashion_mnist_32")
        >>> model.generate(16, seed=0, truncation_psi=0.7)
        >>> model.style_mix(z_a, z_b, crossover=4)      # coarse from z_a, fine from z_b

    Reference: Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for
    Generative Adversarial Networks", CVPR.
    """

    #: Formats kgan.export refuses (with the reason) instead of writing a wrong file.
    export_unsupported = {
        "tflite-float16": "float16 weights put the published model off by up to 0.049 "
                          "(limit 0.02; the mapping network and AdaIN magnify the rounding); "
                          "use quantize='none'.",
        "tflite-int8": "pixel normalization of the latent (square, mean, rsqrt) stays in float "
                       "under full-integer quantization; use quantize='none'.",
    }

    compile_defaults = dict(LatentGAN.compile_defaults, loss="non_saturating",
                            learning_rate=2e-3, beta_1=0.0, beta_2=0.99, r1_weight=0.1,
                            ema_decay=0.999)

    @classmethod
    def build(cls, image_shape, latent_dim=128, w_dim=128, channels=(128, 128, 128, 64),
              mapping_layers=8, mixing_prob=0.9, num_classes=0, seed=0, name=None):
        if num_classes:
            raise ValueError(f"StyleGAN is unconditional; received num_classes={num_classes}.")
        return cls(
            stylegan_generator(image_shape, latent_dim, w_dim, channels, mapping_layers,
                               mixing_prob, seed=seed),
            stylegan_discriminator(image_shape, channels),
            latent_dim=latent_dim, seed=seed, name=name or "stylegan")

    @property
    def mapping(self):
        """The mapping network z -> w."""
        return self.generator.get_layer("mapping")

    @property
    def synthesis(self):
        """The synthesis network ws ``(B, num_ws, w_dim)`` -> images."""
        return self.generator.get_layer("synthesis")

    @property
    def num_ws(self):
        """Number of per-layer styles (2 per resolution)."""
        return int(self.synthesis.input_shape[1])

    @property
    def w_avg(self):
        """The tracked mean of w (the truncation centre)."""
        return ops.convert_to_numpy(self.generator.get_layer("mean_w").w_avg)

    def generate(self, n=None, z=None, labels=None, seed=None, batch_size=256,
                 truncation_psi=1.0, noise_mode="const"):
        """``GAN.generate`` with the truncation trick and a choice of noise.

        Args:
            truncation_psi: in [0, 1]; w is pulled to ``w_avg + psi * (w - w_avg)``
                (1: no truncation, 0: the mean image).
            noise_mode: "const" (fixed noise images: reproducible), "random" or "none".
        """
        if labels is not None:
            raise ValueError(f"{self.name} is unconditional: drop labels.")
        z = check_latents(z, n, self.latent_dim, seed)
        return self._synthesize(z, z, self.num_ws, truncation_psi, noise_mode, batch_size)

    def truncated_images(self, z, truncation_psi):
        """Mapping, truncation and synthesis as one traceable call (kgan.export serves it
        as the SavedModel's ``truncated`` signature): ``generate(z=z,
        truncation_psi=psi)`` without the batching, clipping and argument checks.

        Args:
            z: latents ``(B, latent_dim)``.
            truncation_psi: a tensor that broadcasts against ``(B, 1)``: one psi per row
                ``(B, 1)`` or one for all; the caller checks its range.
        """
        w = self.generator.get_layer("mean_w").truncate(self.mapping(z, training=False),
                                                        truncation_psi)
        ws = ops.repeat(w[:, None], self.num_ws, axis=1)
        return self.synthesis(ws, training=False)

    def style_mix(self, z_a, z_b, crossover, truncation_psi=1.0, noise_mode="const",
                  batch_size=256):
        """Images whose styles ``< crossover`` (coarse) come from ``z_a``, the rest from ``z_b``.

        Args:
            z_a, z_b: latents ``(n, latent_dim)`` each, paired row by row.
            crossover: integer in [0, num_ws]; 0 gives B's images, num_ws A's.
        """
        if isinstance(crossover, bool) or int(crossover) != crossover or not (
                0 <= crossover <= self.num_ws):
            raise ValueError(f"crossover must be an integer layer index in [0, {self.num_ws}] "
                             f"({self.num_ws} style layers); received {crossover!r}.")
        z_a = check_latents(z_a, None, self.latent_dim, None)
        z_b = check_latents(z_b, len(z_a), self.latent_dim, None)
        return self._synthesize(z_a, z_b, int(crossover), truncation_psi, noise_mode,
                                batch_size)

    def card_figures(self, folder, seed=2024, n=6):
        """Writes the StyleGAN card's figures into ``folder`` and returns their file names.

        * ``style_mixing.png``: row i takes its coarse styles (layers < 4: pose, shape) from
          source A_i and its fine styles (layers >= 4: texture, shading) from source B_j in
          column j; the first row and column show the sources themselves.
        * ``truncation.png``: the same latents at psi = 1.0, 0.8, ..., 0.0 (one column each),
          collapsing towards the mean style.
        """
        from kgan.modalities.images import save_grid

        folder = Path(folder)
        rng = np.random.default_rng(seed)
        z_a = rng.standard_normal((n, self.latent_dim)).astype("float32")
        z_b = rng.standard_normal((n, self.latent_dim)).astype("float32")
        blank = -np.ones((1, *self.image_shape), "float32")
        sources_a = self.generate(z=z_a)
        sources_b = self.generate(z=z_b)
        rows = [np.concatenate([blank, sources_b])]
        for i in range(n):
            mixed = self.style_mix(np.repeat(z_a[i:i + 1], n, 0), z_b, crossover=4)
            rows.append(np.concatenate([sources_a[i:i + 1], mixed]))
        save_grid(folder / "style_mixing.png", np.concatenate(rows), rows=n + 1)
        psis = np.linspace(1.0, 0.0, 6)
        strip = np.stack([self.generate(z=z_a, truncation_psi=float(p)) for p in psis], axis=1)
        save_grid(folder / "truncation.png", strip.reshape(-1, *self.image_shape), rows=n)
        return ["style_mixing.png", "truncation.png"]

    def _synthesize(self, z_a, z_b, crossover, psi, noise_mode, batch_size):
        if isinstance(psi, bool) or not isinstance(psi, (int, float, np.floating)) or not (
                0.0 <= psi <= 1.0):
            raise ValueError(f"truncation_psi must be a number in [0, 1]; received {psi!r}.")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {', '.join(NOISE_MODES)}; received "
                             f"{noise_mode!r}.")
        mean_w = self.generator.get_layer("mean_w")
        take_a = (np.arange(self.num_ws) < crossover)[None, :, None]
        out = []
        with self.inference_weights(), NoiseMode(self.synthesis, noise_mode):
            for i in range(0, len(z_a), batch_size):
                w_a, w_b = (self.mapping(z[i:i + batch_size]) for z in (z_a, z_b))
                if psi != 1.0:  # w_avg + 1 * (w - w_avg) is w only up to rounding
                    w_a, w_b = (mean_w.truncate(w, float(psi)) for w in (w_a, w_b))
                ws = ops.where(take_a, w_a[:, None], w_b[:, None])
                ws = ops.broadcast_to(ws, (ws.shape[0], self.num_ws, ws.shape[-1]))
                out.append(ops.convert_to_numpy(self.synthesis(ws, training=False)))
        return np.clip(np.concatenate(out).astype("float32"), -1.0, 1.0)


register_family_entries(
    StyleGAN,
    family="stylegan",
    paper="Karras, Laine & Aila 2019, arXiv:1812.04948",
    entries={
        # Sized for ~6 minutes of an H100 shared by 4 processes. Estimate: one forward pass
        # of G or D at these widths is ~0.16 GFLOP per image, a training step (critic update
        # with its penalty's double backprop + generator update) ~3 GFLOP per image, ~0.2
        # TFLOP per batch of 64: ~5 ms at ~40 TFLOP/s, ~20 ms with 4 processes sharing the
        # GPU, so 10 epochs (9,370 steps) take ~3 minutes after ~1 minute of compilation.
        "stylegan_fashion_mnist_32": dict(
            dataset="fashion_mnist_32", epochs=10,
            weights="stylegan_fashion_mnist_32.weights.h5",
            sha256="03aec5498452ba16e7d40e3ab4a58a93f9c7290ad99ba0932785e13cff6084a1"),
    },
    model_kwargs=dict(latent_dim=128, w_dim=128, channels=(128, 128, 64, 32),
                      mapping_layers=8),
    test_kwargs=dict(latent_dim=8, w_dim=8, channels=(8, 8, 8, 4), mapping_layers=2),
    recipe=dict(batch_size=64, compile=dict(loss="non_saturating", r1_weight=0.1,
                                            ema_decay=0.999)),
    test_dataset="fashion_mnist_32",
)
