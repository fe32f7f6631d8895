"""Sample-quality metrics for GANs, and the feature extractors they are computed in.

What each number measures, and why it is here:

* **FID**, Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale
  Update Rule Converge to a Local Nash Equilibrium", arXiv:1706.08500): the Fréchet (2-
  Wasserstein) distance between Gaussians fitted to real and generated features,
  ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))``. Lower is better; the de-facto
  standard, but biased upwards for small ``n``, so compare numbers at equal ``n`` only.
* **KID**, Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs",
  arXiv:1801.01401): the unbiased estimate of the squared MMD with the cubic polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets (mean and standard deviation are
  returned). Unbiased, so it is ~0 for two samples of one distribution at any ``n``.
* **Inception Score** (Salimans et al. 2016, "Improved Techniques for Training GANs",
  arXiv:1606.03498): ``exp(E_x KL(p(y|x) || p(y)))`` over splits: high when each sample is
  classified confidently and the classes are used evenly. Its maximum is the number of classes.
* **Precision / recall** (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for
  Assessing Generative Models", arXiv:1904.06991): the real manifold is the union of balls
  around real features reaching their k-th nearest real neighbour (k = 3); precision is the
  fraction of generated samples inside it (quality), recall the fraction of real samples
  inside the generated manifold (coverage). FID mixes the two; this separates them.
* **Label accuracy** (conditional models; the AC-GAN evaluation of Odena et al. 2017,
  arXiv:1610.09585): the data set classifier's accuracy on samples generated for requested
  labels, i.e. whether the generator obeys its label input.
* **Class KL**: ``KL(generated class histogram || uniform)``: 0 when the classifier finds every
  class equally often, ``log K`` when all samples fall in one class; a direct mode-dropping
  check for the balanced data sets kgan trains on (cf. Santurkar et al. 2018, "A
  Classification-Based Study of Covariate Shift in GAN Distributions", arXiv:1711.00970).

The math functions are pure functions of numpy arrays. Features come from a
:class:`FeatureExtractor`: by default the small per-data-set CNN classifier that kgan trains
and ships (:mod:`kgan.classifier`, 128-d features), or Keras' ImageNet InceptionV3 (2048-d
pool features, images resized to 299x299 and grayscale repeated to RGB) when its weights file
is already on disk: kgan never downloads it. Numbers from different extractors are not
comparable; every result names its extractor.

:func:`evaluate` compares ``n`` generated samples with the data set's test split; real-data
features and statistics are cached under ``$KGAN_HOME/stats/`` (default
``~/.keras/kgan/stats``), keyed by data set, split, size, seed, extractor and the sha256 of
its weights. :func:`real_floor` scores real training images against the test split the same
way: the best any generator can be expected to do at that ``n``.

Example:
    >>> model = kgan.zoo.load("dcgan_mnist")
    >>> kgan.metrics.evaluate(model, "mnist", n=10000)
    {'fid': ..., 'kid_mean': ..., 'precision': ..., 'extractor': 'classifier_mnist@...', ...}
"""

import hashlib
import os
from pathlib import Path

import numpy as np

from kgan.classifier import to_signed_unit
from kgan.measures import (class_kl, feature_statistics, fid_from_features,  # noqa: F401
                           frechet_distance, inception_score, kid, label_accuracy,
                           precision_recall)
from kgan.zoo import _weights

__all__ = [
    "ClassifierExtractor",
    "FeatureExtractor",
    "InceptionExtractor",
    "class_kl",
    "evaluate",
    "feature_statistics",
    "fid_from_features",
    "frechet_distance",
    "get_extractor",
    "inception_score",
    "kid",
    "label_accuracy",
    "precision_recall",
    "real_features",
    "real_floor",
]


