"""The text-conditioning mixin of the text-to-image families and their model-card figures.

:class:`TextConditioned` gives a GAN ``text_encoder``, ``encode_text`` and
``generate(..., text=...)``; its training batches are ``(images, captions)`` and its
``train_step`` embeds the caption strings with the frozen encoder
(:func:`kgan.modalities.text.load_text_encoder`). :func:`card_figures` draws a text model's
captioned samples and caption interpolations for its zoo card. Families:
:mod:`kgan.models.text2image`, :mod:`kgan.models.stackgan`.
"""

from pathlib import Path

import keras
import numpy as np

from kgan.modalities.images import save_captioned_grid
from kgan.modalities.text import check_texts, dataset_module, encode_texts
from kgan.validation import check_latents

#: Seed of the latents of the card figures.
FIGURE_SEED = 2024


def caption_samples(model, dataset, path):
    """A model card's ``samples.png``: the data set's ``sample_captions()`` (one row per
    class, one attribute per column), each image with its caption printed under it."""
    data = dataset_module(dataset)
    captions = data.sample_captions()
    images = model.generate(text=captions, seed=FIGURE_SEED)
    return save_captioned_grid(path, images, captions, cols=len(data.SAMPLE_TEMPLATES))


def interpolation_figure(model, dataset, path, steps=8):
    """``interpolation.png``: one row per caption pair of the data set's
    ``INTERPOLATIONS``, walking between their embeddings with one latent per row."""
    rows, labels = [], []
    for i, (a, b) in enumerate(dataset_module(dataset).INTERPOLATIONS):
        z = np.random.default_rng(FIGURE_SEED + i).standard_normal(model.latent_dim)
        rows.append(model.interpolate_text(a, b, steps, z=z.astype("float32")))
        labels += [a] + [f"{k / (steps - 1):.2f}" for k in range(1, steps - 1)] + [b]
    return save_captioned_grid(path, np.concatenate(rows), labels, cols=steps)


def card_figures(model, dataset, folder):
    """Writes the captioned ``samples.png`` and ``interpolation.png`` into ``folder``."""
    caption_samples(model, dataset, Path(folder) / "samples.png")
    interpolation_figure(model, dataset, Path(folder) / "interpolation.png")
    return {"interpolation": "interpolation.png"}


class TextConditioned:
    """Mixin for ``kgan.GAN`` subclasses conditioned on a caption (put it first in the bases).

    The class holds ``self.text_encoder`` (a frozen
    :func:`kgan.modalities.text.build_text_encoder` model) and a
    generator taking ``[latent, embedding]``. Subclasses set ``self.text_encoder`` in
    ``__init__`` and may override :meth:`synthesize` (e.g. multi-stage generators; it is
    the graph both ``generate`` and the SavedModel export run). Training batches are
    ``(images, captions)`` (a third element, labels, is ignored); :meth:`embed_batch` turns
    the caption strings into embeddings in ``train_step``.

    ``default_captions``: what ``generate`` uses when no text is given (cycled, like the
    labels of class-conditional models).
    """

    #: Captions cycled through when ``generate`` gets no ``text``.
    default_captions = ()
    #: ``kgan.export``: formats this model cannot be written to, with the reason.
    export_unsupported = {
        fmt: ("the text encoder's TextVectorization uses string ops (StringLower, "
              "StaticRegexReplace, StringSplitV2, RaggedTensorToTensor) that have no TFLite "
              "builtin kernels (the converter asks for TF Select ops). Export a SavedModel, "
              "which takes the caption strings, or run the generator on embeddings.")
        for fmt in ("tflite-none", "tflite-float16", "tflite-int8")
    }

    @property
    def embedding_dim(self):
        return int(self.text_encoder.output_shape[-1])

    def encode_text(self, texts):
        """Embeddings float32 ``(N, D)`` of a caption or list of captions (with warnings for
        empty / unknown captions)."""
        return encode_texts(self.text_encoder, texts)

    def embed_batch(self, captions):
        """Embeddings of a batch of caption strings inside ``train_step`` (no gradient)."""
        import tensorflow as tf

        captions = tf.reshape(captions, (-1,))
        return tf.stop_gradient(tf.cast(self.text_encoder(captions, training=False),
                                        self.compute_dtype))

    def generate(self, n=None, z=None, labels=None, seed=None, text=None, batch_size=256):
        """Samples images for captions.

        Args:
            n: number of images; defaults to ``len(z)``, ``len(text)`` or 64.
            z: latents ``(n, latent_dim)``; drawn from N(0, I) with ``seed`` when omitted.
            labels: not accepted: text models take ``text``.
            seed: seed for the latents.
            text: one caption for all images or a list of ``n`` captions; cycles through
                ``default_captions`` (one per class) when omitted.

        Returns:
            ``np.ndarray`` float32 in [-1, 1], ``(n, H, W, C)``.
        """
        z, texts = self.text_inputs(n, z, labels, seed, text)
        return self.generate_from_embeddings(z, self.encode_text(texts), batch_size)

    def text_inputs(self, n=None, z=None, labels=None, seed=None, text=None):
        """``generate``'s arguments checked and completed: ``(latents (n, latent_dim),
        list of n captions)``."""
        if labels is not None:
            raise ValueError(f"{self.name} is conditioned on text, not class labels: pass "
                             "text=['a dark ankle boot', ...] instead of labels.")
        count = n if n is not None else (len(z) if z is not None else None)
        if text is None or isinstance(text, (str, bytes)):
            count = 64 if count is None else count
            if int(count) != count or count < 1:
                raise ValueError(f"n must be a positive integer; received {count!r}.")
        if text is None:
            captions = self.default_captions
            text = [captions[i % len(captions)] for i in range(int(count))]
        texts = check_texts(text, count)
        return check_latents(z, len(texts), self.latent_dim, seed), texts

    @property
    def synthesis_networks(self):
        """The networks :meth:`synthesize` runs (what a SavedModel export must hold)."""
        return (self.generator,)

    def synthesize(self, z, embeddings):
        """The generator's output tensor for latents and embeddings (inference mode). The
        one place that knows how the generator is called: ``generate`` and the SavedModel
        export (``kgan.export``) both go through it, so multi-stage families override it."""
        return self.generator([z, embeddings], training=False)

    def generate_from_embeddings(self, z, embeddings, batch_size=256):
        """Images float32 [-1, 1] from latents and text embeddings (EMA weights if any)."""
        with self.inference_weights():
            batches = [
                keras.ops.convert_to_numpy(
                    self.synthesize(z[i:i + batch_size], embeddings[i:i + batch_size]))
                for i in range(0, len(z), batch_size)
            ]
        return np.clip(np.concatenate(batches).astype("float32"), -1.0, 1.0)

    def interpolate_text(self, text_a, text_b, steps=8, z=None, seed=0):
        """Images along the straight line between two captions' embeddings, one latent
        for all (Reed et al.'s interpolation figure): ``(steps, H, W, C)``."""
        if int(steps) != steps or steps < 2:
            raise ValueError(f"steps must be an integer >= 2; received {steps!r}.")
        ends = self.encode_text([check_texts(text_a)[0], check_texts(text_b)[0]])
        t = np.linspace(0.0, 1.0, int(steps), dtype="float32")[:, None]
        embeddings = (1 - t) * ends[0] + t * ends[1]
        z = check_latents(None if z is None else np.reshape(z, (1, -1)), None,
                          self.latent_dim, seed)[:1]
        return self.generate_from_embeddings(np.repeat(z, int(steps), 0), embeddings)
