"""How kgan's feature classifiers are trained and published: the recipe (AdamW, warm-up then
cosine decay, light augmentation), the card, the confusion matrix and prediction PNGs.

``tools/train_classifier.py`` calls :func:`train_classifier` and :func:`publish`; the
networks, their pinned weights and their loading are in :mod:`kgan.evaluation.classifiers`.
"""

import json
import time
from pathlib import Path

import numpy as np

from kgan.evaluation.classifiers import (CLASS_NAMES, DEFAULT_ARCH, FEATURE_LAYER,
                                         build_classifier, classifier_cfg, predict,
                                         to_signed_unit)
from kgan.zoo import weights as zoo_weights
from kgan.zoo.hardware import hardware


def confusion_matrix(labels, predictions, num_classes):
    """Counts ``(true class, predicted class)`` pairs: rows true, columns predicted."""
    confusion = np.zeros((num_classes, num_classes), dtype="int64")
    np.add.at(confusion, (labels, predictions), 1)
    return confusion




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
            measured by a float32 copy, the network the measures use).
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
    model = build_classifier(cfg.image_shape, cfg.num_classes, name=cfg.name,
                             precision=precision, **{**DEFAULT_ARCH, **arch})
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
        sha256=zoo_weights.sha256_of(weights),
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
        from kgan.modalities.voxels import render

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
