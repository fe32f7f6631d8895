"""Text for text-to-image GANs: captions, vocabularies and the sentence encoder.

Text-to-image GANs (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis";
StackGAN, Zhang et al. 2017) condition on a fixed **sentence embedding** from a separately
trained text encoder. kgan's encoder (:func:`build_text_encoder`) is a Keras model from a
batch of strings to L2-normalised float32 embeddings, with ``keras.layers.TextVectorization``
(and its fixed vocabulary) inside, so a saved or exported model takes raw strings:

    strings -> TextVectorization (word ids) -> Embedding -> mean over the words
            -> Dense + ReLU -> Dense -> L2 normalisation

A mean of word vectors is enough for captions built from a class name and attribute words,
and it is cheap. Only the first step, TextVectorization, is made of string ops (TensorFlow):
:func:`tokenize` runs it on the host or in a ``tf.data`` pipeline, and :func:`token_encoder`
is the rest of the encoder (word ids -> embeddings), plain Keras layers that run on any
backend and inside a training step. The encoder of ``fashion_captions`` is trained by
``tools/train_text_encoder.py`` (:mod:`kgan.recipes.text_encoder`) to predict each caption's
class and attribute words (:func:`caption_targets`) from the embedding, then frozen and
published in ``zoo/text_encoder_fashion/``; :func:`load_text_encoder` returns it.
:func:`encode_texts` embeds captions, understanding plurals and common synonyms
(:func:`known_words`) and warning about words the encoder ignores. The GAN side is
:class:`kgan.models.text_conditioning.TextConditioned`.
"""

import string
import warnings

import keras
import numpy as np
from keras import layers

from kgan.layers import MaskedMean
from kgan.zoo import weights as zoo_weights

#: Published text encoders: data set -> zoo folder, weights file, sha256, builder arguments.
TEXT_ENCODERS = {
    "fashion_captions": dict(
        entry="text_encoder_fashion", weights="text_encoder.weights.h5",
        sha256="460ef6f3214045a82544b875c0bbc0bbc8b9ca38a5f3cc0075eda79b96efcc26",
        kwargs=dict(embed_dim=128, word_dim=64, sequence_length=16),
        recipe=dict(epochs=100, batch_size=32, learning_rate=2e-3, seed=0)),
}


def dataset_module(dataset):
    """The ``kgan.data.sets`` module of a captioned data set, or a ValueError naming them."""
    if dataset not in TEXT_ENCODERS:
        raise ValueError(f"No text encoder for data set {dataset!r}; captioned data sets: "
                         f"{', '.join(TEXT_ENCODERS)}.")
    from kgan.data.sets import module

    return module(dataset)


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
    ids = tokenize(encoder, texts)
    return [t for t, row in zip(texts, ids) if not np.any(row > 1)]


def unknown_words(encoder, texts):
    """Words of ``texts`` outside the encoder's vocabulary (the encoder ignores them), in
    order of appearance, standardised like TextVectorization's default."""
    known = set(encoder_vocabulary(encoder))
    strip = str.maketrans("", "", string.punctuation)
    words = (w for t in texts for w in t.lower().translate(strip).split())
    return list(dict.fromkeys(w for w in words if w not in known))


def tokenize(encoder, texts):
    """Word ids int32 ``(N, sequence_length)`` (numpy) of caption strings: the encoder's
    TextVectorization, as the encoder itself would run it."""
    vectorize = encoder.get_layer("vectorize")
    return keras.ops.convert_to_numpy(vectorize(np.asarray(texts, object))).astype("int32")


def freeze(encoder):
    """Makes ``encoder`` a frozen part of a GAN: not trainable, and its TextVectorization's
    StringLookup marked built. Keras' TextVectorization runs that lookup without calling it,
    which leaves the (weightless) layer unbuilt, and Keras' JAX trainer then tries to build
    the whole GAN from a batch before ``fit`` (``build`` is Keras' own: it is what loading a
    saved lookup runs)."""
    encoder.trainable = False
    encoder.get_layer("vectorize")._lookup_layer.build(None)
    return encoder


def token_encoder(encoder):
    """The encoder after its TextVectorization: word ids ``(N, sequence_length)`` ->
    embeddings ``(N, D)``, sharing the encoder's layers and weights (the part of it that
    runs on every Keras backend)."""
    return keras.Model(encoder.get_layer("vectorize").output, encoder.output,
                       name=f"{encoder.name}_tokens")


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


def encode_texts(encoder, texts, batch_size=1024, embed=None):
    """Embeddings float32 ``(N, D)`` of a list of captions; warns (``UserWarning``) about
    captions that are empty or have no known word, which still get a (content-free)
    embedding, and about unknown words, which are ignored. Plurals, singulars and common
    synonyms of known words are understood (:func:`known_words`). ``embed``: the
    encoder's :func:`token_encoder` when the caller keeps one (built here otherwise)."""
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
    embed = embed or token_encoder(encoder)
    return np.concatenate([
        keras.ops.convert_to_numpy(embed(tokenize(encoder, texts[i:i + batch_size]),
                                         training=False))
        for i in range(0, len(texts), batch_size)
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
                "kgan.modalities.text.TEXT_ENCODERS.")
        weights_path = zoo_weights.zoo_dir() / spec["entry"] / spec["weights"]
        if not weights_path.exists():
            raise FileNotFoundError(
                f"Text encoder weights {weights_path} are missing; set KGAN_ZOO_DIR to the "
                f"folder holding {spec['entry']}/ or restore zoo/ from git.")
        zoo_weights.verify(weights_path, spec["sha256"])
    encoder = build_text_encoder(dataset_module(dataset).vocabulary(), **spec["kwargs"])
    zoo_weights.load_into(encoder, weights_path)
    return freeze(encoder)


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