# =============================================================================== extractors
class FeatureExtractor:
    """Maps images in [-1, 1] to ``(features, probabilities)``.

    Subclasses set ``name`` (shown with every result), ``fingerprint`` (sha256 of the
    weights: part of the cache key), ``feature_dim`` and ``num_classes`` (0 when the network
    has no classifier head), and implement :meth:`__call__`.
    """

    name = "extractor"
    fingerprint = ""
    feature_dim = 0
    num_classes = 0

    @property
    def id(self):
        """``name@<first 12 hex digits of the weights' sha256>``."""
        return f"{self.name}@{self.fingerprint[:12]}"

    def __call__(self, images, batch_size=250):
        raise NotImplementedError

    def _run(self, model, images, batch_size):
        images = np.asarray(images, dtype="float32")
        feats, probs = [], []
        for i in range(0, len(images), batch_size):
            out = model(images[i:i + batch_size], training=False)
            out = out if isinstance(out, (list, tuple)) else [out]
            feats.append(np.asarray(out[0], dtype="float32"))
            if len(out) > 1:
                probs.append(np.asarray(out[1], dtype="float32"))
        return np.concatenate(feats), (np.concatenate(probs) if probs else None)


class ClassifierExtractor(FeatureExtractor):
    """Features of kgan's own classifier for a data set (:mod:`kgan.classifier`).

    Args:
        dataset: ``"mnist"`` or ``"fashion_mnist"``.
        weights_path, sha256: another weights file of the same architecture (default: the
            shipped, sha256-pinned one).
    """

    def __init__(self, dataset, weights_path=None, sha256=None):
        from kgan import classifier

        cfg = classifier.classifier_cfg(dataset)
        self.dataset = dataset
        self.name = cfg.name
        self.image_shape = tuple(cfg.image_shape)
        model = classifier.load_classifier(dataset, weights_path, sha256)
        path = Path(weights_path) if weights_path else cfg.entry_dir / cfg.weights
        self.fingerprint = sha256 or (
            cfg.sha256 if weights_path is None else _weights.sha256_of(path))
        self.model = classifier.feature_model(model)
        self.feature_dim = int(self.model.outputs[0].shape[-1])
        self.num_classes = int(self.model.outputs[1].shape[-1])
        self._call = _compiled(self.model)

    def __call__(self, images, batch_size=250):
        images = np.asarray(images, dtype="float32")
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"{self.name} takes images of shape (n, {', '.join(map(str, self.image_shape))}); "
                f"received {images.shape}."
            )
        return self._run(self._call, images, batch_size)


def _compiled(model):
    """A traced inference function of ``model`` (one graph per batch shape)."""
    import tensorflow as tf

    fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return lambda x, training=False: fn(x)


#: The Keras ImageNet InceptionV3 files and the md5 digests Keras publishes for them.
INCEPTION_FILES = {
    "inception_v3_weights_tf_dim_ordering_tf_kernels.h5": "9a0d58056eeedaa3f26cb7ebd46da564",
    "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5": "bcbd6486424b2319ff4ef7d526e38f63",
}


def _keras_model_dirs():
    dirs = []
    if os.environ.get("KERAS_HOME"):
        dirs.append(Path(os.environ["KERAS_HOME"]) / "models")
    dirs.append(Path.home() / ".keras" / "models")
    return dirs


def find_inception_weights():
    """Path of a local Keras InceptionV3 ImageNet weights file (full model first), or None."""
    for name in INCEPTION_FILES:
        for folder in _keras_model_dirs():
            if (folder / name).exists():
                return folder / name
    return None


