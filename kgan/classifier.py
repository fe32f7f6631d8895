"""Small CNN classifiers for kgan's data sets: the feature extractors of ``kgan.metrics``.

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
two CPU cores and ship in ``zoo/classifier_<dataset>/`` with a card recording the recipe,
the measured test accuracy, the wall time and the hardware. Their weights are pinned by
sha256 in :data:`CLASSIFIERS` and verified on every load.

Example:
    >>> model = kgan.classifier.load_classifier("mnist")       # verified, ready to predict
    >>> probs = model.predict(images)                           # images in [-1, 1]
    >>> features, probs = kgan.classifier.feature_model(model).predict(images)
"""

import contextlib
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from kgan import precision as kgan_precision
from kgan.zoo import _weights
from kgan.zoo.hardware import hardware

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
}

#: Name of the penultimate (feature) layer and of the probability output.
FEATURE_LAYER = "features"
OUTPUT_LAYER = "probabilities"


@dataclasses.dataclass(frozen=True)
class ClassifierCfg(_weights.EntryFiles):
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


_ARCH = dict(blocks=((32,), (64, 64), (128,)), feature_dim=128, dropout=0.3)

#: The published classifiers. ``sha256`` pins the weights written by
#: ``tools/train_classifier.py``; retraining means updating it here.
CLASSIFIERS = {
    "mnist": ClassifierCfg(
        dataset="mnist",
        arch=dict(_ARCH),
        recipe=dict(epochs=6, batch_size=128, learning_rate=2e-3, weight_decay=1e-4,
                    translate=0.1, rotate=0.03, flip=False, seed=0),
        sha256="b50b099a18ff4c6bc395ae41edcccd93dbda74cf0ab64c0b28c163d9d5c60e63",
        target_accuracy=0.993,
    ),
    "fashion_mnist": ClassifierCfg(
        dataset="fashion_mnist",
        arch=dict(_ARCH),
        recipe=dict(epochs=12, batch_size=128, learning_rate=2e-3, weight_decay=1e-4,
                    translate=0.05, rotate=0.0, flip=True, seed=0),
        sha256="19a0da77ed9c48ed3bc8900e60bea0ca25a060266e41b47d48555c1fdab095e8",
        target_accuracy=0.92,
    ),
    # Normalised log-magnitude spectrograms (128 frames x 128 bins, kgan.audio) in [-1, 1]:
    # four pooled blocks keep it at ~60 MFLOPs per clip, so it trains on CPUs in minutes.
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
    # CIFAR-10 (the JPEG copy, see kgan.datasets.cifar10): two 3x3 convs a block, 32-64-128
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
                     feature_dim=128, dropout=0.3, name="classifier"):
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
    """
    with float32_policy():
        return _build_classifier(image_shape, num_classes, blocks, feature_dim, dropout, name)


def _build_classifier(image_shape, num_classes, blocks, feature_dim, dropout, name):
    import keras
    from keras import layers

    inputs = keras.Input(tuple(image_shape), name="image")
    conv, pool = ((layers.Conv3D, layers.MaxPooling3D) if len(image_shape) == 4
                  else (layers.Conv2D, layers.MaxPooling2D))
    x = inputs
    for b, block in enumerate(blocks):
        for c, filters in enumerate(block):
            x = conv(int(filters), 3, padding="same", use_bias=False,
                     name=f"block{b + 1}_conv{c + 1}")(x)
            x = layers.BatchNormalization(name=f"block{b + 1}_bn{c + 1}")(x)
            x = layers.ReLU(name=f"block{b + 1}_relu{c + 1}")(x)
        x = pool(name=f"block{b + 1}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.Dense(feature_dim, use_bias=False, name="dense")(x)
    x = layers.BatchNormalization(name="dense_bn")(x)
    # ReLU output is the feature vector: the same layer the softmax reads.
    x = layers.ReLU(name=FEATURE_LAYER)(x)
    x = layers.Dropout(dropout, name="dropout2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32",
                           name=OUTPUT_LAYER)(x)
    return keras.Model(inputs, outputs, name=name)


@contextlib.contextmanager
def float32_policy():
    """Builds layers in float32 whatever the global mixed-precision policy: a feature
    extractor must give the same numbers (and cache keys) in every program."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


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
                "in kgan.classifier.CLASSIFIERS."
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
        _weights.verify(weights_path, sha256)
    model = build_classifier(cfg.image_shape, cfg.num_classes, name=cfg.name, **cfg.arch)
    _weights.load_into(model, weights_path)
    return model


