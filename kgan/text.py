"""Text conditioning: a small sentence encoder and the mixin text-to-image GANs build on.

Text-to-image GANs (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis";
StackGAN, Zhang et al. 2017) condition on a fixed **sentence embedding** from a separately
trained text encoder. kgan's encoder (:func:`build_text_encoder`) is a Keras model from a
batch of strings to L2-normalised float32 embeddings, with ``keras.layers.TextVectorization``
(and its fixed vocabulary) inside, so a saved or exported model takes raw strings:

    strings -> TextVectorization (word ids) -> Embedding -> mean over the words
            -> Dense + ReLU -> Dense -> L2 normalisation

A mean of word vectors is enough for captions built from a class name and attribute words,
and it is cheap. The encoder of ``fashion_captions`` is trained by
``tools/train_text_encoder.py`` (:func:`train_text_encoder`) to predict each caption's class
and attribute words from the embedding, then frozen and published in
``zoo/text_encoder_fashion/``; :func:`load_text_encoder` returns it.

:class:`TextConditioned` gives a GAN ``text_encoder``, ``encode_text`` and
``generate(..., text=...)``; its training batches are ``(images, captions)`` and its
``train_step`` embeds the caption strings with the frozen encoder.
"""

import json
import string
import time
import warnings

import keras
import numpy as np
from keras import layers

from kgan._validation import check_latents
from kgan.zoo import _weights

#: Published text encoders: data set -> zoo folder, weights file, sha256, builder arguments.
TEXT_ENCODERS = {
    "fashion_captions": dict(
        entry="text_encoder_fashion", weights="text_encoder.weights.h5",
        sha256="460ef6f3214045a82544b875c0bbc0bbc8b9ca38a5f3cc0075eda79b96efcc26",
        kwargs=dict(embed_dim=128, word_dim=64, sequence_length=16),
        recipe=dict(epochs=100, batch_size=32, learning_rate=2e-3, seed=0)),
}


def dataset_module(dataset):
    """The ``kgan.datasets`` module of a captioned data set, or a ValueError naming them."""
    if dataset not in TEXT_ENCODERS:
        raise ValueError(f"No text encoder for data set {dataset!r}; captioned data sets: "
                         f"{', '.join(TEXT_ENCODERS)}.")
    from kgan.datasets import module

    return module(dataset)


@keras.saving.register_keras_serializable(package="kgan")
class MaskedMean(layers.Layer):
    """Mean of word vectors ``(B, T, D)`` over the known words of ids ``(B, T)``: id 0
    (padding) and id 1 (TextVectorization's out-of-vocabulary ``[UNK]``) are left out, so an
    unknown word changes nothing. A caption without known words gives zeros, not 0 / 0."""

    def call(self, vectors, ids):
        mask = keras.ops.cast(keras.ops.greater(ids, 1), vectors.dtype)[..., None]
        total = keras.ops.sum(vectors * mask, axis=1)
        return total / keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)

    def compute_output_shape(self, vectors_shape, ids_shape):
        return (vectors_shape[0], vectors_shape[2])


def build_text_encoder(vocabulary, embed_dim=128, word_dim=64, sequence_length=16,
                       name="text_encoder"):
    """A sentence encoder: string tensor ``(N,)`` -> float32 ``(N, embed_dim)``, unit norm.

    Args:
        vocabulary: list of words (TextVectorization's default standardisation: lower case,
            no punctuation). Fixed here, so ``get_config`` round-trips without adapting.
        embed_dim: size of the sentence embedding.
        word_dim: size of the word vectors.
        sequence_length: words read per caption (longer captions are cut).
    """
    text = keras.Input((), dtype="string", name="text")
    ids = layers.TextVectorization(vocabulary=list(vocabulary), output_mode="int",
                                   output_sequence_length=sequence_length,
                                   name="vectorize")(text)
    words = layers.Embedding(len(vocabulary) + 2, word_dim, name="word_embedding")(ids)
    x = MaskedMean(name="mean")(words, ids)
    x = layers.Dense(2 * embed_dim, activation="relu", name="hidden")(x)
    x = layers.Dense(embed_dim, name="project")(x)
    out = layers.UnitNormalization(name="embedding", dtype="float32")(x)
    return keras.Model(text, out, name=name)


def encoder_vocabulary(encoder):
    """The words (without padding and ``[UNK]``) of an encoder's TextVectorization."""
    return [w for w in encoder.get_layer("vectorize").get_vocabulary()[2:]]