class InceptionExtractor(FeatureExtractor):
    """Keras' ImageNet InceptionV3: 2048-d average-pool features and 1000-class softmax.

    Images in [-1, 1] are resized to 299x299 as clean-fid does (:func:`clean_resize`) and
    grayscale is repeated to RGB. Only a weights file already on disk is used; nothing is
    downloaded. With the ``_notop`` file there is no softmax, so no Inception Score.

    Args:
        weights_path: the ``.h5`` file; default: Keras' cache (``$KERAS_HOME/models`` or
            ``~/.keras/models``).
        file_hash: expected md5 (32 hex digits) or sha256 (64) of the file; ``"auto"`` uses the
            digests Keras publishes for its two file names; ``None`` skips the check (for a
            converted copy of your own).
        include_top: whether the file holds the classifier head; inferred from Keras' file
            names, required for other names.

    Raises:
        FileNotFoundError: no weights file found (the message says where it looked).
        ValueError: the file's digest differs from the expected one.
    """

    def __init__(self, weights_path=None, file_hash="auto", include_top=None):
        import keras

        path = Path(weights_path) if weights_path else find_inception_weights()
        if path is None or not path.exists():
            looked = ", ".join(str(d) for d in _keras_model_dirs())
            raise FileNotFoundError(
                f"InceptionV3 ImageNet weights not found ({weights_path or 'looked in ' + looked}"
                f"). kgan never downloads them: copy {next(iter(INCEPTION_FILES))} into one of "
                "those folders (keras.applications.InceptionV3() fetches it on a machine with a "
                "network) or pass weights_path=, or use extractor='classifier'."
            )
        if file_hash == "auto":
            file_hash = INCEPTION_FILES.get(path.name)
            if file_hash is None:
                raise ValueError(
                    f"{path.name} is not one of Keras' InceptionV3 files; pass its file_hash= "
                    "(md5 or sha256), or file_hash=None to load it unverified."
                )
        sha256 = _weights.sha256_of(path)
        if file_hash:
            actual = sha256 if len(file_hash) == 64 else _md5_of(path)
            if actual != file_hash.lower():
                raise ValueError(
                    f"InceptionV3 weights {path} are corrupt or not Keras' file: digest {actual}, "
                    f"expected {file_hash}."
                )
        if include_top is None:
            if path.name not in INCEPTION_FILES:
                raise ValueError(f"Say whether {path.name} has the classifier head: include_top=.")
            include_top = not path.name.endswith("_notop.h5")
        from kgan.classifier import float32_policy

        with float32_policy():
            base = keras.applications.InceptionV3(
                include_top=include_top, weights=str(path), pooling=None if include_top else "avg")
        outputs = ([base.get_layer("avg_pool").output, base.output] if include_top
                   else [base.output])
        self.backbone = keras.Model(base.inputs, outputs, name="inception_v3_features")
        self.name = "inception_v3" if include_top else "inception_v3_notop"
        self.fingerprint = sha256
        self.weights_path = path
        self.feature_dim = 2048
        self.num_classes = 1000 if include_top else 0
        self._wrapped = {}

    def _model_for(self, image_shape):
        """Grayscale->RGB in front of the backbone, per input shape (299 x 299 x C)."""
        import keras
        from keras import layers

        if image_shape not in self._wrapped:
            x_in = keras.Input(image_shape)
            x = x_in
            if image_shape[-1] == 1:
                x = layers.Concatenate()([x, x, x])
            elif image_shape[-1] != 3:
                raise ValueError(f"InceptionV3 needs 1 or 3 channels; got {image_shape[-1]}.")
            model = keras.Model(x_in, self.backbone(x))  # inherits the float32 backbone
            self._wrapped[image_shape] = _compiled(model)
        return self._wrapped[image_shape]

    def __call__(self, images, batch_size=50):
        # 299x299 activations: ~25 MB per image in the first layers, so batches stay small.
        batch_size = max(1, min(int(batch_size), 64))
        images = np.asarray(images, dtype="float32")
        if images.ndim != 4:
            raise ValueError(f"Images must be (n, H, W, C); received {images.shape}.")
        model = self._model_for((INCEPTION_SIZE, INCEPTION_SIZE, images.shape[-1]))
        outs = [self._run(model, clean_resize(images[i:i + batch_size]), batch_size)
                for i in range(0, len(images), batch_size)]
        feats = np.concatenate([f for f, _ in outs])
        return feats, (np.concatenate([p for _, p in outs]) if outs[0][1] is not None else None)


#: InceptionV3's input side.
INCEPTION_SIZE = 299


def clean_resize(images, size=INCEPTION_SIZE):
    """Resizes images in [-1, 1] to ``size`` x ``size`` the way clean-fid does (Parmar et al.
    2022, "On Aliased Resizing and Surprising Subtleties in GAN Evaluation"): quantise to
    uint8 as a saved image would be, then PIL's bicubic filter on each channel in float
    mode (no re-quantisation), back to [-1, 1]. Resizing with a library's bilinear kernel
    instead aliases and shifts FIDs by several points."""
    from PIL import Image

    pixels = np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype("float32")
    out = np.empty((len(pixels), size, size, pixels.shape[-1]), "float32")
    for i, image in enumerate(pixels):
        for c in range(image.shape[-1]):
            channel = Image.fromarray(image[..., c], mode="F")
            out[i, ..., c] = np.asarray(channel.resize((size, size), Image.BICUBIC))
    return out / 127.5 - 1.0


