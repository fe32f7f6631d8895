"""Text-to-image GAN (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis",
GAN-CLS with optional GAN-INT).

Both players see a sentence embedding of the caption from a frozen text encoder
(``kgan.modalities.text``): G draws ``G(z, phi(t))``, D judges ``D(x, phi(t))``. As in the paper the
embedding is first compressed by a dense layer with a leaky ReLU, concatenated to z in G, and
replicated over D's last feature map, followed by a 1x1 convolution. The networks are
otherwise the DCGAN ones at 28x28 (``kgan.models.dcgan``); D also gets the projection term
<h, W phi(t)> (Miyato & Koyama 2018) that made kgan's class-conditional GANs follow their
labels.

**Matching-aware discriminator (GAN-CLS).** A plain conditional D can only say real / fake;
then G may ignore the text. GAN-CLS gives D a third kind of pair, a real image with the
*wrong* caption (here the batch's captions rolled by one), which it must also reject:

    L_D = L(D(x, t) is real) + (L(D(x, t_wrong) is fake) + L(D(G(z, t), t) is fake)) / 2

**GAN-INT** (``compile(interpolation_weight=w)``, 0 disables it): G also makes images from
the midpoints of pairs of the batch's embeddings and is trained to make D accept them with
their (synthetic) embedding, which fills the space between captions.

**Training** (``_gan_step``) is written once in ``keras.ops`` on the primitives of
``kgan.trainers``, so ``fit`` runs on Keras' TensorFlow and JAX backends: ``fit`` turns the
captions into the frozen encoder's word ids before the step, which embeds them
(``kgan.models.text_conditioning``); the mismatched captions are the batch's embeddings
rolled by one, on each replica's share of the batch.

``interpolate_text(a, b, steps, z=...)`` walks from one caption's embedding to another's with
a fixed latent, the paper's interpolation figure.
"""

import keras
from keras import layers, ops

from kgan.latent import LatentGAN
from kgan.layers import BatchNormalization
from kgan.trainers.base import GENERATOR_STREAM, split_batch
from kgan.models.common import SYNC_BN, register_family_entries
from kgan.modalities.text import dataset_module, freeze, load_text_encoder
from kgan.models.dcgan import check_size, dcgan_upsampler
from kgan.models.text_conditioning import TextConditioned


def _compress(embedding, dim, name):
    """The paper's text bottleneck: Dense + LeakyReLU(0.2)."""
    return layers.LeakyReLU(0.2, name=f"{name}_act")(layers.Dense(dim, name=name)(embedding))


def text2image_generator(image_shape, latent_dim, embedding_dim, width=64, cond_dim=128,
                         name="generator"):
    """[z, phi(t)] -> concat(z, compress(phi(t))) -> DCGAN generator (7x7 -> 14 -> 28)."""
    check_size(image_shape)
    z = keras.Input((latent_dim,), name="latent")
    embedding = keras.Input((embedding_dim,), name="text_embedding")
    code = _compress(embedding, cond_dim, "text_compress")
    out = dcgan_upsampler(layers.Concatenate()([z, code]), image_shape, width)
    return keras.Model([z, embedding], out, name=name)