def unknown_captions(encoder, texts):
    """The captions in ``texts`` that have no word of the encoder's vocabulary (empty ones
    included): they get an embedding that says nothing about the garment."""
    ids = keras.ops.convert_to_numpy(encoder.get_layer("vectorize")(np.asarray(texts, object)))
    return [t for t, row in zip(texts, ids) if not np.any(row > 1)]


def unknown_words(encoder, texts):
    """Words of ``texts`` outside the encoder's vocabulary (the encoder ignores them), in
    order of appearance, standardised like TextVectorization's default."""
    known = set(encoder_vocabulary(encoder))
    strip = str.maketrans("", "", string.punctuation)
    words = (w for t in texts for w in t.lower().translate(strip).split())
    return list(dict.fromkeys(w for w in words if w not in known))


def check_texts(text, n=None):
    """Returns captions as a list of ``n`` str: ``text`` is one string (repeated ``n`` times,
    once when ``n`` is None) or a sequence of strings (its length must be ``n`` if given)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if isinstance(text, str):
        return [text] * (1 if n is None else int(n))
    if isinstance(text, np.ndarray) and text.ndim != 1:
        raise ValueError(f"text must be a string or a 1-D list of strings; received an array "
                         f"of shape {text.shape}.")
    if not isinstance(text, (list, tuple, np.ndarray)):
        raise TypeError(f"text must be a string or a list of strings; received "
                        f"{type(text).__name__}.")
    texts = [t.decode("utf-8") if isinstance(t, bytes) else t for t in text]
    bad = [t for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(f"text must hold strings only; received {type(bad[0]).__name__} "
                        f"{bad[0]!r}.")
    if not texts:
        raise ValueError("text is an empty list: give at least one caption.")
    if n is not None and len(texts) != n:
        raise ValueError(f"Got {len(texts)} captions for n={n} samples; give one caption per "
                         "sample or a single string for all.")
    return texts


#: Words users type for the garments, and the encoders' words for them. Only words an encoder
#: does not know are rewritten, and only into words it knows (see :func:`known_words`).
SYNONYMS = {
    "pants": "trousers", "jeans": "trousers", "slacks": "trousers", "tee": "tshirt",
    "tees": "tshirt", "sweater": "pullover", "jumper": "pullover", "jacket": "coat",
    "gown": "dress", "trainer": "sneaker", "trainers": "sneaker", "handbag": "bag",
    "purse": "bag", "boots": "boot",
}


def known_words(text, vocabulary):
    """``text`` with each word the vocabulary lacks replaced by one it has: a synonym from
    :data:`SYNONYMS`, else the word's singular or plural ("a trouser" -> "a trousers",
    "sneakers" -> "sneaker"); words with no such form are kept (and then ignored, with a
    warning, by the encoder). Standardised like TextVectorization's default."""
    vocabulary = set(vocabulary)
    strip = str.maketrans("", "", string.punctuation)

    def known(word):
        candidates = (SYNONYMS.get(word), word[:-2] if word.endswith("es") else None,
                      word[:-1] if word.endswith("s") else None, word + "s")
        return next((c for c in candidates if c in vocabulary), word)

    return " ".join(w if w in vocabulary else known(w)
                    for w in text.lower().translate(strip).split())


def encode_texts(encoder, texts, batch_size=1024):
    """Embeddings float32 ``(N, D)`` of a list of captions; warns (``UserWarning``) about
    captions that are empty or have no known word, which still get a (content-free)
    embedding, and about unknown words, which are ignored. Plurals, singulars and common
    synonyms of known words are understood (:func:`known_words`)."""
    vocabulary = encoder_vocabulary(encoder)
    texts = [known_words(t, vocabulary) for t in check_texts(texts)]
    unknown = unknown_captions(encoder, texts)
    if unknown:
        shown = ", ".join(repr(t) for t in sorted(set(unknown))[:5])
        warnings.warn(
            f"{len(unknown)} caption(s) are empty or have no word the text encoder knows "
            f"({shown}); their images follow no description. Known words: "
            f"{', '.join(encoder_vocabulary(encoder))}.", UserWarning, stacklevel=3)
    ignored = unknown_words(encoder, [t for t in texts if t not in set(unknown)])
    if ignored:
        warnings.warn(
            f"The text encoder does not know the word(s) {', '.join(map(repr, ignored[:10]))} "
            f"and ignores them. Known words: {', '.join(encoder_vocabulary(encoder))}.",
            UserWarning, stacklevel=3)
    strings = np.asarray(texts, object)
    return np.concatenate([
        keras.ops.convert_to_numpy(encoder(strings[i:i + batch_size], training=False))
        for i in range(0, len(strings), batch_size)
    ]).astype("float32")


