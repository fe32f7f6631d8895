"""``fashion_captions``: Fashion-MNIST garments with short English captions, for text-to-image.

Every caption is composed from the image's real class name and from attributes **measured on
that image**, so a caption is true of its picture and a generated image can be checked
against its caption with the same measurements (:func:`measure_attributes`):

* ``tone``: ``dark`` / ``light``, the mean intensity of the garment's pixels (those above
  :data:`FOREGROUND` of full scale);
* ``size``: ``small`` / ``large``, the fraction of the 28x28 frame the garment covers;
* ``pattern``: ``plain`` / ``patterned``, the mean absolute 4-neighbour Laplacian inside the
  garment (prints, stripes, folds and logos give high values; flat fabric low ones).

Each attribute is split at its **per-class median on the training split**
(:data:`THRESHOLDS`), so within every class half the garments are dark and half light, and
the words carry information beyond the class name (a dark sandal is darker than most
sandals, not just darker than a coat).

Captions are filled into templates (:data:`TRAIN_TEMPLATES`), several phrasings per image,
some naming all attributes, some only one or none ("a dark ankle boot", "a bag"). Two
further templates (:data:`HELDOUT_TEMPLATES`) reorder the same words into phrasings no model
sees in training; the held-out captions of the **test** split are what text-to-image models
are evaluated on (``kgan.evaluation.text.evaluate``). Everything is built on the fly
from the local Fashion-MNIST IDX files, deterministically: nothing is downloaded or random.
"""

import functools
import re
from pathlib import Path

import numpy as np

from kgan.data.idx import IDX_FILES, default_roots, read_split

SOURCE = "fashion_mnist"
#: The project classifier that judges generated garments (``kgan.evaluation.classifiers``).
CLASSIFIER_DATASET = SOURCE
SPLITS = ("train", "test")
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
#: The class names captions use, in label order (punctuation-free as typed by a user; the
#: text encoder's standardisation also turns "t-shirt" into "tshirt").
CLASS_WORDS = ("t-shirt", "pair of trousers", "pullover", "dress", "coat", "sandal", "shirt",
               "sneaker", "bag", "ankle boot")
#: attribute -> (word for values below the class median, word for values above it).
ATTRIBUTES = {
    "tone": ("dark", "light"),
    "size": ("small", "large"),
    "pattern": ("plain", "patterned"),
}
#: Pixels above this fraction of full scale belong to the garment.
FOREGROUND = 0.1
#: Phrasings used for training; ``{cls}`` is the class name, the others attribute words.
TRAIN_TEMPLATES = (
    "a {tone} {cls}",
    "a {size} {tone} {cls}",
    "a {tone} {pattern} {cls}",
    "a {size} {cls} that is {tone} and {pattern}",
    "{cls}, {size}, {pattern}",
    "a {cls}",
)
#: Phrasings kept for evaluation: the same words in orders never seen in training.
HELDOUT_TEMPLATES = (
    "a {pattern} {cls} that is {size} and {tone}",
    "{cls}, {tone} and {size}",
)


def _articles(text):
    """"a" before a vowel becomes "an" ("an ankle boot")."""
    return re.sub(r"\ba (?=[aeiou])", "an ", text)


#: One caption per class, naming only the class: what text models generate by default.
CLASS_CAPTIONS = tuple(_articles(f"a {c}") for c in CLASS_WORDS)
#: The columns of a model card's sample grid (one row per class): each attribute word.
SAMPLE_TEMPLATES = ("a {cls}", "a dark {cls}", "a light {cls}", "a small {cls}",
                    "a large {cls}", "a plain {cls}", "a patterned {cls}",
                    "a small dark patterned {cls}")
#: Caption pairs of a model card's interpolation figure.
INTERPOLATIONS = (("a light t-shirt", "a dark t-shirt"), ("a small bag", "a large bag"),
                  ("a sneaker", "an ankle boot"), ("a light pullover", "a dark coat"),
                  ("a plain dress", "a patterned shirt"))


