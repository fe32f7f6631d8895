"""Sample-quality metrics for voxel generators (3D-GAN) on shapes3d_32.

The image measures (:mod:`kgan.evaluation.measures`), carried over to 32^3 occupancy grids
in the feature space of the project's voxel classifier (:mod:`kgan.evaluation.classifiers`,
``classifier_shapes3d_32``: a small 3-D CNN trained on the shapes3d_32 train split):

* **Class histogram** of the generated shapes under the classifier and its KL divergence to
  the uniform distribution (the data set is balanced, so a generator that covers every class
  evenly scores 0; a collapsed one up to log 6 = 1.79 nats).
* **Fréchet distance** between Gaussians fitted to the classifier's 128-d features of the
  generated grids and of the test grids (an FID analogue), next to the same figure for real
  training grids against the test grids (the floor a perfect generator reaches with as many
  samples).
* **Nearest-neighbour IoU** (intersection over union of the solid voxels) from each
  generated grid to its closest training grid, next to the same figure for the held-out
  test grids: generated shapes much closer to training shapes than unseen real shapes are
  (IoU near 1) are copies, a memorisation check.

:func:`score_voxels` scores any grids; :func:`real_reference` gives the test grids' own
figures; :func:`evaluate` samples a model and returns both.
"""

import numpy as np

from kgan.evaluation import classifiers, measures
from kgan.modalities.voxels import THRESHOLD, check_voxels

DATASET = "shapes3d_32"
SIZE = 32


def voxel_features(voxels, model=None, batch_size=100):
    """``(features (n, 128), probabilities (n, 6))`` of ``(n, 32, 32, 32[, 1])`` grids.

    Args:
        voxels: occupancy in [0, 1] (bool or float).
        model: a shapes3d_32 classifier; defaults to the published, sha256-verified one.
    """
    voxels = check_voxels(voxels, SIZE)
    model = model or classifiers.load_classifier(DATASET)
    return classifiers.predict(classifiers.feature_model(model), voxels, batch_size)


def nearest_iou(queries, support):
    """For each grid of ``queries``, the IoU of solid voxels with its closest ``support`` grid.

    Both are occupancy grids of the same size; a voxel is solid above 0.5. Returns
    ``(n,)`` float64 in [0, 1] (1: an exact copy).
    """
    queries = check_voxels(queries, what="queries")
    size = queries.shape[1]
    best = np.zeros(len(queries))
    q = (queries.reshape(len(queries), -1) > THRESHOLD).astype("float32")
    q_count = q.sum(axis=1, keepdims=True)
    for i in range(0, len(support), 1000):  # 1000 grids at a time: 130 MB as floats
        chunk = check_voxels(support[i:i + 1000], what="support")
        if chunk.shape[1] != size:
            raise ValueError(f"queries are {size}^3 grids but support grids are "
                             f"{chunk.shape[1]}^3; compare grids of one size.")
        s = (chunk.reshape(len(chunk), -1) > THRESHOLD).astype("float32")
        inter = q @ s.T
        union = q_count + s.sum(axis=1)[None] - inter
        best = np.maximum(best, (inter / np.maximum(union, 1.0)).max(axis=1))
    return best


def class_histogram(probabilities):
    """Fraction of grids the classifier puts in each class, keyed by class name."""
    names = classifiers.CLASS_NAMES[DATASET]
    counts = np.bincount(np.asarray(probabilities).argmax(axis=1), minlength=len(names))
    return {name: round(float(c) / max(len(probabilities), 1), 4)
            for name, c in zip(names, counts)}


_REFERENCE = {}


def _reference(model, train_features=False):
    """The real grids and their features, computed once per classifier (the train split's
    features only when asked for: they are the floor's, and the costliest)."""
    from kgan.data.sets import shapes3d_32

    if id(model) not in _REFERENCE:
        train, _ = shapes3d_32.load_arrays("train")
        test, test_labels = shapes3d_32.load_arrays("test")
        _REFERENCE[id(model)] = dict(train=train, test=test, test_labels=test_labels,
                                     test_features=voxel_features(test, model))
    ref = _REFERENCE[id(model)]
    if train_features and "train_features" not in ref:
        ref["train_features"] = voxel_features(ref["train"], model)[0]
    return ref


