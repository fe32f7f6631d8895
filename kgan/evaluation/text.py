"""Text-to-image models scored on the held-out captions of a captioned data set: whether
each image shows the class and the attributes (tone, size, pattern) its caption asks for,
next to the image statistics of :mod:`kgan.evaluation.images` (FID, KID, precision /
recall, class KL) in the data set classifier's features.
"""

import numpy as np

from kgan.evaluation.classifiers import to_signed_unit
from kgan.evaluation.extractors import get_extractor
from kgan.evaluation.images import (PADDED_DATASETS, Cropped, check_n, dataset_info,
                                    feature_scores, real_features)
from kgan.evaluation.measures import label_accuracy


def evaluate(model, dataset_name="fashion_captions", split="test", n=10000, batch_size=250,
             seed=0, kid_subsets=100, kid_subset_size=1000, k=3):
    """Scores a text-to-image model on the held-out captions of a captioned data set.

    Image ``i`` of ``split`` gives the caption ``heldout_captions[i, i % K]`` (phrasings no
    model trains on, naming the class and the attributes measured on that real image); the
    model draws one image per caption (latents seeded by ``seed``). Models of a padded data
    set (``PADDED_DATASETS``, e.g. ``fashion_captions_32``) have the border cropped off and
    are scored on the base set; other images that are not the classifier's 28x28 are resized
    to it (area-averaged) first. Returns a dict with

    * ``class_accuracy``: how often the project's classifier (``CLASSIFIER_DATASET``) finds
      the caption's class in the image (chance 1 / classes); ``real_class_accuracy``: its
      accuracy on the real images the captions describe, the ceiling;
    * per attribute (``tone``, ``size``, ``pattern``): ``<attribute>_accuracy``, how often
      the attribute measured on the generated image (``measure_attributes``, split at the
      caption class's training median) is the word the caption asks for (chance 0.5; real
      images score 1 by construction), over the captions that name it, and
      ``<attribute>_gap``: mean measurement of images asked to be "light" / "large" /
      "patterned" minus that of "dark" / "small" / "plain" ones, with ``real_<attribute>_gap``
      the same on the real images (the data's own gap);
    * the image statistics of :func:`kgan.evaluation.images.evaluate` (``fid``,
      ``kid_mean``, ``precision``, ``recall``, ``class_kl``...) on the classifier's features
      against ``min(n, split size)`` real test images of the base data set, and ``n``.
    """
    from kgan.data.sets import module
    from kgan.modalities.text import caption_targets

    if dataset_name in PADDED_DATASETS:  # score the garment, not the added border
        base, pad = PADDED_DATASETS[dataset_name]
        return evaluate(Cropped(model, pad), base, split, n, batch_size, seed, kid_subsets,
                        kid_subset_size, k)
    n = check_n(n)
    data = module(dataset_name)
    if not hasattr(data, "HELDOUT_TEMPLATES"):
        raise ValueError(f"{dataset_name!r} has no captions; the text-to-image measures need "
                         "a captioned data set such as 'fashion_captions'.")
    arrays = data.load_arrays(split)
    if n > len(arrays["labels"]):
        raise ValueError(f"n={n} exceeds the {len(arrays['labels'])} images of {split}.")
    options = arrays["heldout_captions"][:n]
    captions = [str(row[i % options.shape[1]]) for i, row in enumerate(options)]
    labels = arrays["labels"][:n]
    images = np.asarray(model.generate(text=captions, seed=seed, batch_size=batch_size),
                        "float32")
    if images.shape[0] != n:
        raise ValueError(f"model.generate returned {images.shape[0]} images for {n} captions.")
    base = data.CLASSIFIER_DATASET
    view = _classifier_view(images, dataset_info(base)[0])
    ext = get_extractor("classifier", base)
    feats, probs = ext(view, batch_size)
    real = real_features(base, "test", n, ext, seed, batch_size)
    result = feature_scores(real, feats, probs, probs, labels, data.NUM_CLASSES, ext,
                            kid_subsets, kid_subset_size, k, seed)
    result.pop("label_accuracy")
    result["class_accuracy"] = label_accuracy(probs, labels)
    real_view = arrays["images"][:n]
    result["real_class_accuracy"] = label_accuracy(
        ext(to_signed_unit(real_view), batch_size)[1], labels)
    asked = caption_targets(captions, dataset_name)
    pixels = np.round((view + 1.0) * 127.5).astype("uint8")
    measured = data.measure_attributes(pixels, labels)
    raw = data.raw_measurements(pixels)
    real_raw = data.raw_measurements(real_view)
    for name in data.ATTRIBUTES:
        named = asked[name] < 2
        low, high = named & (asked[name] == 0), named & (asked[name] == 1)
        result[f"{name}_accuracy"] = float(np.mean(measured[name][named] == asked[name][named]))
        result[f"{name}_gap"] = float(raw[name][high].mean() - raw[name][low].mean())
        result[f"real_{name}_gap"] = float(real_raw[name][high].mean()
                                           - real_raw[name][low].mean())
    result.update(dataset=dataset_name, split=split, classifier=ext.id,
                  captions="heldout_captions[i, i % K]")
    return result


def _classifier_view(images, shape):
    """Images resized (area) to the classifier's ``(H, W, C)``, channels averaged if needed."""
    import tensorflow as tf

    if images.shape[-1] != shape[-1]:
        images = images.mean(axis=-1, keepdims=True)
    if tuple(images.shape[1:3]) != tuple(shape[:2]):
        images = tf.image.resize(images, shape[:2], method="area").numpy()
    return np.clip(images, -1.0, 1.0).astype("float32")
