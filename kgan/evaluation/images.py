"""Image generators scored against a data set's test split: FID, KID, Inception Score,
precision / recall, class KL and label accuracy (the measures: :mod:`kgan.evaluation.measures`).

:func:`evaluate` compares ``n`` generated samples with the data set's test split in the
features of an extractor (:mod:`kgan.evaluation.extractors`: kgan's own classifier by default,
or InceptionV3); real-data features and statistics are cached under ``$KGAN_HOME/stats/``
(default ``~/.keras/kgan/stats``), keyed by data set, split, size, seed, extractor and the
sha256 of its weights (:func:`real_features`). :func:`real_floor` scores real training images
against the test split the same way: the best any generator can be expected to do at that
``n``. :func:`feature_scores` turns features into the dict of numbers, for the text-to-image
measures too.

Example:
    >>> model = kgan.zoo.load("dcgan_mnist")
    >>> kgan.evaluation.images.evaluate(model, "mnist", n=10000)
    {'fid': ..., 'kid_mean': ..., 'precision': ..., 'extractor': 'classifier_mnist@...', ...}
"""

import numpy as np

from kgan.evaluation.classifiers import CLASSIFIERS, to_signed_unit
from kgan.evaluation.extractors import ClassifierExtractor, get_extractor
from kgan.evaluation.measures import (class_kl, feature_statistics, frechet_distance,
                                      inception_score, kid, label_accuracy, precision_recall)
from kgan.zoo import weights as zoo_weights

# =============================================================================== real data
#: Image data sets scored in the feature space of their own kgan classifier.
SCORED_DATASETS = ("mnist", "fashion_mnist", "cifar10")


def dataset_info(dataset):
    """``(image_shape, num_classes)`` of a scored data set; a ``ValueError`` for others."""
    if dataset not in SCORED_DATASETS:
        raise ValueError(
            f"Unknown data set {dataset!r} for metrics; expected one of "
            f"{', '.join(SCORED_DATASETS)}."
        )
    cfg = CLASSIFIERS[dataset]
    return tuple(cfg.image_shape), cfg.num_classes


