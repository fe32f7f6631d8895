"""Small CNN classifiers for kgan's data sets, the feature extractors of the measures:
their architecture, their pinned weights, loading and prediction.

FID, KID, precision/recall and the Inception Score compare images in the feature space of a
pretrained network (Heusel et al. 2017 used ImageNet's InceptionV3). On 28x28 grayscale digits
and clothes that network sees blurry upscaled RGB copies of images far from its training
distribution, and it costs ~6 GFLOPs per image, which is slow on a CPU. So kgan also trains,
per data set, a small domain classifier (the "classifier FID" of e.g. Lucic et al. 2018 and
the conditional-GAN literature): its 128-d penultimate activations are the features, its
softmax the class probabilities used for the Inception Score, the class histogram and the
label accuracy of conditional generators.

The classifiers take images in [-1, 1] (what generators output; voxel classifiers take
occupancy in [0, 1], what 3D-GAN outputs, through 3-D convolutions), train in a few minutes on
two CPU cores (:mod:`kgan.recipes.classifiers`) and ship in ``zoo/classifier_<dataset>/``
with a card recording the recipe, the measured test accuracy, the wall time and the
hardware. Their weights are pinned by sha256 in :data:`CLASSIFIERS` and verified on every
load.

Example:
    >>> from kgan.evaluation import classifiers
    >>> model = classifiers.load_classifier("mnist")           # verified, ready to predict
    >>> probs = model.predict(images)                           # images in [-1, 1]
    >>> features, probs = classifiers.feature_model(model).predict(images)
"""

import dataclasses
from pathlib import Path

import numpy as np

from kgan import precision as kgan_precision
from kgan.zoo import weights as zoo_weights