def _md5_of(path):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_EXTRACTORS = {}


def get_extractor(extractor, dataset):
    """Resolves ``"classifier"`` / ``"inception"`` / a :class:`FeatureExtractor` instance.

    The shipped classifiers and the default InceptionV3 are built once per process.
    """
    if isinstance(extractor, FeatureExtractor):
        return extractor
    if extractor == "classifier":
        key = ("classifier", dataset)
        if key not in _EXTRACTORS:
            _EXTRACTORS[key] = ClassifierExtractor(dataset)
        return _EXTRACTORS[key]
    if extractor == "inception":
        if "inception" not in _EXTRACTORS:
            _EXTRACTORS["inception"] = InceptionExtractor()
        return _EXTRACTORS["inception"]
    raise ValueError(
        f"Unknown extractor {extractor!r}; use 'classifier' (kgan's own, always available), "
        "'inception' (needs Keras' InceptionV3 weights on disk) or a FeatureExtractor."
    )


# =============================================================================== real data
#: Image data sets scored in the feature space of their own kgan classifier.
SCORED_DATASETS = ("mnist", "fashion_mnist", "cifar10")


def _dataset_info(dataset):
    if dataset not in SCORED_DATASETS:
        raise ValueError(
            f"Unknown data set {dataset!r} for metrics; expected one of "
            f"{', '.join(SCORED_DATASETS)}."
        )
    from kgan.classifier import CLASSIFIERS

    cfg = CLASSIFIERS[dataset]
    return tuple(cfg.image_shape), cfg.num_classes


def _check_n(n, name="n"):
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

    _dataset_info(dataset)
    n = _check_n(n)
    ext = get_extractor(extractor, dataset)
    images, labels = data.load_arrays(dataset, split)
    n = min(n, len(images))
    fname = f"{dataset}_{split}_n{n}_s{seed}_{ext.name}_{ext.fingerprint[:16]}.npz"
    path = _weights.cache_dir() / "stats" / fname
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
    _weights.save_npz_atomically(path, **out)  # concurrent evaluations read whole files
    return out


# =============================================================================== evaluate
def _scores(real, fake_feats, fake_probs, class_probs, requested, num_classes, ext, kid_subsets,
            kid_subset_size, k, seed):
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