def text2image_discriminator(image_shape, embedding_dim, width=64, cond_dim=128,
                             name="discriminator"):
    """[x, phi(t)] -> Conv(w, /2) -> Conv(2w, /2) -> concat(tiled compress(phi(t))) ->
    Conv 1x1 (2w) -> logits = Dense(h) + <h, W compress(phi(t))>."""
    check_size(image_shape)
    h, w, _ = image_shape
    image = keras.Input(image_shape, name="image")
    embedding = keras.Input((embedding_dim,), name="text_embedding")
    x = layers.Conv2D(width, 4, strides=2, padding="same")(image)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2D(2 * width, 4, strides=2, padding="same", use_bias=False)(x)
    x = BatchNormalization(synchronized=SYNC_BN)(x)
    x = layers.LeakyReLU(0.2)(x)
    text = _compress(embedding, cond_dim, "text_compress")
    tiled = layers.UpSampling2D((h // 4, w // 4), name="text_tile")(
        layers.Reshape((1, 1, cond_dim))(text))
    x = layers.Concatenate()([x, tiled])
    x = layers.Conv2D(2 * width, 1)(x)
    x = layers.LeakyReLU(0.2)(x)
    features = layers.Flatten()(x)
    logits = layers.Dense(1)(features)
    projection = layers.Dot(axes=1)([features, layers.Dense(
        features.shape[-1], use_bias=False, name="projection")(text)])
    logits = layers.Activation("linear", dtype="float32", name="logits")(
        layers.Add()([logits, projection]))
    return keras.Model([image, embedding], logits, name=name)


def resolve_text_encoder(text_encoder):
    """``(encoder, default_captions)`` for a builder's ``text_encoder`` argument: a captioned
    data set's name (its published encoder and one caption per class) or a ``keras.Model``
    encoder (no default captions)."""
    if isinstance(text_encoder, str):
        return load_text_encoder(text_encoder), dataset_module(text_encoder).CLASS_CAPTIONS
    return text_encoder, ()


@keras.saving.register_keras_serializable(package="kgan")
class Text2Image(TextConditioned, LatentGAN):
    """GAN-CLS text-to-image model: ``generate(n, text=[...])`` draws images for captions.

    Args:
        generator: ``[latent, text_embedding] -> image``.
        discriminator: ``[image, text_embedding] -> logits``.
        text_encoder: frozen ``kgan.modalities.text.build_text_encoder`` model (strings ->
            embeddings).
        latent_dim, seed: as ``kgan.LatentGAN``.
        default_captions: captions ``generate`` cycles through without ``text``.

    Training data: ``(images, captions)`` batches, e.g.
    ``kgan.data.load("fashion_captions")``, or arrays ``fit(images, captions)``; ``fit``
    runs on Keras' TensorFlow and JAX backends (TensorFlow installed for the encoder's
    TextVectorization, see ``kgan.models.text_conditioning``).

    Example:
        >>> model = kgan.zoo.load("text2image_fashion")
        >>> boots = model.generate(text="a dark ankle boot", n=8, seed=0)
        >>> walk = model.interpolate_text("a light sneaker", "a dark sandal", steps=8)

    Reference:
        Reed et al. 2016, arXiv:1605.05396.
    """

    compile_defaults = dict(LatentGAN.compile_defaults, interpolation_weight=0.0)
    compile_config_attributes = ("interpolation_weight",)
    #: Trackers beyond ``kgan.latent.METRIC_NAMES``: how often D rejects (real, wrong text).
    extra_metric_names = ("d_wrong_acc",)

    def __init__(self, generator, discriminator, text_encoder, latent_dim, seed=0,
                 default_captions=(), num_classes=0, **kwargs):
        if num_classes:
            raise ValueError("Text2Image is conditioned on captions, not classes: "
                             f"num_classes must be 0; received {num_classes}.")
        super().__init__(generator, discriminator, latent_dim, num_classes=0, seed=seed,
                         **kwargs)
        self.text_encoder = freeze(text_encoder)
        self.default_captions = tuple(default_captions)
        self._trackers["d_wrong_acc"] = keras.metrics.Mean(name="d_wrong_acc")

    @classmethod
    def build(cls, image_shape, latent_dim=100, width=64, cond_dim=128,
              text_encoder="fashion_captions", num_classes=0, seed=0, name=None):
        """``text_encoder``: a captioned data set whose published encoder to load, or a
        ``keras.Model`` encoder."""
        text_encoder, default_captions = resolve_text_encoder(text_encoder)
        dim = int(text_encoder.output_shape[-1])
        return cls(
            text2image_generator(image_shape, latent_dim, dim, width, cond_dim),
            text2image_discriminator(image_shape, dim, width, cond_dim),
            text_encoder, latent_dim=latent_dim, seed=seed, num_classes=num_classes,
            default_captions=default_captions, name=name or "text2image",
        )

    def compile(self, *args, interpolation_weight=None, **kwargs):
        """``kgan.GAN.compile`` plus ``interpolation_weight``: the GAN-INT term's weight in
        G's loss (0 disables it)."""
        weight = (self.compile_defaults["interpolation_weight"] if interpolation_weight is None
                  else interpolation_weight)
        if weight < 0:
            raise ValueError(f"interpolation_weight must be >= 0; received {weight!r}.")
        super().compile(*args, **kwargs)
        if self.update != "alternating":
            raise ValueError("Text2Image trains with update='alternating' (its discriminator "
                             f"sees three kinds of pairs); received update={self.update!r}.")
        self.interpolation_weight = float(weight)
        self._active_metric_names += self.extra_metric_names

    def get_config(self):
        return {**super().get_config(),
                "text_encoder": keras.saving.serialize_keras_object(self.text_encoder),
                "default_captions": list(self.default_captions)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["text_encoder"] = keras.saving.deserialize_keras_object(config["text_encoder"])
        return super().from_config(config)

    # ------------------------------------------------------------------ training
    def _gan_step(self, data):
        """GAN-CLS on a batch of ``(images, word ids)`` (``fit`` tokenized the captions):
        ``d_steps`` matching-aware D updates, then G's update (with GAN-INT's term)."""
        images, ids = split_batch(data)
        images = ops.cast(images, "float32")  # D casts to its compute dtype
        cond = (self.embed_batch(ids),)
        batch = ops.shape(images)[0]
        _, num_replicas = self._replica_info()
        for k in range(self.d_steps):
            self._matching_aware_update(images, self.sample_latents(batch, k), cond,
                                        num_replicas, k)
        self._generator_update(self.sample_latents(batch, GENERATOR_STREAM), cond,
                               num_replicas)
        return {m.name: m.result() for m in self.metrics}

    def _matching_aware_update(self, images, z, cond, num_replicas, stream):
        """One D update on (real, right text), (real, wrong text) and (fake, right text)."""
        fake = self._g(z, cond, training=True)  # outside the gradient: D's update only
        wrong = (mismatched(cond[0]),)
        variables = self.discriminator.trainable_variables

        def loss_fn():
            total, penalties, real_logits, fake_logits = self._critic_loss(
                images, fake, cond, stream)
            wrong_logits = self._d(images, wrong)
            # total = L(real) + L(fake) + penalties; GAN-CLS halves the fake term and adds
            # half of L(real image, wrong text is fake).
            total += 0.5 * (self.discriminator_loss_fn(real_logits, wrong_logits)
                            - self.discriminator_loss_fn(real_logits, fake_logits))
            return ((self.d_optimizer.scale_loss(total / num_replicas),),
                    (total, penalties, real_logits, fake_logits, wrong_logits))

        _, losses, (grads,) = self._value_and_grads(loss_fn, [variables])
        self._apply(self.d_optimizer, grads, variables)
        self._track_discriminator(*losses[:4])
        threshold = 0.5 if self.loss_name == "least_squares" else 0.0
        self._trackers["d_wrong_acc"].update_state(
            ops.mean(ops.cast(losses[4] <= threshold, "float32")))

    def _generator_loss(self, z, cond):
        g_loss = self._text_generator_loss(z, cond[0], mismatched(cond[0]))
        self._trackers["g_loss"].update_state(g_loss)
        return g_loss

    def _text_generator_loss(self, z, embeddings, wrong):
        """G's loss on fakes for the batch's captions, plus GAN-INT's term when enabled
        (``wrong``: the rolled embeddings whose midpoints GAN-INT draws). Subclasses add
        their regularisers here (StackGAN's KL term)."""
        g_loss = self.generator_loss_fn(self._d(self._g(z, (embeddings,)), (embeddings,)))
        if self.interpolation_weight:
            mixed = 0.5 * (embeddings + wrong)
            g_loss += self.interpolation_weight * self.generator_loss_fn(
                self._d(self._g(z, (mixed,)), (mixed,)))
        return g_loss


def mismatched(embeddings):
    """GAN-CLS's mismatched captions: each image gets its neighbour's caption embedding."""
    return ops.roll(embeddings, 1, axis=0)


register_family_entries(
    Text2Image,
    family="text2image",
    paper="Reed et al. 2016, arXiv:1605.05396 (GAN-CLS)",
    entries={
        # 13 epochs (6,084 steps) on 2 shared CPU cores, 75 min; stopped there for time.
        "text2image_fashion": dict(
            weights="text2image_fashion.weights.h5",
            sha256="39e7dab7a85d5c7c6fbd6f0daa4489df64e993f35c2b8d172a97278bbe3f3e7b",
            dataset="fashion_captions", epochs=13),
    },
    model_kwargs=dict(latent_dim=100, width=64, cond_dim=128,
                      text_encoder="fashion_captions"),
    test_kwargs=dict(latent_dim=8, width=4, cond_dim=8, text_encoder="fashion_captions"),
    recipe=dict(batch_size=128, compile=dict(loss="non_saturating", ema_decay=0.999)),
    test_dataset="fashion_captions",
)
