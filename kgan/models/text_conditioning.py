"""The text-conditioning mixin of the text-to-image families and their model-card figures.

:class:`TextConditioned` gives a GAN ``text_encoder``, ``encode_text`` and
``generate(..., text=...)``; its training data are ``(images, captions)``. A training step
cannot see strings on Keras' JAX backend, so ``fit`` turns the captions into the frozen
encoder's word ids in the input pipeline (its TextVectorization, the only string ops), and
the step embeds the ids with the rest of the encoder, in ``keras.ops`` on both backends
(:func:`kgan.modalities.text.tokenize`, :func:`~kgan.modalities.text.token_encoder`).
:func:`card_figures` draws a text model's captioned samples and caption interpolations for
its zoo card. Families: :mod:`kgan.models.text2image`, :mod:`kgan.models.stackgan`.
"""

from functools import cached_property
from pathlib import Path

import keras
import numpy as np

from kgan.modalities.images import save_captioned_grid
from kgan.modalities.text import (check_texts, dataset_module, encode_texts, token_encoder,
                                  tokenize)
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
    the graph both ``generate`` and the SavedModel export run). ``fit`` takes a
    ``tf.data.Dataset`` of ``(images, captions)`` batches (a third element, labels, is
    passed on and ignored) or arrays ``fit(images, captions)``, and hands the step
    ``(images, word ids)``; :meth:`embed_batch` embeds the ids inside the step.

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
        return encode_texts(self.text_encoder, texts, embed=self.token_encoder)

    @cached_property
    def token_encoder(self):
        """The text encoder from word ids on (:func:`kgan.modalities.text.token_encoder`).
        Cached in the instance's ``__dict__``, outside Keras' tracking: its layers are
        ``text_encoder``'s, saved once under that name."""
        return token_encoder(self.text_encoder)

    def embed_batch(self, ids):
        """Embeddings of a batch of word ids inside the training step (no gradient)."""
        embeddings = self.token_encoder(keras.ops.cast(ids, "int32"), training=False)
        return keras.ops.stop_gradient(keras.ops.cast(embeddings, self.compute_dtype))

    def fit(self, x=None, y=None, *args, **kwargs):
        """``kgan.GAN.fit`` on ``(images, captions)``: a ``tf.data.Dataset`` of such batches
        or arrays ``fit(images, captions)``. The captions become word ids before the step
        (a ``tf.data`` map, or on the host for arrays), on every backend."""
        return super().fit(*self._tokenized(x, y), *args, **kwargs)

    def _tokenized(self, x, y):
        """``(x, y)`` with the caption strings replaced by the text encoder's word ids."""
        wanted = (f"{self.name} trains on (images, captions) batches with string captions "
                  "(e.g. kgan.data.load('fashion_captions')); received ")
        try:
            import tensorflow as tf
        except ImportError:
            tf = None
        if tf is not None and isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            if not isinstance(spec, tuple) or len(spec) < 2:
                raise ValueError(wanted + "no captions.")
            if spec[1].dtype != tf.string:
                raise ValueError(wanted + f"a second element of dtype {spec[1].dtype.name}.")
            vectorize = self.text_encoder.get_layer("vectorize")

            def ids(images, captions, *rest):
                captions = tf.reshape(captions, (-1,))
                return (images, tf.cast(vectorize(captions), "int32"), *rest)

            return x.map(ids, num_parallel_calls=tf.data.AUTOTUNE), y
        if x is not None and hasattr(x, "__len__"):
            if y is None:
                raise ValueError(wanted + "no captions.")
            captions = np.asarray(y)
            if captions.dtype.kind not in "OSU":
                raise ValueError(wanted + f"captions of dtype {captions.dtype.name}.")
            return x, tokenize(self.text_encoder, captions.reshape(-1))
        raise ValueError(wanted + f"{type(x).__name__} data; pass a tf.data.Dataset or arrays "
                         "(images, captions).")

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