def evaluate(model, dataset_name, n=None, extractor="classifier", batch_size=250, seed=0,
             kid_subsets=100, kid_subset_size=1000, k=3):
    """Scores a generator against the test split of ``dataset_name``.

    Audio and voxel generators get their own measures instead (:mod:`kgan.audio_metrics`,
    300 clips by default; :mod:`kgan.voxel_metrics`, 1,200 shapes); the rest of this
    docstring is about images.

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
    modality = getattr(model, "modality", "image")
    if modality == "audio":
        from kgan import audio_metrics

        return audio_metrics.evaluate(model, n=n or 300)
    if modality == "voxels":
        from kgan import voxel_metrics

        return voxel_metrics.evaluate(model, n=n or 1200)
    n = 10000 if n is None else n
    dataset_name = SUBSET_OF.get(dataset_name, dataset_name)
    if dataset_name in PADDED_DATASETS:  # score the garment, not the added border
        base, pad = PADDED_DATASETS[dataset_name]
        return evaluate(_Cropped(model, pad), base, n, extractor, batch_size, seed,
                        kid_subsets, kid_subset_size, k)
    image_shape, num_classes = _dataset_info(dataset_name)
    n = _check_n(n)
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
    result = _scores(real, feats, probs, class_probs, requested, num_classes, ext, kid_subsets,
                     kid_subset_size, k, seed)
    result["classifier"] = clf_id
    return result


#: Data sets that are another one padded with a border (name -> (base data set, pixels per
#: side)): models trained on them are scored on the base data set's protocol with the border
#: cropped off their samples, so their figures compare with the base set's models.
PADDED_DATASETS = {"fashion_mnist_32": ("fashion_mnist", 2),
                   "fashion_captions_32": ("fashion_captions", 2)}
#: Training subsets scored against their whole data set's test split.
SUBSET_OF = {"cifar10_10pct": "cifar10"}


class _Cropped:
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
    _, num_classes = _dataset_info(dataset_name)
    n = _check_n(n)
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
    result = _scores(real, train["features"], probs, class_probs, train["labels"], num_classes,
                     ext, kid_subsets, kid_subset_size, k, seed)
    result["classifier"] = clf_id
    return result


# ---------------------------------------------------------------------------- image-to-image
def evaluate_translation(model, dataset_name, split="test", n=None, direction=None,
                         batch_size=250):
    """Scores an image-to-image model on a paired data set's ``split`` against its targets.

    Returns a dict with, for the model's outputs and for the *identity* baseline (the source
    image handed back unchanged, e.g. the edge map itself):

    * ``l1``: mean absolute error to the target in [-1, 1] units (pix2pix's L1 term);
    * ``ssim``: mean structural similarity (``tf.image.ssim`` on [0, 1] images, 11x11
      Gaussian window, Wang et al. 2004);
    * ``classifier_accuracy``: when the data set names a project classifier
      (``CLASSIFIER_DATASET``), how often it recognises the target's class in the outputs;
      ``real_accuracy`` is its accuracy on the real targets, the ceiling.
    """
    import tensorflow as tf

    from kgan import classifier as kgan_classifier
    from kgan.datasets import module
    from kgan.translation import _paired_arrays

    (sources, targets), labels = _paired_arrays(dataset_name, split, None)
    if n is not None:
        _check_n(n)
        sources, targets, labels = sources[:n], targets[:n], labels[:n]
    sources, targets = (kgan_classifier.to_signed_unit(a) for a in (sources, targets))
    outputs = model.translate(sources, direction, batch_size=batch_size)

    def scores(images):
        ssim = tf.image.ssim(tf.constant((images + 1) / 2), tf.constant((targets + 1) / 2),
                             max_val=1.0)
        return {"l1": float(np.mean(np.abs(images - targets))),
                "ssim": float(np.mean(ssim.numpy()))}

    result = {"dataset": dataset_name, "split": split, "n": len(sources),
              **scores(outputs), "identity": scores(sources)}
    data = module(dataset_name)
    if getattr(data, "CLASSIFIER_DATASET", None):
        net = kgan_classifier.load_classifier(data.CLASSIFIER_DATASET)

        def accuracy(images):
            view = data.classifier_view(images)
            if view.shape[-1] != net.input_shape[-1]:
                view = np.repeat(view, net.input_shape[-1], axis=-1)
            probs = kgan_classifier.predict(net, view, batch_size)
            return float(np.mean(np.argmax(probs, axis=-1) == labels))

        result["classifier_accuracy"] = accuracy(outputs)
        result["identity"]["classifier_accuracy"] = accuracy(sources)
        result["real_accuracy"] = accuracy(targets)
        result["classifier"] = f"classifier_{data.CLASSIFIER_DATASET}"
    return result


# ---------------------------------------------------------------------------- text-to-image
def evaluate_text_to_image(model, dataset_name="fashion_captions", split="test", n=10000,
                           batch_size=250, seed=0, kid_subsets=100, kid_subset_size=1000, k=3):
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
    * the image statistics of :func:`evaluate` (``fid``, ``kid_mean``, ``precision``,
      ``recall``, ``class_kl``...) on the classifier's features against ``min(n, split
      size)`` real test images of the base data set, and ``n``.
    """
    from kgan.datasets import module
    from kgan.text import caption_targets

    if dataset_name in PADDED_DATASETS:  # score the garment, not the added border
        base, pad = PADDED_DATASETS[dataset_name]
        return evaluate_text_to_image(_Cropped(model, pad), base, split, n, batch_size, seed,
                                      kid_subsets, kid_subset_size, k)
    n = _check_n(n)
    data = module(dataset_name)
    if not hasattr(data, "HELDOUT_TEMPLATES"):
        raise ValueError(f"{dataset_name!r} has no captions; evaluate_text_to_image needs a "
                         "captioned data set such as 'fashion_captions'.")
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
    view = _classifier_view(images, _dataset_info(base)[0])
    ext = get_extractor("classifier", base)
    feats, probs = ext(view, batch_size)
    real = real_features(base, "test", n, ext, seed, batch_size)
    result = _scores(real, feats, probs, probs, labels, data.NUM_CLASSES, ext, kid_subsets,
                     kid_subset_size, k, seed)
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