def check_n(n, name="n"):
    """``n`` as an int, or a ``ValueError`` unless it is an integer >= 2."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(
            f"{name} must be an integer >= 2 (metrics need a covariance); received {n!r}.")
    return int(n)


def real_features(dataset, split="test", n=10000, extractor="classifier", seed=0,
                  batch_size=250):
    """Features of ``n`` real images of a split, cached on disk.

    Takes the whole split when ``n`` reaches its size, else a seeded random subset. The
    cache file ``$KGAN_HOME/stats/<dataset>_<split>_n<n>_s<seed>_<extractor>_<sha>.npz``
    holds ``features``, ``probabilities`` (empty without a classifier head), ``labels``,
    ``mu`` and ``sigma``; it is rebuilt when missing or unreadable.

    Returns:
        dict with those arrays.
    """
    from kgan import data

    dataset_info(dataset)
    n = check_n(n)
    ext = get_extractor(extractor, dataset)
    images, labels = data.load_arrays(dataset, split)
    n = min(n, len(images))
    fname = f"{dataset}_{split}_n{n}_s{seed}_{ext.name}_{ext.fingerprint[:16]}.npz"
    path = zoo_weights.cache_dir() / "stats" / fname
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as f:
                cached = {k: f[k] for k in f.files}
            if cached["features"].shape == (n, ext.feature_dim):
                return cached
        except (OSError, ValueError, KeyError, EOFError):
            pass  # corrupt or partial cache: recompute below
    if n < len(images):
        idx = np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))
        images, labels = images[idx], labels[idx]
    feats, probs = ext(to_signed_unit(images), batch_size)
    mu, sigma = feature_statistics(feats)
    if probs is None:  # head-less extractor
        probs = np.zeros((0, 0), "float32")
    out = dict(features=feats, probabilities=probs, labels=labels.astype("int32"), mu=mu,
               sigma=sigma)
    zoo_weights.save_npz_atomically(path, **out)  # concurrent evaluations read whole files
    return out


# =============================================================================== evaluate
def feature_scores(real, fake_feats, fake_probs, class_probs, requested, num_classes, ext,
                   kid_subsets, kid_subset_size, k, seed):
    """The dict of numbers :func:`evaluate` returns, from features already extracted.

    Args:
        real: :func:`real_features` of the reference split.
        fake_feats, fake_probs: the extractor's features and probabilities (None when it has
            no classifier head) of the generated images.
        class_probs: the data set classifier's probabilities of them (``class_kl`` and
            ``label_accuracy``).
        requested: the labels the images were generated for, or None.
        num_classes, ext: the data set's classes and the extractor (named in the result).
        kid_subsets, kid_subset_size, k, seed: as in :func:`evaluate`.
    """
    n, n_real = len(fake_feats), len(real["features"])
    kid_mean, kid_std = kid(real["features"], fake_feats, kid_subsets, kid_subset_size, seed)
    if min(n, n_real) > k:
        precision, recall = precision_recall(real["features"], fake_feats, k)
    else:  # too few samples for k-NN radii
        precision = recall = float("nan")
    result = dict(
        fid=frechet_distance(real["mu"], real["sigma"], *feature_statistics(fake_feats)),
        kid_mean=kid_mean,
        kid_std=kid_std,
        inception_score=float("nan"),
        inception_score_std=float("nan"),
        precision=precision,
        recall=recall,
        class_kl=class_kl(class_probs, num_classes),
    )
    if fake_probs is not None:
        result["inception_score"], result["inception_score_std"] = inception_score(fake_probs)
    if requested is not None:
        result["label_accuracy"] = label_accuracy(class_probs, requested)
    result.update(extractor=ext.id, n=int(n), n_real=int(n_real))
    return result


def _class_probabilities(ext, probs, images, dataset, batch_size):
    """Data-set classifier probabilities (reused when the extractor is that classifier)."""
    if isinstance(ext, ClassifierExtractor) and ext.dataset == dataset:
        return probs, ext.id
    clf = get_extractor("classifier", dataset)
    return clf(images, batch_size)[1], clf.id


def evaluate(model, dataset_name, n=10000, extractor="classifier", batch_size=250, seed=0,
             kid_subsets=100, kid_subset_size=1000, k=3):
    """Scores an image generator against the test split of ``dataset_name``.

    Generates ``n`` samples with ``model.generate`` (conditional models: labels cycle through
    the classes, so each class gets ``n / K`` samples), extracts features and compares them with
    ``min(n, test size)`` real test images (features cached, see :func:`real_features`).

    Args:
        model: a ``kgan.GAN`` (anything with ``generate``, ``image_shape``, ``num_classes``).
        dataset_name: ``"mnist"`` or ``"fashion_mnist"``.
        n: generated samples (default 10,000; >= 2; FID needs thousands to be meaningful
            and is only comparable at equal ``n``).
        extractor: ``"classifier"`` (default), ``"inception"`` or a :class:`FeatureExtractor`.
        batch_size: generation and feature-extraction batch size.
        seed: seeds the latents, the real subset and KID's subsets.
        kid_subsets, kid_subset_size: KID's averaging (Bińkowski et al. use 100 x 1000).
        k: neighbourhood size of precision/recall.

    Returns:
        dict: ``fid``, ``kid_mean``, ``kid_std``, ``inception_score`` (and ``_std``; NaN with a
        head-less extractor), ``precision``, ``recall`` (NaN when ``n <= k``), ``class_kl``,
        ``label_accuracy`` (conditional models only), ``extractor`` (``name@sha``, for FID /
        KID / IS / precision / recall), ``classifier`` (the data set classifier behind
        ``class_kl`` and ``label_accuracy``), ``n`` and ``n_real``.

    Raises:
        ValueError: unknown data set, ``n < 2``, a model whose image shape or number of
            classes does not match the data set, or an unknown extractor.
    """
    dataset_name = SUBSET_OF.get(dataset_name, dataset_name)
    if dataset_name in PADDED_DATASETS:  # score the garment, not the added border
        base, pad = PADDED_DATASETS[dataset_name]
        return evaluate(Cropped(model, pad), base, n, extractor, batch_size, seed,
                        kid_subsets, kid_subset_size, k)
    image_shape, num_classes = dataset_info(dataset_name)
    n = check_n(n)
    if not callable(getattr(model, "generate", None)):
        raise ValueError(
            f"evaluate() needs a kgan.GAN (with .generate); received {type(model).__name__}.")
    model_shape = tuple(getattr(model, "image_shape", ()))
    if model_shape != image_shape:
        raise ValueError(
            f"{getattr(model, 'name', 'The model')} generates images of shape {model_shape}, but "
            f"{dataset_name} images are {image_shape}: evaluate it on a data set of its shape."
        )
    model_classes = int(getattr(model, "num_classes", 0) or 0)
    if model_classes and model_classes != num_classes:
        raise ValueError(
            f"{model.name} is conditional on {model_classes} classes but {dataset_name} has "
            f"{num_classes}: its labels cannot be checked against this data set's classifier."
        )
    ext = get_extractor(extractor, dataset_name)
    real = real_features(dataset_name, "test", n, ext, seed, batch_size)
    requested = (np.arange(n) % model_classes).astype("int32") if model_classes else None
    # Only the public generate(n, labels=, seed=) contract: families batch internally.
    images = (model.generate(n, labels=requested, seed=seed) if requested is not None
              else model.generate(n, seed=seed))
    images = np.asarray(images, dtype="float32")
    if images.shape != (n, *image_shape):
        raise ValueError(
            f"model.generate returned shape {images.shape}; expected {(n, *image_shape)}.")
    feats, probs = ext(images, batch_size)
    class_probs, clf_id = _class_probabilities(ext, probs, images, dataset_name, batch_size)
    result = feature_scores(real, feats, probs, class_probs, requested, num_classes, ext,
                            kid_subsets, kid_subset_size, k, seed)
    result["classifier"] = clf_id
    return result


#: Data sets that are another one padded with a border (name -> (base data set, pixels per
#: side)): models trained on them are scored on the base data set's protocol with the border
#: cropped off their samples, so their figures compare with the base set's models.
PADDED_DATASETS = {"fashion_mnist_32": ("fashion_mnist", 2),
                   "fashion_captions_32": ("fashion_captions", 2)}
#: Training subsets scored against their whole data set's test split.
SUBSET_OF = {"cifar10_10pct": "cifar10"}


class Cropped:
    """A model's ``generate`` with ``pad`` pixels cropped from each side of its samples."""

    def __init__(self, model, pad):
        self.model, self.pad = model, pad
        self.name = getattr(model, "name", "model")
        self.num_classes = getattr(model, "num_classes", 0)
        h, w, c = model.image_shape
        self.image_shape = (h - 2 * pad, w - 2 * pad, c)

    def generate(self, *args, **kwargs):
        p = self.pad
        return self.model.generate(*args, **kwargs)[:, p:-p, p:-p, :]


