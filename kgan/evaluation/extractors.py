"""The feature extractors the image measures are computed in.

FID, KID, precision/recall and the Inception Score compare images in the feature space of a
pretrained network. A :class:`FeatureExtractor` maps images in [-1, 1] to ``(features,
probabilities)``: by default the small per-data-set CNN classifier that kgan trains and ships
(:class:`ClassifierExtractor`, :mod:`kgan.evaluation.classifiers`, 128-d features), or Keras'
ImageNet InceptionV3 (:class:`InceptionExtractor`, 2048-d pool features, images resized to
299x299 the way clean-fid does and grayscale repeated to RGB) when its weights file is
already on disk: kgan never downloads it. Numbers from different extractors are not
comparable; every result names its extractor (``name@sha``).
"""

import hashlib
import os
from pathlib import Path

import numpy as np

from kgan import precision as kgan_precision
from kgan.evaluation import classifiers
from kgan.zoo import weights as zoo_weights


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
    """Features of kgan's own classifier for a data set (:mod:`kgan.evaluation.classifiers`).

    Args:
        dataset: ``"mnist"`` or ``"fashion_mnist"``.
        weights_path, sha256: another weights file of the same architecture (default: the
            shipped, sha256-pinned one).
    """

    def __init__(self, dataset, weights_path=None, sha256=None):
        cfg = classifiers.classifier_cfg(dataset)
        self.dataset = dataset
        self.name = cfg.name
        self.image_shape = tuple(cfg.image_shape)
        model = classifiers.load_classifier(dataset, weights_path, sha256)
        path = Path(weights_path) if weights_path else cfg.entry_dir / cfg.weights
        self.fingerprint = sha256 or (
            cfg.sha256 if weights_path is None else zoo_weights.sha256_of(path))
        self.model = classifiers.feature_model(model)
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
        sha256 = zoo_weights.sha256_of(path)
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
        with kgan_precision.scope("float32"):  # the same numbers under any global policy
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