def score_voxels(voxels, model=None, nn_queries=300, labels=None):
    """Scores generated grids against the shapes3d_32 test and train splits.

    Args:
        voxels: ``(n, 32, 32, 32[, 1])`` occupancy in [0, 1] (n >= 2).
        model: classifier (default: the published one).
        nn_queries: how many of the grids (the first ones) the nearest-neighbour IoU uses;
            each costs a pass over the 4,800 training grids.
        labels: the classes a conditional model was asked for, one per grid (optional).

    Returns:
        dict with ``class_histogram``, ``class_kl``, ``frechet_distance`` (to the test
        grids), ``confident`` (share with top probability >= 0.9),
        ``nn_iou_to_train`` (mean over the queries), ``occupancy`` (mean solid fraction),
        and with ``labels`` ``label_accuracy`` (share classified as the class asked for).
    """
    voxels = check_voxels(voxels, SIZE)
    if len(voxels) < 2:
        raise ValueError("score_voxels needs at least 2 grids (the Fréchet distance fits a "
                         "covariance).")
    model = model or classifiers.load_classifier(DATASET)
    ref = _reference(model)
    features, probs = voxel_features(voxels, model)
    scores = dict(
        n=len(voxels),
        class_histogram=class_histogram(probs),
        class_kl=measures.class_kl(probs),
        frechet_distance=measures.fid_from_features(ref["test_features"][0], features),
        confident=float(np.mean(probs.max(axis=1) >= 0.9)),
        nn_iou_to_train=float(nearest_iou(voxels[:nn_queries], ref["train"]).mean()),
        occupancy=float(np.mean(voxels > THRESHOLD)),
        extractor=model.name,
    )
    if labels is not None:
        scores["label_accuracy"] = measures.label_accuracy(probs, labels)
    return scores


def real_reference(model=None, nn_queries=300):
    """The test grids' own figures: class histogram and KL, classifier accuracy, nearest-
    neighbour IoU to the train grids, plus the Fréchet distance of as many train grids to the
    test grids (the real floor of :func:`score_voxels`' figure)."""
    model = model or classifiers.load_classifier(DATASET)
    ref = _reference(model, train_features=True)
    features, probs = ref["test_features"]
    rng = np.random.default_rng(0)
    subset = rng.choice(len(ref["train"]), len(features), replace=False)
    return dict(
        n=len(features),
        class_histogram=class_histogram(probs),
        class_kl=measures.class_kl(probs),
        test_accuracy=measures.label_accuracy(probs, ref["test_labels"]),
        frechet_distance_train_vs_test=measures.fid_from_features(
            features, ref["train_features"][subset]),
        confident=float(np.mean(probs.max(axis=1) >= 0.9)),
        nn_iou_to_train=float(nearest_iou(ref["test"][:nn_queries], ref["train"]).mean()),
        occupancy=float(np.mean(ref["test"])),
        extractor=model.name,
    )


def evaluate(gan, n=1200, seed=0, model=None):
    """Generates ``n`` grids with ``gan`` and returns ``{"generated": score_voxels(...),
    "real_test": real_reference(...)}``.

    A conditional ``gan`` is asked for the classes in turn (0, 1, ..., 0, 1, ...), and
    ``generated`` also holds ``label_accuracy``: the share the classifier puts in the class
    that was asked for (real test shapes: ``real_test["test_accuracy"]``).
    """
    model = model or classifiers.load_classifier(DATASET)
    labels = np.arange(n) % gan.num_classes if gan.conditional else None
    generated = score_voxels(gan.generate(n, labels=labels, seed=seed), model, labels=labels)
    return {"generated": generated, "real_test": real_reference(model)}