def real_floor(dataset_name, n=10000, extractor="classifier", batch_size=250, seed=0,
               kid_subsets=100, kid_subset_size=1000, k=3):
    """The same scores for ``n`` real *training* images against the test split.

    What a perfect generator would get at this ``n``: FID's small-sample bias floor (it is
    not 0), KID ~ 0, precision/recall near 1, the data's own Inception Score and class
    balance, and (as ``label_accuracy``) the classifier's accuracy on those training images.
    Model cards print it next to the model's numbers. Both sides are cached.

    Returns:
        the dict :func:`evaluate` returns, for real data.
    """
    dataset_name = SUBSET_OF.get(dataset_name, dataset_name)
    dataset_name = PADDED_DATASETS.get(dataset_name, (dataset_name,))[0]
    _, num_classes = dataset_info(dataset_name)
    n = check_n(n)
    ext = get_extractor(extractor, dataset_name)
    real = real_features(dataset_name, "test", n, ext, seed, batch_size)
    train = real_features(dataset_name, "train", n, ext, seed, batch_size)
    probs = train["probabilities"] if train["probabilities"].size else None
    if isinstance(ext, ClassifierExtractor) and ext.dataset == dataset_name:
        class_probs, clf_id = probs, ext.id
    else:
        clf_train = real_features(dataset_name, "train", n, "classifier", seed, batch_size)
        class_probs = clf_train["probabilities"]
        clf_id = get_extractor("classifier", dataset_name).id
    result = feature_scores(real, train["features"], probs, class_probs, train["labels"],
                            num_classes, ext, kid_subsets, kid_subset_size, k, seed)
    result["classifier"] = clf_id
    return result

