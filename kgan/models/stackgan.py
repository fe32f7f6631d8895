"""StackGAN (Zhang et al. 2017, "StackGAN: Text to Photo-realistic Image Synthesis with
Stacked Generative Adversarial Networks").

Text-to-image in two stages, each a matching-aware (GAN-CLS) conditional GAN trained with
``fit``:

* **Stage I** draws a coarse 16x16 image from ``[z, c]``: the GAN-CLS generator of
  ``kgan.models.text2image`` (the DCGAN body) with the text compression replaced by
  **conditioning augmentation** (``kgan.layers.ConditioningAugmentation``): the code
  ``c = mu(phi(t)) + sigma(phi(t)) * eps`` is a draw from ``N(mu, sigma^2)``, in training
  and generation alike (as in the authors' code), and G's loss gets
  ``kl_weight * KL(N(mu, sigma^2) || N(0, I)) / cond_dim``: the authors' code averages the
  KL over the code's units and weights it by 2 (``kl_weight=2``).
* **Stage II** refines it to 32x32: its generator downsamples the (frozen) stage-I image,
  concatenates its own conditioning-augmentation code replicated over the feature map,
  runs residual blocks and upsamples; its discriminator is stage I's, at 32x32, judging the
  same three kinds of pairs (real / right caption, real / wrong caption, fake / right
  caption). The stage-I generator is trained first and frozen (``stage1_generator``); z
  reaches stage II only through its image, as in the paper. Stage II's code starts as
  stage I's trained one (``set_stage1``); the zoo recipe trains it without the KL term
  (``kl_weight=0``), under which its code collapsed onto the prior and stage II stopped
  reading the caption.

**The latent vector is ``(z, eps)``**: ``latent_dim - cond_dim`` entries of z, then the
``cond_dim`` standard normal draws of the conditioning augmentations (both stages use the
same eps). G learns to use eps as a source of variety; drawing ``c`` in training but using
``mu`` at generation (kgan's first StackGAN) therefore gave nearly one image per caption
(recall 0.10), and with the KL summed over the units at weight 1 (64 times the authors'
weight) ``mu`` carried so little of the caption that the codes were mostly noise.

The matching-aware losses and GAN-INT option are ``Text2Image``'s (this class extends it).

Images: ``fashion_captions_32`` (the 28x28 garments with a 2-pixel black border, the stage-II
targets) and ``fashion_captions_16`` (those averaged over 2x2 blocks, stage I's), see
``kgan.data.sets.fashion_captions_32``. ``kgan.metrics`` crops the border off before the
28x28 classifier.

Zoo: ``stackgan_fashion_stage1`` (stage I's recipe) and ``stackgan_fashion`` (stage II,
holding the trained stage I); ``tools/train_stackgan.py`` trains both and publishes the
latter.
"""

import keras
import numpy as np
from keras import layers

from kgan.layers import BatchNormalization, ConditioningAugmentation
from kgan.models import text_conditioning
from kgan.models.common import SYNC_BN, register_family_entries
from kgan.models.dcgan import check_size, dcgan_upsampler
from kgan.models.text2image import Text2Image, resolve_text_encoder, text2image_discriminator

#: Name of the conditioning augmentation layer in both stages' generators.
CA_LAYER = "conditioning_augmentation"
STAGES = (1, 2)


def _conv_bn_relu(x, filters, kernel=3, strides=1, transpose=False):
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = BatchNormalization(synchronized=SYNC_BN)(x)
    return layers.ReLU()(x)


def _split_latent(latent, cond_dim):
    """``(z, eps)``: StackGAN's latent vector is G's noise z followed by the conditioning
    augmentation's standard normal draw eps (``cond_dim`` entries)."""
    split = latent.shape[-1] - cond_dim
    return latent[:, :split], latent[:, split:]