def load_text_encoder(dataset="fashion_captions", weights_path=None):
    """The trained, frozen text encoder of a captioned data set (``zoo/<entry>/``).

    Raises:
        ValueError: no encoder for ``dataset``, or none published yet.
        FileNotFoundError: the weights file is missing.
    """
    dataset_module(dataset)  # raises for data sets without captions
    spec = TEXT_ENCODERS[dataset]
    if weights_path is None:
        if not spec["sha256"]:
            raise ValueError(
                f"The {dataset} text encoder has no published weights yet: train them with "
                "`python tools/train_text_encoder.py` and pin the sha256 in "
                "kgan.text.TEXT_ENCODERS.")
        weights_path = _weights.zoo_dir() / spec["entry"] / spec["weights"]
        if not weights_path.exists():
            raise FileNotFoundError(
                f"Text encoder weights {weights_path} are missing; set KGAN_ZOO_DIR to the "
                f"folder holding {spec['entry']}/ or restore zoo/ from git.")
        _weights.verify(weights_path, spec["sha256"])
    encoder = build_text_encoder(dataset_module(dataset).vocabulary(), **spec["kwargs"])
    _weights.load_into(encoder, weights_path)
    encoder.trainable = False
    return encoder


# ------------------------------------------------------------------ training the encoder
def caption_targets(captions, dataset="fashion_captions"):
    """Targets read from the words of each caption: ``class`` int32 ``(N,)`` and, per
    attribute, int32 ``(N,)`` with 0 / 1 for its two words and 2 when not mentioned."""
    module = dataset_module(dataset)
    targets = {"class": [], **{a: [] for a in module.ATTRIBUTES}}
    names = [module.standardize(c) for c in module.CLASS_WORDS]
    for caption in captions:
        words = module.standardize(str(caption)).split()
        joined = " " + " ".join(words) + " "
        # Longest class name first: "tshirt" is not "shirt".
        found = [i for i in sorted(range(len(names)), key=lambda i: -len(names[i]))
                 if f" {names[i]} " in joined]
        targets["class"].append(found[0] if found else -1)
        for attribute, values in module.ATTRIBUTES.items():
            value = next((k for k, v in enumerate(values) if v in words), 2)
            targets[attribute].append(value)
    return {k: np.asarray(v, "int32") for k, v in targets.items()}


def _heads(encoder, attributes, num_classes):
    embedding = encoder.output
    outputs = {"class": layers.Dense(num_classes, name="class")(embedding)}
    for attribute in attributes:
        outputs[attribute] = layers.Dense(3, name=attribute)(embedding)
    return keras.Model(encoder.input, outputs, name="text_encoder_trainer")


def train_text_encoder(dataset="fashion_captions", epochs=100, batch_size=32,
                       learning_rate=2e-3, seed=0, data_dir=None):
    """Trains a text encoder on caption -> class and caption -> attribute-word prediction.

    Linear heads on the embedding predict the class and, per attribute, which of its two
    words the caption uses (or that it names none), so the embedding must separate every
    class and attribute word; the heads are dropped afterwards. The training captions are
    the distinct training-template captions of the train split; the report's accuracies are measured on the distinct held-out-template captions of the
    test split (phrasings the encoder never saw). Returns ``(encoder, report)``, the
    encoder frozen.
    """
    module = dataset_module(dataset)
    keras.utils.set_random_seed(seed)
    start = time.time()
    train = np.unique(module.load_arrays("train", data_dir)["captions"])
    heldout = np.unique(module.load_arrays("test", data_dir)["heldout_captions"])
    encoder = build_text_encoder(module.vocabulary(), **TEXT_ENCODERS[dataset]["kwargs"])
    trainer = _heads(encoder, module.ATTRIBUTES, module.NUM_CLASSES)
    trainer.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={k: keras.losses.SparseCategoricalCrossentropy(from_logits=True)
              for k in trainer.output},
        metrics={k: ["accuracy"] for k in trainer.output})
    y = caption_targets(train, dataset)
    trainer.fit(train.astype(object), y, epochs=epochs, batch_size=batch_size, shuffle=True,
                verbose=0)
    report = {"train_captions": len(train), "heldout_captions": len(heldout),
              "wall_seconds": round(time.time() - start, 1),
              "recipe": dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                             seed=seed),
              "train": text_encoder_accuracy(trainer, train, dataset),
              "heldout": text_encoder_accuracy(trainer, heldout, dataset)}
    encoder.trainable = False
    return encoder, report