def sample_captions():
    """Captions of a model card's sample grid: row = class, column = :data:`SAMPLE_TEMPLATES`."""
    return [_articles(t.format(cls=c)) for c in CLASS_WORDS for t in SAMPLE_TEMPLATES]


def vocabulary():
    """Every word the training captions use, sorted: the text encoder's fixed vocabulary.

    Derived from the templates alone (no data needed), so tiny test models and the trained
    encoder agree on it. Words are standardised like ``keras.layers.TextVectorization``'s
    default (lower case, punctuation stripped).
    """
    words = set()
    fillers = {name: values[0] + " " + values[1] for name, values in ATTRIBUTES.items()}
    for template in TRAIN_TEMPLATES:
        for cls in CLASS_WORDS:
            words.update(standardize(_articles(template.format(cls=cls, **fillers))).split())
    return sorted(words)


def standardize(text):
    """Lower case without ASCII punctuation, as TextVectorization's default standardisation."""
    import string

    return text.lower().translate(str.maketrans("", "", string.punctuation))


def raw_measurements(images):
    """``{attribute: float32 (N,)}`` of uint8 images ``(N, 28, 28[, 1])``: mean garment
    intensity, covered fraction, mean absolute Laplacian inside the garment (see module doc)."""
    x = np.asarray(images, "float32")
    if x.ndim == 4:
        x = x[..., 0]
    if x.ndim != 3:
        raise ValueError(f"measure images of shape (N, H, W[, 1]); received {x.shape}.")
    x = x / 255.0
    fg = x > FOREGROUND
    count = np.maximum(fg.sum((1, 2)), 1)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
    laplacian = np.abs(4 * x - padded[:, :-2, 1:-1] - padded[:, 2:, 1:-1]
                       - padded[:, 1:-1, :-2] - padded[:, 1:-1, 2:])
    return {
        "tone": (x * fg).sum((1, 2)) / count,
        "size": fg.mean((1, 2)),
        "pattern": (laplacian * fg).sum((1, 2)) / count,
    }


#: Each measurement's per-class median on the train split (:func:`median_thresholds`),
#: pinned so that the test split and generated images need no pass over the train split.
THRESHOLDS = {
    "tone": (0.6392160654067993, 0.6953267455101013, 0.6559138298034668, 0.687845766544342,
             0.7244414687156677, 0.5168227553367615, 0.580750584602356, 0.584964394569397,
             0.6868922114372253, 0.7024396657943726),
    "size": (0.543367326259613, 0.3176020383834839, 0.6109693646430969, 0.39030611515045166,
             0.574617326259613, 0.2448979616165161, 0.5905612111091614, 0.28316327929496765,
             0.5369898080825806, 0.42984694242477417),
    "pattern": (0.26330262422561646, 0.40763059258461, 0.29074329137802124,
                0.33280670642852783, 0.2973458468914032, 0.5423994660377502,
                0.2858506739139557, 0.42568713426589966, 0.31676140427589417,
                0.34443405270576477),
}


def measure_attributes(images, labels):
    """``{attribute: int32 (N,)}``: 0 / 1 (the first / second word of :data:`ATTRIBUTES`) for
    uint8 images ``(N, 28, 28[, 1])`` of classes ``labels``, split at :data:`THRESHOLDS`."""
    labels = np.asarray(labels, "int64")
    return {name: (values > np.asarray(THRESHOLDS[name], "float32")[labels]).astype("int32")
            for name, values in raw_measurements(images).items()}


def median_thresholds(data_dir=None):
    """``{attribute: float32 (10,)}``: each measurement's per-class median on the train
    split, what :data:`THRESHOLDS` pins."""
    images, labels = _read("train", data_dir)
    raw = raw_measurements(images)
    return {name: np.array([np.median(values[labels == c]) for c in range(NUM_CLASSES)],
                           "float32") for name, values in raw.items()}