#: Class names of the data sets, in label order.
CLASS_NAMES = {
    "mnist": tuple(str(i) for i in range(10)),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"),
    "spoken_digits": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"),
    "shapes3d_32": ("chair", "table", "mug", "lamp", "sofa", "bottle"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"),
    "horse2zebra": ("horse", "zebra"),
}

#: Name of the penultimate (feature) layer and of the probability output.
FEATURE_LAYER = "features"
OUTPUT_LAYER = "probabilities"


@dataclasses.dataclass(frozen=True)
class ClassifierCfg(zoo_weights.EntryFiles):
    """A published classifier: architecture, training recipe and pinned weights.

    Attributes:
        dataset: ``kgan.data`` name.
        image_shape: ``(H, W, C)`` of its inputs (in [-1, 1]).
        num_classes: number of output classes.
        arch: keyword arguments of :func:`build_classifier`.
        recipe: keyword arguments of :func:`train_classifier` (epochs, learning rate,
            augmentation...).
        weights: file name inside ``zoo/classifier_<dataset>/``.
        sha256: hex digest of the weights, checked before Keras reads the file.
        target_accuracy: test accuracy the recipe is required to reach.
        data: ``kgan.data`` name of its input arrays when they differ from ``dataset``
            (spoken digits are classified from their normalised log-spectrograms).
    """

    dataset: str
    image_shape: tuple = (28, 28, 1)
    num_classes: int = 10
    arch: dict = dataclasses.field(default_factory=dict)
    recipe: dict = dataclasses.field(default_factory=dict)
    weights: str = "classifier.weights.h5"
    sha256: str = None
    target_accuracy: float = 0.0
    data: str = None

    @property
    def name(self):
        return f"classifier_{self.dataset}"

    @property
    def data_name(self):
        return self.data or self.dataset


#: The architecture of the 28x28 classifiers (:func:`build_classifier`'s defaults).
DEFAULT_ARCH = dict(blocks=((32,), (64, 64), (128,)), feature_dim=128, dropout=0.3)

#: The published classifiers. ``sha256`` pins the weights written by
#: ``tools/train_classifier.py``; retraining means updating it here.
CLASSIFIERS = {
    "mnist": ClassifierCfg(
        dataset="mnist",
        arch=dict(DEFAULT_ARCH),
        recipe=dict(epochs=6, batch_size=128, learning_rate=2e-3, weight_decay=1e-4,
                    translate=0.1, rotate=0.03, flip=False, seed=0),
        sha256="b50b099a18ff4c6bc395ae41edcccd93dbda74cf0ab64c0b28c163d9d5c60e63",
        target_accuracy=0.993,
    ),
    "fashion_mnist": ClassifierCfg(
        dataset="fashion_mnist",
        arch=dict(DEFAULT_ARCH),
        recipe=dict(epochs=12, batch_size=128, learning_rate=2e-3, weight_decay=1e-4,
                    translate=0.05, rotate=0.0, flip=True, seed=0),
        sha256="19a0da77ed9c48ed3bc8900e60bea0ca25a060266e41b47d48555c1fdab095e8",
        target_accuracy=0.92,
    ),
    # Normalised log-magnitude spectrograms (128 frames x 128 bins, kgan.modalities.audio)
    # in [-1, 1]: four pooled blocks keep it at ~60 MFLOPs per clip, so it trains on CPUs in
    # minutes.
    "spoken_digits": ClassifierCfg(
        dataset="spoken_digits",
        data="spoken_digits_spectrogram",
        image_shape=(128, 128, 1),
        arch=dict(blocks=((16,), (32,), (64,), (128,)), feature_dim=128, dropout=0.3),
        recipe=dict(epochs=15, batch_size=64, learning_rate=2e-3, weight_decay=1e-4,
                    translate=0.05, rotate=0.0, flip=False, seed=0),
        sha256="68e70b3bcd323b608fe089c6b2e794dcd454eb0013fae457d813784df85305da",
        target_accuracy=0.95,
    ),
    # 32^3 occupancy grids in [0, 1]: 3-D convolutions, three pooled blocks of 8-32 filters
    # (~30 MMAC per grid), no augmentation (the objects already come in four orientations).
    # Batches of 16: 900 steps, so BatchNorm's moving statistics (momentum 0.99) forget
    # their initial values; at batch 64 (225 steps) they had not, and the trained network
    # put every test grid in one class at inference.
    "shapes3d_32": ClassifierCfg(
        dataset="shapes3d_32",
        image_shape=(32, 32, 32, 1),
        num_classes=6,
        arch=dict(blocks=((8,), (16,), (32,)), feature_dim=128, dropout=0.3),
        recipe=dict(epochs=3, batch_size=16, learning_rate=2e-3, weight_decay=1e-4,
                    translate=0.0, rotate=0.0, flip=False, seed=0),
        sha256="71b6ed92b699a622d69a4420fd0bff4b0c1e733a101fc6ec5cba9034741464b5",
        target_accuracy=0.97,
    ),
    # CIFAR-10 (the JPEG copy, see kgan.data.sets.cifar10): two 3x3 convs a block, 32-64-128
    # filters (~40 MMAC per image), flips and translations, trained in mixed bfloat16 on the
    # CPU's AMX units (the saved weights are float32 and it predicts in float32).
    "cifar10": ClassifierCfg(
        dataset="cifar10",
        image_shape=(32, 32, 3),
        arch=dict(blocks=((32, 32), (64, 64), (128, 128)), feature_dim=128, dropout=0.3),
        recipe=dict(epochs=20, batch_size=128, learning_rate=2e-3, weight_decay=5e-4,
                    translate=0.1, rotate=0.0, flip=True, seed=0, precision="bfloat16"),
        sha256="0d0eb349c6f3c3159fac8fc7e3a8f28d81c76519d96497dd8d1049ce40797df7",
        target_accuracy=0.84,
    ),
    # Horses (0) and zebras (1) of horse2zebra at the photos' 256x256: the judge of CycleGAN's
    # translations. Six pooled blocks (256 -> 4) of 16-128 filters, ~0.3 GMAC per photo;
    # flips and small shifts over the 1,201 training photos, mixed bfloat16.
    "horse2zebra": ClassifierCfg(
        dataset="horse2zebra",
        data="horse2zebra_domains",
        image_shape=(256, 256, 3),
        num_classes=2,
        arch=dict(blocks=((16,), (32,), (64,), (64,), (128,), (128,)), feature_dim=128,
                  dropout=0.3),
        recipe=dict(epochs=30, batch_size=32, learning_rate=2e-3, weight_decay=5e-4,
                    translate=0.05, rotate=0.0, flip=True, seed=0, precision="bfloat16"),
        sha256="0e2ef25f6f137345a0fae62c48ad458c81a482c89ecdaacedc8325fec9f0f25d",
        target_accuracy=0.9,
    ),
}


def classifier_cfg(dataset):
    """The :class:`ClassifierCfg` of ``dataset``; unknown names raise a ``ValueError``."""
    if dataset not in CLASSIFIERS:
        raise ValueError(
            f"No kgan classifier for data set {dataset!r}; available: "
            f"{', '.join(sorted(CLASSIFIERS))}."
        )
    return CLASSIFIERS[dataset]


def build_classifier(image_shape=(28, 28, 1), num_classes=10, blocks=((32,), (64, 64), (128,)),
                     feature_dim=128, dropout=0.3, name="classifier", precision="float32"):
    """A VGG-style CNN: blocks of 3x3 Conv-BN-ReLU, each ending in 2x2 max-pooling.

    ``Flatten -> Dropout -> Dense(feature_dim) -> BN -> ReLU`` gives the features (layer
    ``"features"``), then ``Dropout -> Dense(num_classes, softmax)`` the probabilities
    (layer ``"probabilities"``). Inputs are float images in [-1, 1]; a 4-d ``image_shape``
    ``(D, D, D, 1)`` builds the same network with 3x3x3 convolutions and 2x2x2 pooling for
    voxel grids (occupancy in [0, 1]).

    Args:
        image_shape: ``(H, W, C)``, or ``(D, H, W, C)`` for voxels.
        num_classes: output classes.
        blocks: filters of each conv, grouped per block (one max-pool per block).
        feature_dim: size of the feature layer.
        dropout: dropout rate before the feature and the output layers.
        precision: the :mod:`kgan.precision` it is built in, whatever the global policy:
            float32 for measuring (a feature extractor must give the same numbers, and cache
            keys, in every program); ``"bfloat16"`` to train faster on CPUs with AMX.
    """
    with kgan_precision.scope(precision):
        return _network(image_shape, num_classes, blocks, feature_dim, dropout, name)


def _network(image_shape, num_classes, blocks, feature_dim, dropout, name):
    import keras
    from keras import layers

    from kgan.layers import BatchNormalization

    inputs = keras.Input(tuple(image_shape), name="image")
    conv, pool = ((layers.Conv3D, layers.MaxPooling3D) if len(image_shape) == 4
                  else (layers.Conv2D, layers.MaxPooling2D))
    x = inputs
    for b, block in enumerate(blocks):
        for c, filters in enumerate(block):
            x = conv(int(filters), 3, padding="same", use_bias=False,
                     name=f"block{b + 1}_conv{c + 1}")(x)
            x = BatchNormalization(name=f"block{b + 1}_bn{c + 1}")(x)
            x = layers.ReLU(name=f"block{b + 1}_relu{c + 1}")(x)
        x = pool(name=f"block{b + 1}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.Dense(feature_dim, use_bias=False, name="dense")(x)
    x = BatchNormalization(name="dense_bn")(x)
    # ReLU output is the feature vector: the same layer the softmax reads.
    x = layers.ReLU(name=FEATURE_LAYER)(x)
    x = layers.Dropout(dropout, name="dropout2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32",
                           name=OUTPUT_LAYER)(x)
    return keras.Model(inputs, outputs, name=name)


def feature_model(classifier):
    """``image -> [features, probabilities]`` sharing the classifier's weights."""
    import keras

    return keras.Model(
        classifier.inputs,
        [classifier.get_layer(FEATURE_LAYER).output, classifier.get_layer(OUTPUT_LAYER).output],
        name=f"{classifier.name}_features",
    )


def load_classifier(dataset, weights_path=None, sha256=None):
    """Builds the published classifier of ``dataset`` and loads its verified weights.

    Args:
        dataset: ``"mnist"``, ``"fashion_mnist"`` or ``"spoken_digits"``.
        weights_path: another ``.weights.h5`` for the same architecture (e.g. one just
            retrained); defaults to the shipped ``zoo/classifier_<dataset>/`` file.
        sha256: expected digest of ``weights_path``; the pinned one for the shipped file.
            A user-given ``weights_path`` without ``sha256`` is loaded unverified.

    Raises:
        ValueError: unknown data set, unpublished weights, or a file whose sha256 differs.
    """
    cfg = classifier_cfg(dataset)
    if weights_path is None:
        if not cfg.sha256:
            raise ValueError(
                f"The {dataset} classifier has no published weights yet: train them with "
                f"`python tools/train_classifier.py --dataset={dataset}` and pin the sha256 "
                "in kgan.evaluation.classifiers.CLASSIFIERS."
            )
        weights_path = cfg.entry_dir / cfg.weights
        sha256 = cfg.sha256
        if not weights_path.exists():
            raise FileNotFoundError(
                f"Classifier weights {weights_path} are missing; set KGAN_ZOO_DIR to the "
                "folder holding classifier_<dataset>/ or restore zoo/ from git."
            )
    weights_path = Path(weights_path)
    if sha256:
        zoo_weights.verify(weights_path, sha256)
    model = build_classifier(cfg.image_shape, cfg.num_classes, name=cfg.name, **cfg.arch)
    zoo_weights.load_into(model, weights_path)
    return model


def predict(model, images, batch_size=500):
    """Runs ``model`` over float images in [-1, 1] in batches (no graph retracing per call)."""
    images = np.asarray(images, dtype="float32")
    outs = [model(images[i:i + batch_size], training=False)
            for i in range(0, len(images), batch_size)]
    if isinstance(outs[0], (list, tuple)):
        return [np.concatenate([np.asarray(o[k]) for o in outs]) for k in range(len(outs[0]))]
    return np.concatenate([np.asarray(o) for o in outs])


def to_signed_unit(images):
    """uint8 pixels -> float32 in [-1, 1] (the generators' range); float arrays (e.g.
    normalised spectrograms) are already in that range and pass through, and boolean voxel
    grids become float32 occupancy in {0, 1} (3D-GAN's range)."""
    if np.asarray(images).dtype != np.uint8:
        return np.asarray(images, dtype="float32")
    return np.asarray(images, dtype="float32") / 127.5 - 1.0