def _check_latent(latent_dim, cond_dim):
    if latent_dim <= cond_dim:
        raise ValueError(f"StackGAN's latent vector holds z and the conditioning augmentation's "
                         f"noise (cond_dim={cond_dim} entries), so latent_dim must exceed "
                         f"cond_dim; received latent_dim={latent_dim}. Use e.g. latent_dim="
                         f"{cond_dim + 100} for a 100-d z.")


def stage1_generator(image_shape, latent_dim, embedding_dim, width=64, cond_dim=128,
                     name="generator"):
    """[(z, eps), phi(t)] -> concat(z, CA(phi(t), eps)) -> DCGAN generator (H/4 -> H/2 -> H)."""
    check_size(image_shape)
    _check_latent(latent_dim, cond_dim)
    latent = keras.Input((latent_dim,), name="latent")
    embedding = keras.Input((embedding_dim,), name="text_embedding")
    z, eps = _split_latent(latent, cond_dim)
    code = ConditioningAugmentation(cond_dim, name=CA_LAYER)([embedding, eps])
    out = dcgan_upsampler(layers.Concatenate()([z, code]), image_shape, width)
    return keras.Model([latent, embedding], out, name=name)


def stage2_generator(image_shape, latent_dim, embedding_dim, width=32, cond_dim=128,
                     residual_blocks=2, name="generator"):
    """[stage-I image (H/2), phi(t), (z, eps)] -> Conv(w) -> Conv(2w, /2) -> concat(tiled
    CA(phi(t), eps)) -> Conv(2w) -> residual blocks -> ConvT(w, x2) -> ConvT(c, x2) -> tanh
    (H). Its conditioning augmentation draws with the latent's eps, like stage I's."""
    h, w, c = image_shape
    if h % 8 or w % 8:
        raise ValueError(f"StackGAN's stage II needs height and width divisible by 8 (stage I "
                         f"makes half of them, itself divisible by 4); received {image_shape}.")
    _check_latent(latent_dim, cond_dim)
    low = keras.Input((h // 2, w // 2, c), name="stage1_image")
    embedding = keras.Input((embedding_dim,), name="text_embedding")
    latent = keras.Input((latent_dim,), name="latent")
    _, eps = _split_latent(latent, cond_dim)
    x = layers.ReLU()(layers.Conv2D(width, 3, padding="same")(low))
    x = _conv_bn_relu(x, 2 * width, kernel=4, strides=2)
    code = ConditioningAugmentation(cond_dim, name=CA_LAYER)([embedding, eps])
    tiled = layers.UpSampling2D((h // 4, w // 4), name="code_tile")(
        layers.Reshape((1, 1, cond_dim))(code))
    x = _conv_bn_relu(layers.Concatenate()([x, tiled]), 2 * width)
    for _ in range(residual_blocks):
        y = _conv_bn_relu(x, 2 * width)
        y = BatchNormalization(synchronized=SYNC_BN)(
            layers.Conv2D(2 * width, 3, padding="same", use_bias=False)(y))
        x = layers.ReLU()(layers.Add()([x, y]))
    x = _conv_bn_relu(x, width, kernel=4, strides=2, transpose=True)
    x = layers.Conv2DTranspose(c, 4, strides=2, padding="same")(x)
    out = layers.Activation("tanh", dtype="float32", name="image")(x)
    return keras.Model([low, embedding, latent], out, name=name)


@keras.saving.register_keras_serializable(package="kgan")
class StackGAN(Text2Image):
    """StackGAN: ``stage=1`` is the 16x16 stage-I GAN; ``stage=2`` holds the frozen stage-I
    generator and the stage-II generator / discriminator, and ``generate`` returns 32x32.

    Args:
        generator: stage 1: ``[latent, text_embedding] -> image``; stage 2:
            ``[stage-I image, text_embedding, latent] -> image``.
        discriminator: ``[image, text_embedding] -> logits`` (matching-aware).
        text_encoder: frozen ``kgan.modalities.text.build_text_encoder`` model.
        latent_dim, seed: as ``kgan.LatentGAN``; the latent is ``(z, eps)`` (see the module).
        stage: 1 or 2.
        stage1_generator: stage 2 only: the stage-I generator (frozen); give it the trained
            weights with :meth:`set_stage1` before training stage II.
        default_captions: captions ``generate`` cycles through without ``text``.
        caption_dataset: the captioned data set of the text encoder (for the card figures).

    Compile adds ``kl_weight`` (default 2.0, the authors' code): weight of the conditioning
    augmentation's KL per code unit in G's loss.

    Example:
        >>> model = kgan.zoo.load("stackgan_fashion")
        >>> boots = model.generate(text="a dark ankle boot", n=8, seed=0)    # (8, 32, 32, 1)
        >>> coarse, fine = model.generate_stages(text="a light bag", n=4, seed=0)

    Reference:
        Zhang et al. 2017, arXiv:1612.03242.
    """

    compile_defaults = dict(Text2Image.compile_defaults, kl_weight=2.0)
    compile_config_attributes = Text2Image.compile_config_attributes + ("kl_weight",)
    #: Trackers beyond ``kgan.latent.METRIC_NAMES``: D's rejection of (real, wrong text) and
    #: the conditioning augmentation's KL divergence.
    extra_metric_names = ("d_wrong_acc", "kl")

    def __init__(self, generator, discriminator, text_encoder, latent_dim, stage=1,
                 stage1_generator=None, seed=0, default_captions=(), caption_dataset=None,
                 num_classes=0, **kwargs):
        if stage not in STAGES:
            raise ValueError(f"stage must be 1 or 2; received {stage!r}.")
        if (stage == 2) != (stage1_generator is not None):
            raise ValueError("StackGAN's stage 2 needs stage1_generator (the stage-I generator) "
                             "and stage 1 takes none; received stage="
                             f"{stage} with{'out' if stage1_generator is None else ''} one.")
        super().__init__(generator, discriminator, text_encoder, latent_dim, seed=seed,
                         default_captions=default_captions, num_classes=num_classes, **kwargs)
        self.stage = int(stage)
        if stage1_generator is not None:
            stage1_generator.trainable = False
        self.stage1_generator = stage1_generator
        self.caption_dataset = caption_dataset
        self._trackers["kl"] = keras.metrics.Mean(name="kl")

    @classmethod
    def build(cls, image_shape, latent_dim=228, stage=1, width=64, cond_dim=128,
              stage1_width=64, residual_blocks=2, text_encoder="fashion_captions",
              num_classes=0, seed=0, name=None):
        """``image_shape``: this stage's images (stage 2: stage I makes half the size).
        ``latent_dim``: z's size plus ``cond_dim`` (the default: a 100-d z).
        ``width``: this stage's networks; ``stage1_width``: stage 2's stage-I generator.
        ``text_encoder``: a captioned data set whose published encoder to load, or a
        ``keras.Model`` encoder."""
        if stage not in STAGES:
            raise ValueError(f"stage must be 1 or 2; received {stage!r}.")
        check_size(image_shape)
        dataset = text_encoder if isinstance(text_encoder, str) else None
        text_encoder, default_captions = resolve_text_encoder(text_encoder)
        dim = int(text_encoder.output_shape[-1])
        if stage == 1:
            generator = stage1_generator(image_shape, latent_dim, dim, width, cond_dim)
            first = None
        else:
            h, w, c = image_shape
            generator = stage2_generator(image_shape, latent_dim, dim, width, cond_dim,
                                         residual_blocks)
            first = stage1_generator((h // 2, w // 2, c), latent_dim, dim, stage1_width,
                                     cond_dim, name="stage1_generator")
        return cls(generator, text2image_discriminator(image_shape, dim, width, cond_dim),
                   text_encoder, latent_dim=latent_dim, stage=stage, stage1_generator=first,
                   seed=seed, default_captions=default_captions, caption_dataset=dataset,
                   num_classes=num_classes, name=name or f"stackgan_stage{stage}")

    def compile(self, *args, kl_weight=None, **kwargs):
        """``Text2Image.compile`` plus ``kl_weight``: the KL term's weight in G's loss."""
        weight = self.compile_defaults["kl_weight"] if kl_weight is None else kl_weight
        if weight < 0:
            raise ValueError(f"kl_weight must be >= 0; received {weight!r}.")
        super().compile(*args, **kwargs)
        self.kl_weight = float(weight)

    def get_config(self):
        first = self.stage1_generator
        return {**super().get_config(), "stage": self.stage,
                "stage1_generator": (None if first is None
                                     else keras.saving.serialize_keras_object(first)),
                "caption_dataset": self.caption_dataset}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("stage1_generator") is not None:
            config["stage1_generator"] = keras.saving.deserialize_keras_object(
                config["stage1_generator"])
        return super().from_config(config)

    # ------------------------------------------------------------------ stages
    def set_stage1(self, stage1):
        """Copies a trained stage-I ``StackGAN``'s generator (its EMA weights if it has
        them) into this stage-2 model's frozen stage-I generator, and its conditioning
        augmentation into stage II's as a starting point: a code that already carries the
        caption, which stage II then trains (from a random start its code collapsed onto
        the prior and stage II took the class from the blurry stage-I image alone,
        drawing pullovers as coats)."""
        if self.stage != 2:
            raise ValueError(f"set_stage1 applies to stage 2 models; {self.name} is stage "
                             f"{self.stage}.")
        if getattr(stage1, "stage", None) != 1:
            raise ValueError("set_stage1 takes a trained stage-1 StackGAN (e.g. from "
                             "tools/train_stackgan.py); received "
                             f"{type(stage1).__name__} with "
                             f"stage={getattr(stage1, 'stage', None)}.")
        expected = tuple(self.stage1_generator.output_shape[1:])
        if stage1.image_shape != expected:
            raise ValueError(f"{self.name} refines {expected} stage-I images; received a stage-1 "
                             f"model making {stage1.image_shape}.")
        with stage1.inference_weights():
            self.stage1_generator.set_weights(stage1.generator.get_weights())
            self.generator.get_layer(CA_LAYER).set_weights(
                stage1.generator.get_layer(CA_LAYER).get_weights())

    @property
    def synthesis_networks(self):
        if self.stage == 1:
            return (self.generator,)
        return (self.stage1_generator, self.generator)

    def synthesize(self, z, embeddings):
        if self.stage == 1:
            return self.generator([z, embeddings], training=False)
        # generate() passes numpy arrays, which Keras cannot mix with the tensor ``low``.
        z, embeddings = keras.ops.convert_to_tensor(z), keras.ops.convert_to_tensor(embeddings)
        low = self.stage1_generator([z, embeddings], training=False)
        return self.generator([low, embeddings, z], training=False)

    def generate_stages(self, n=None, z=None, seed=None, text=None, batch_size=256):
        """Stage 2: ``(stage-I images (n, H/2, W/2, C), stage-II images (n, H, W, C))`` from
        the same latents and captions (arguments as ``generate``)."""
        if self.stage != 2:
            raise ValueError(f"generate_stages needs a stage-2 model; {self.name} is stage 1 "
                             "(its generate() gives the stage-I images).")
        z, texts = self.text_inputs(n, z, None, seed, text)
        embeddings = self.encode_text(texts)
        low = np.concatenate([
            keras.ops.convert_to_numpy(self.stage1_generator(
                [z[i:i + batch_size], embeddings[i:i + batch_size]], training=False))
            for i in range(0, len(z), batch_size)])
        return (np.clip(low.astype("float32"), -1.0, 1.0),
                self.generate_from_embeddings(z, embeddings, batch_size))

    def card_figures(self, folder):
        """Captioned ``samples.png`` and ``interpolation.png`` (``text_conditioning.card_figures``)
        and, for stage 2, ``stages.png``: stage I next to stage II for each class caption."""
        from pathlib import Path

        figures = text_conditioning.card_figures(self, self.caption_dataset, folder)
        if self.stage == 2:
            figures["stages"] = self.stages_figure(Path(folder) / "stages.png").name
        return figures

    def stages_figure(self, path, per_caption=2):
        """A PNG of ``(stage I, stage II)`` pairs, ``per_caption`` latents per default
        caption, stage I upsampled (nearest) to stage II's size; returns the path."""
        from kgan.modalities.images import save_captioned_grid

        captions = [c for c in self.default_captions for _ in range(per_caption)]
        low, high = self.generate_stages(text=captions, seed=text_conditioning.FIGURE_SEED)
        factor = high.shape[1] // low.shape[1]
        low = low.repeat(factor, axis=1).repeat(factor, axis=2)
        images = np.stack([low, high], axis=1).reshape(-1, *high.shape[1:])
        labels = [label for c in captions for label in (f"I: {c}", f"II: {c}")]
        return save_captioned_grid(path, images, labels, cols=2 * per_caption)

    # ------------------------------------------------------------------ training
    def _g(self, z, cond, training=True):
        if self.stage == 1:
            return super()._g(z, cond, training)
        (embeddings,) = cond
        low = keras.ops.stop_gradient(self.stage1_generator([z, embeddings], training=False))
        return self.generator([low, embeddings, z], training=training)

    def _text_generator_loss(self, z, embeddings, wrong):
        """GAN-CLS's generator loss plus ``kl_weight`` times the conditioning augmentation's
        KL divergence per code unit (Zhang et al. 2017, eq. 3 / 5; ``kl`` logs the whole KL
        in nats)."""
        layer = self.generator.get_layer(CA_LAYER)
        kl = layer.kl_divergence(embeddings)
        self._trackers["kl"].update_state(kl)
        return (super()._text_generator_loss(z, embeddings, wrong)
                + self.kl_weight * kl / layer.units)


register_family_entries(
    StackGAN,
    family="stackgan",
    paper="Zhang et al. 2017, arXiv:1612.03242 (StackGAN)",
    entries={
        "stackgan_fashion_stage1": dict(dataset="fashion_captions_16", epochs=8,
                                        model_kwargs=dict(stage=1, width=64)),
        # Stage II without the KL term: with it (even at the authors' weight) Adam moved its
        # code onto the prior whenever the adversarial gradient on it was small, and stage
        # II stopped reading the caption (class accuracy 0.83: pullovers drawn as coats).
        # Published: stage I 8 epochs + stage II 5 (7,496 + 4,685 steps), 34 min on 2
        # shared CPU cores (python tools/train_stackgan.py).
        "stackgan_fashion": dict(
            weights="stackgan_fashion.weights.h5",
            sha256="71a9dbdaa666656f9ea60121aec1d12700b11924c988a7fdc8e790471a6c8f8c",
            dataset="fashion_captions_32", epochs=5, model_kwargs=dict(stage=2, width=32),
            compile=dict(loss="non_saturating", ema_decay=0.999, kl_weight=0.0)),
    },
    # latent_dim: a 100-d z and the conditioning augmentation's 128 draws.
    model_kwargs=dict(latent_dim=228, cond_dim=128, stage1_width=64, residual_blocks=2,
                      text_encoder="fashion_captions"),
    test_kwargs=dict(latent_dim=16, stage=2, width=4, cond_dim=8, stage1_width=4,
                     residual_blocks=1, text_encoder="fashion_captions"),
    recipe=dict(batch_size=64, compile=dict(loss="non_saturating", ema_decay=0.999)),
    test_dataset="fashion_captions_32",
)