def captions_for(labels, attributes, templates):
    """``np.ndarray`` of str ``(N, len(templates))``: every template filled for each image."""
    names = list(ATTRIBUTES)
    # A caption depends only on (class, attribute values): fill each combination once.
    table = np.empty((NUM_CLASSES,) + (2,) * len(names) + (len(templates),), dtype=object)
    for index in np.ndindex(table.shape[:-1]):
        fill = {name: ATTRIBUTES[name][v] for name, v in zip(names, index[1:])}
        table[index] = [_articles(t.format(cls=CLASS_WORDS[index[0]], **fill))
                        for t in templates]
    index = (np.asarray(labels),) + tuple(np.asarray(attributes[name]) for name in names)
    return table[index].astype(str)


def _read(split, data_dir):
    if split not in SPLITS:
        raise ValueError(
            f"Unknown split {split!r} for fashion_captions; expected one of {', '.join(SPLITS)}.")
    roots = ([Path(data_dir)] if data_dir else []) + default_roots()
    folder = next((r / SOURCE for r in roots if all(
        (r / SOURCE / f).exists() for f in IDX_FILES[split])), None)
    if folder is not None:
        images, labels = read_split(folder, split)
    else:  # tensorflow_datasets, for users with a network (imports TensorFlow)
        from kgan.data.loading import load_arrays as load_raw

        images, labels = load_raw(SOURCE, split, data_dir)
    return images, np.asarray(labels, "int32")


@functools.lru_cache(maxsize=4)
def _arrays(split, data_dir):
    images, labels = _read(split, data_dir)
    attributes = measure_attributes(images, labels)
    return {
        "images": images,
        "labels": labels,
        "captions": captions_for(labels, attributes, TRAIN_TEMPLATES),
        "heldout_captions": captions_for(labels, attributes, HELDOUT_TEMPLATES),
        "attributes": attributes,
    }


def load_arrays(split="train", data_dir=None):
    """TensorFlow-free arrays of a split, as a dict:

    ``images`` uint8 ``(N, 28, 28, 1)``, ``labels`` int32 ``(N,)``, ``captions`` str
    ``(N, len(TRAIN_TEMPLATES))``, ``heldout_captions`` str ``(N, len(HELDOUT_TEMPLATES))``
    and ``attributes`` ``{name: int32 (N,)}`` (0 / 1 = first / second word of
    :data:`ATTRIBUTES`). The dict is cached: do not modify its arrays in place.
    """
    return _arrays(split, None if data_dir is None else str(data_dir))


def load(split="train", batch_size=128, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """Batches of ``(images float32 [-1, 1], captions tf.string)`` (plus int32 ``labels`` when
    asked), one of the image's training captions drawn at random per image and epoch; partial
    batches dropped."""
    import tensorflow as tf

    arrays = load_arrays(split, data_dir)
    images, captions, classes = arrays["images"], arrays["captions"], arrays["labels"]
    if not isinstance(batch_size, int) or not 1 <= batch_size <= len(images):
        raise ValueError(
            f"batch_size must be an integer in [1, {len(images)}]; received {batch_size!r}.")
    ds = tf.data.Dataset.from_tensor_slices((images, captions.astype(object), classes))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=True).enumerate()
    key = 0 if seed is None else int(seed)

    def prepare(step, batch):
        x, options, y = batch
        # Which caption each image gets: a pure function of (seed, batch index); the
        # shuffle changes the images at each index from epoch to epoch.
        choice = tf.random.stateless_uniform(
            (batch_size,), tf.stack([tf.constant(key, "int64"), step]), 0, options.shape[1],
            dtype="int32")
        caption = tf.gather(options, choice, batch_dims=1)
        x = tf.cast(x, "float32") / 127.5 - 1.0
        return (x, caption, y) if labels else (x, caption)

    return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