def text_encoder_accuracy(trainer, captions, dataset="fashion_captions"):
    """Class accuracy and, per attribute, accuracy on the captions that mention it."""
    y = caption_targets(captions, dataset)
    predicted = trainer.predict(np.asarray(captions, object), verbose=0)
    scores = {"class_accuracy": float(np.mean(predicted["class"].argmax(-1) == y["class"]))}
    for attribute in dataset_module(dataset).ATTRIBUTES:
        mentioned = y[attribute] < 2
        scores[f"{attribute}_accuracy"] = float(np.mean(
            predicted[attribute].argmax(-1)[mentioned] == y[attribute][mentioned]))
    return scores


def publish_text_encoder(encoder, report, dataset="fashion_captions"):
    """Writes ``zoo/<entry>/`` (weights + ``card.json``) and returns the card."""
    from kgan.zoo.hardware import hardware

    spec = TEXT_ENCODERS[dataset]
    folder = _weights.zoo_dir() / spec["entry"]
    folder.mkdir(parents=True, exist_ok=True)
    path = _weights.save_atomically(encoder, folder / spec["weights"])
    similarity_figure(encoder, dataset, folder / "similarity.png")
    card = {
        "name": spec["entry"],
        "dataset": dataset,
        "architecture": "TextVectorization -> word embedding -> masked mean -> MLP -> L2 norm",
        "builder": "kgan.text.build_text_encoder",
        "kwargs": spec["kwargs"],
        "vocabulary_size": len(dataset_module(dataset).vocabulary()),
        "objective": "predict the caption's class and attribute words from the embedding",
        "weights": path.name,
        "sha256": _weights.sha256_of(path),
        "size_bytes": path.stat().st_size,
        **report,
        "hardware": hardware(),
        "figure": "similarity.png: cosine similarity of the embeddings of the sample-grid "
                  "captions (rows and columns in the same order, white = 1, black <= 0)",
    }
    (folder / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def similarity_figure(encoder, dataset, path, scale=6):
    """The encoder card's picture: cosine similarities between the embeddings of the data
    set's ``sample_captions()`` (one block per class along the diagonal when the encoder
    separates classes), as a grey PNG."""
    from PIL import Image

    embeddings = encode_texts(encoder, dataset_module(dataset).sample_captions())
    similarity = np.clip(embeddings @ embeddings.T, 0.0, 1.0)  # unit vectors: cosines
    pixels = np.kron((similarity * 255).round().astype("uint8"),
                     np.ones((scale, scale), "uint8"))
    Image.fromarray(pixels, "L").save(path)
    return path


# ------------------------------------------------------------------ model card figures
#: Seed of the latents of the card figures.
FIGURE_SEED = 2024


def caption_samples(model, dataset, path):
    """A model card's ``samples.png``: the data set's ``sample_captions()`` (one row per
    class, one attribute per column), each image with its caption printed under it."""
    from kgan.images import save_captioned_grid

    data = dataset_module(dataset)
    captions = data.sample_captions()
    images = model.generate(text=captions, seed=FIGURE_SEED)
    return save_captioned_grid(path, images, captions, cols=len(data.SAMPLE_TEMPLATES))


def interpolation_figure(model, dataset, path, steps=8):
    """``interpolation.png``: one row per caption pair of the data set's
    ``INTERPOLATIONS``, walking between their embeddings with one latent per row."""
    from kgan.images import save_captioned_grid

    rows, labels = [], []
    for i, (a, b) in enumerate(dataset_module(dataset).INTERPOLATIONS):
        z = np.random.default_rng(FIGURE_SEED + i).standard_normal(model.latent_dim)
        rows.append(model.interpolate_text(a, b, steps, z=z.astype("float32")))
        labels += [a] + [f"{k / (steps - 1):.2f}" for k in range(1, steps - 1)] + [b]
    return save_captioned_grid(path, np.concatenate(rows), labels, cols=steps)


def card_figures(model, dataset, folder):
    """Writes the captioned ``samples.png`` and ``interpolation.png`` into ``folder``."""
    from pathlib import Path

    caption_samples(model, dataset, Path(folder) / "samples.png")
    interpolation_figure(model, dataset, Path(folder) / "interpolation.png")
    return {"interpolation": "interpolation.png"}


# ------------------------------------------------------------------ the GAN mixin
class TextConditioned:
    """Mixin for ``kgan.GAN`` subclasses conditioned on a caption (put it first in the bases).

    The class holds ``self.text_encoder`` (a frozen :func:`build_text_encoder` model) and a
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