def predict(model, images, batch_size=500):
    """Runs ``model`` over float images in [-1, 1] in batches (no graph retracing per call)."""
    images = np.asarray(images, dtype="float32")
    outs = [model(images[i:i + batch_size], training=False)
            for i in range(0, len(images), batch_size)]
    if isinstance(outs[0], (list, tuple)):
        return [np.concatenate([np.asarray(o[k]) for o in outs]) for k in range(len(outs[0]))]
    return np.concatenate([np.asarray(o) for o in outs])


def confusion_matrix(labels, predictions, num_classes):
    """Counts ``(true class, predicted class)`` pairs: rows true, columns predicted."""
    confusion = np.zeros((num_classes, num_classes), dtype="int64")
    np.add.at(confusion, (labels, predictions), 1)
    return confusion


def to_signed_unit(images):
    """uint8 pixels -> float32 in [-1, 1] (the generators' range); float arrays (e.g.
    normalised spectrograms) are already in that range and pass through, and boolean voxel
    grids become float32 occupancy in {0, 1} (3D-GAN's range)."""
    if np.asarray(images).dtype != np.uint8:
        return np.asarray(images, dtype="float32")
    return np.asarray(images, dtype="float32") / 127.5 - 1.0


def to_uint8(images):
    """Float images in [-1, 1] (or uint8 ones) -> uint8 pixels for PNGs."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.clip((images + 1.0) * 127.5, 0, 255).round().astype("uint8")


def _augmenter(translate, rotate, flip, seed):
    import keras
    from keras import layers

    # Background of [-1, 1] images is -1: pad with it, not with mid-grey zeros.
    augs = []
    if flip:
        augs.append(layers.RandomFlip("horizontal", seed=seed))
    if rotate:
        augs.append(layers.RandomRotation(rotate, fill_mode="constant", fill_value=-1.0,
                                          seed=seed + 1))
    if translate:
        augs.append(layers.RandomTranslation(translate, translate, fill_mode="constant",
                                             fill_value=-1.0, seed=seed + 2))
    return keras.Sequential(augs, name="augment") if augs else None


def train_classifier(dataset, epochs=6, batch_size=128, learning_rate=2e-3, weight_decay=1e-4,
                     translate=0.1, rotate=0.0, flip=False, seed=0, precision="float32",
                     arch=None, train_limit=None, verbose=2):
    """Trains a classifier on the train split and measures it on the whole test split.

    AdamW with a linear warm-up (first epoch) then cosine decay to zero; augmentation
    (random flips / rotations / translations, padding with the -1 background) runs in the
    input pipeline so the saved model holds only the classifier. No model selection is done
    on the test split: the reported accuracy is that of the last epoch.

    Args:
        dataset: ``kgan.data`` name.
        epochs, batch_size, learning_rate, weight_decay: optimisation recipe.
        translate, rotate, flip: augmentation (fractions of size / of a full turn).
        seed: seeds weights init, shuffling and augmentation.
        precision: ``"float32"`` or ``"bfloat16"`` (trains under ``mixed_bfloat16``, several
            times faster on CPUs with AMX; the weights stay float32 and the test accuracy is
            measured by a float32 copy, the network ``kgan.metrics`` uses).
        arch: keyword arguments of :func:`build_classifier` (default: the published one).
        train_limit: use only the first N training images (for quick tests).
        verbose: ``fit`` verbosity.

    Returns:
        ``(model, report)`` with ``report`` holding ``test_accuracy``, ``test_loss``,
        ``confusion_matrix``, ``wall_time_s``, ``history`` and the recipe.
    """
    import keras
    import tensorflow as tf

    from kgan import data

    cfg = classifier_cfg(dataset)
    arch = dict(cfg.arch if arch is None else arch)
    keras.utils.set_random_seed(seed)
    x_train, y_train = data.load_arrays(cfg.data_name, "train")
    x_test, y_test = data.load_arrays(cfg.data_name, "test")
    if train_limit:
        x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    steps_per_epoch = len(x_train) // batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"batch_size={batch_size} exceeds the {len(x_train)} training images.")

    augment = _augmenter(translate, rotate, flip, seed)

    def prepare(x, y):
        scaled = tf.cast(x, "float32")
        x = scaled / 127.5 - 1.0 if x.dtype == tf.uint8 else scaled
        if augment is not None:
            x = augment(x, training=True)
        return x, y

    train_ds = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=True)
        .map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    total = steps_per_epoch * epochs
    warmup = min(steps_per_epoch, total // 2)
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate / 10, decay_steps=max(total - warmup, 1), alpha=0.0,
        warmup_target=learning_rate, warmup_steps=warmup,
    )
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be 'float32' or 'bfloat16'; received {precision!r}.")
    with kgan_precision.scope(precision):
        model = _build_classifier(cfg.image_shape, cfg.num_classes, name=cfg.name,
                                  **{**_ARCH, **arch})
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(train_ds, epochs=epochs, verbose=verbose)
    wall = time.perf_counter() - start
    if precision != "float32":
        trained, model = model, build_classifier(cfg.image_shape, cfg.num_classes,
                                                 name=cfg.name, **arch)
        model.set_weights(trained.get_weights())
    probs = predict(model, to_signed_unit(x_test))
    pred = probs.argmax(axis=1)
    test_acc = float(np.mean(pred == y_test))
    test_loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y_test)), y_test], 1e-12, 1))))
    confusion = confusion_matrix(y_test, pred, cfg.num_classes)
    report = dict(
        test_accuracy=test_acc,
        test_loss=test_loss,
        test_images=int(len(y_test)),
        train_images=int(len(y_train)),
        confusion_matrix=confusion.tolist(),
        wall_time_s=round(wall, 1),
        history={k: [round(float(v), 5) for v in vals] for k, vals in history.history.items()},
        recipe=dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                    weight_decay=weight_decay, translate=translate, rotate=rotate, flip=flip,
                    seed=seed, precision=precision,
                    optimizer="AdamW, 1-epoch linear warm-up from lr/10, cosine decay to 0",
                    loss="sparse categorical cross-entropy"),
        arch={k: (list(map(list, v)) if k == "blocks" else v) for k, v in arch.items()},
        params=int(model.count_params()),
        predictions=pred,
    )
    return model, report


def publish(model, report, dataset, out_dir=None):
    """Writes ``classifier.weights.h5``, ``card.json``, ``confusion.png`` and
    ``predictions.png`` into ``out_dir`` (default ``zoo/classifier_<dataset>/``).

    Returns the card dict (including the weights' sha256 to pin in :data:`CLASSIFIERS`).
    """
    import keras

    cfg = classifier_cfg(dataset)
    out = Path(out_dir) if out_dir else cfg.entry_dir
    out.mkdir(parents=True, exist_ok=True)
    weights = out / cfg.weights
    # A fresh, uncompiled copy: the file then holds the classifier only, no optimizer state.
    clean = build_classifier(cfg.image_shape, cfg.num_classes, name=cfg.name,
                             **{k: (tuple(map(tuple, v)) if k == "blocks" else v)
                                for k, v in report["arch"].items()})
    clean.set_weights(model.get_weights())
    clean.save_weights(str(weights))
    save_card_images(out, dataset, report["predictions"], report["test_accuracy"])
    card = dict(
        name=cfg.name,
        kind="feature-extractor classifier for kgan.metrics",
        dataset=dataset,
        test_accuracy=round(report["test_accuracy"], 5),
        test_loss=round(report["test_loss"], 5),
        test_images=report["test_images"],
        train_images=report["train_images"],
        target_accuracy=cfg.target_accuracy,
        params=report["params"],
        input=f"float32 (N, {', '.join(map(str, cfg.image_shape))}) in "
              + ("[0, 1] (occupancy)" if len(cfg.image_shape) == 4 else "[-1, 1]")
              + (f" ({cfg.data_name} arrays)" if cfg.data else ""),
        features=f"layer '{FEATURE_LAYER}', {model.get_layer(FEATURE_LAYER).output.shape[-1]}-d",
        arch=report["arch"],
        recipe=report["recipe"],
        history=report["history"],
        confusion_matrix=report["confusion_matrix"],
        wall_time_s=report["wall_time_s"],
        hardware=hardware(),
        keras_version=keras.__version__,
        weights=cfg.weights,
        weights_bytes=weights.stat().st_size,
        sha256=_weights.sha256_of(weights),
        images=["confusion.png", "predictions.png"],
        reproduce=f"python tools/train_classifier.py --dataset={dataset}",
        license="Apache-2.0 (code); weights trained on the data set's license terms",
    )
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def save_card_images(out_dir, dataset, predictions, accuracy):
    """Writes ``confusion.png`` and ``predictions.png`` for test-split ``predictions``.

    ``predictions.png`` shows the first 40 test images and then the first 24 mistakes, so
    the kinds of errors the classifier makes are visible too.
    """
    from kgan import data

    cfg = classifier_cfg(dataset)
    out = Path(out_dir)
    x_test, y_test = data.load_arrays(cfg.data_name, "test")
    predictions = np.asarray(predictions)
    confusion = confusion_matrix(y_test, predictions, cfg.num_classes)
    names = CLASS_NAMES.get(dataset, tuple(str(i) for i in range(cfg.num_classes)))
    save_confusion_png(out / "confusion.png", confusion, names,
                       title=f"{cfg.name}: test accuracy {100 * accuracy:.2f}% "
                             f"(rows: true, columns: predicted)")
    wrong = np.flatnonzero(predictions != y_test)[:24]
    shown = np.concatenate([np.arange(40), wrong])
    if x_test.ndim == 5:  # voxel grids: isometric renderings
        from kgan.voxels import render

        pictures, scale = render(x_test[shown]), 1
    else:
        pictures, scale = to_uint8(x_test[shown]), max(1, 84 // x_test.shape[1])
    save_predictions_png(out / "predictions.png", pictures, y_test[shown], predictions[shown],
                         names, scale=scale)


def _font(size):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1 has one fixed-size default font.
        return ImageFont.load_default()


def save_confusion_png(path, confusion, class_names, title=""):
    """Draws a confusion matrix (rows: true class, columns: predicted) as a PNG heat map."""
    from PIL import Image, ImageDraw

    confusion = np.asarray(confusion)
    k = len(confusion)
    cell, left, top = 44, 110, 60
    img = Image.new("RGB", (left + k * cell + 10, top + k * cell + 30), "white")
    draw = ImageDraw.Draw(img)
    font, small = _font(13), _font(10)
    draw.text((10, 8), title, fill="black", font=font)
    draw.text((left, top - 32), "predicted ->", fill="black", font=small)
    rows = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    for i in range(k):
        draw.text((6, top + i * cell + cell // 2 - 6), class_names[i][:15], fill="black",
                  font=small)
        draw.text((left + i * cell + 4, top - 16), class_names[i][:7], fill="black", font=small)
        for j in range(k):
            v = rows[i, j]
            # Diagonal in blue, errors in red, intensity by row fraction (errors boosted 5x).
            level = v if i == j else min(1.0, 5 * v)
            base = (40, 90, 200) if i == j else (210, 50, 40)
            color = tuple(int(255 - level * (255 - c)) for c in base)
            x0, y0 = left + j * cell, top + i * cell
            box = (x0, y0, x0 + cell - 1, y0 + cell - 1)
            draw.rectangle(box, fill=color, outline=(200, 200, 200))
            text_color = "white" if level > 0.6 else "black"
            draw.text((box[0] + 4, box[1] + cell // 2 - 6), str(int(confusion[i, j])),
                      fill=text_color, font=small)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return Path(path)


def save_predictions_png(path, images_uint8, labels, predictions, class_names=None, scale=3):
    """A grid of test images (grey ``(N, H, W, 1)`` or RGB ``(N, H, W, 3)``) with the
    predicted class above each; mistakes in red, with the true class below."""
    from PIL import Image, ImageDraw

    images = np.asarray(images_uint8)
    if images.shape[-1] == 1:
        images = images[..., 0]
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    names = class_names or [str(k) for k in range(int(max(predictions.max(), labels.max())) + 1)]
    n = len(images)
    cols = 8
    rows = int(np.ceil(n / cols))
    h, w = images.shape[1] * scale, images.shape[2] * scale
    cw, ch = w + 8, h + 30
    img = Image.new("RGB", (cols * cw + 8, rows * ch + 8), "white")
    draw = ImageDraw.Draw(img)
    font = _font(11)
    for i in range(n):
        r, c = divmod(i, cols)
        x0, y0 = 8 + c * cw, 8 + r * ch
        tile = Image.fromarray(images[i]).resize((w, h), Image.NEAREST).convert("RGB")
        img.paste(tile, (x0, y0 + 14))
        ok = int(predictions[i]) == int(labels[i])
        color = (0, 110, 0) if ok else (220, 0, 0)
        draw.text((x0, y0), names[int(predictions[i])][:12], fill=color, font=font)
        if not ok:
            draw.text((x0, y0 + 15 + h), f"true: {names[int(labels[i])]}"[:14], fill=(90, 90, 90),
                      font=font)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return Path(path)
