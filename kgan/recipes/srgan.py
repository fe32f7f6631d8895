"""SRGAN's two-stage recipe: SRResNet pre-training on the pixel MSE, then the GAN from its
weights (Ledig et al. 2017), resumable, with sample grids, and the zoo card it publishes.

``tools/train_srgan.py`` calls :func:`train_stages` and :func:`publish`; the model and its
``compile(stage=...)`` are in :mod:`kgan.models.srgan`.
"""

import json
import time
from pathlib import Path

import keras
import numpy as np

from kgan import callbacks as kgan_callbacks, data, precision, zoo
from kgan.data.sets import module
from kgan.data.sets.fashion_x4 import bicubic
from kgan.evaluation.translation import super_resolution_scores
from kgan.modalities.images import save_grid
from kgan.zoo import publish as zoo_publish
from kgan.zoo import weights as zoo_weights


def train_stages(name, out_dir, pretrain_epochs=None, epochs=None, steps_per_epoch=None,
                 data_dir=None, verbose=2):
    """Trains zoo entry ``name`` in its two stages with plain ``fit``, resumably.

    Stage 1 (``compile(stage="pretrain")``) writes ``out_dir/pretrain.weights.h5`` when
    done; stage 2 starts from it with the recipe's ``compile``. Each stage keeps a
    ``kgan.callbacks.BackupAndRestore`` folder, so a killed run restarted with the same
    arguments resumes where it stopped (a finished stage 1 is skipped), and appends to
    ``<stage>_history.csv``; ``samples/`` gets an ``input | bicubic | output | target``
    grid per epoch.

    Trains in the recipe's ``precision`` and returns ``(model, wall_seconds)``: the model in
    float32 (what users load and the card measures), the wall time summed over resumes.
    """
    cfg = zoo.info(name)
    with precision.scope(cfg.recipe.get("precision", "float32")):
        return _train_stages(cfg, Path(out_dir), pretrain_epochs, epochs, steps_per_epoch,
                             data_dir, verbose)


def _train_stages(cfg, out, pretrain_epochs, epochs, steps_per_epoch, data_dir, verbose):
    name, recipe = cfg.name, cfg.recipe
    out.mkdir(parents=True, exist_ok=True)
    preview = sample_triplets(cfg.dataset, split="test", data_dir=data_dir)
    pretrained = out / "pretrain.weights.h5"
    start = time.time()
    stages = [("pretrain", recipe["pretrain"], pretrain_epochs),
              ("gan", recipe, epochs)]
    for stage, spec, stage_epochs in stages:
        if stage == "pretrain" and pretrained.exists():
            continue
        keras.utils.set_random_seed(recipe["seed"])
        model = zoo.load(name, pretrained=False, compile=False)
        model.compile(**spec["compile"])
        if stage == "gan":
            zoo_weights.load_into(model, pretrained)
        callbacks = [
            kgan_callbacks.NaNGuard(),  # first: it stops a diverged run before anything is saved
            kgan_callbacks.BackupAndRestore(out / f"{stage}_backup", delete_checkpoint=False),
            keras.callbacks.CSVLogger(str(out / f"{stage}_history.csv"), append=True),
            keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs, m=model, s=stage:
                                           save_triplets(m, *preview, out / "samples" /
                                                         f"{s}_{epoch + 1:03d}.png")),
        ]
        steps = steps_per_epoch or spec.get("steps_per_epoch")
        # Epochs shorter than the data: one endless shuffled stream, so each epoch goes on
        # where the last stopped.
        dataset = data.load(cfg.dataset, "train", recipe["batch_size"], data_dir,
                            seed=recipe["seed"], repeat=bool(steps))
        model.fit(dataset, epochs=stage_epochs or spec["epochs"], steps_per_epoch=steps,
                  callbacks=callbacks, verbose=verbose)
        if stage == "pretrain":
            zoo_weights.save_atomically(model, pretrained)
    model = precision.float32_copy(model, name)  # what users load, and what is measured
    wall_file = out / "wall_seconds.json"
    wall = time.time() - start + (json.loads(wall_file.read_text())["total"]
                                  if wall_file.exists() else 0.0)
    wall_file.write_text(json.dumps({"total": wall}))
    return model, wall


def sample_triplets(dataset="fashion_x4", split="test", per_class=None, data_dir=None):
    """``(low_res, high_res)`` float32 in [-1, 1], fixed inputs for sample grids, in class
    order: the first ``per_class`` images of each class of ``split`` (default 1), or, for
    the photo crops (3 classes), the 3 most detailed (largest pixel spread) of each class's
    first 48 crops: their first quarters are often plain sky."""
    (low, high), labels = module(dataset).load_arrays(split, data_dir)
    photos = dataset == "photos_x4"
    per_class = per_class or (3 if photos else 1)

    def first(k):
        rows = np.flatnonzero(labels == k)
        if not photos:
            return rows[:per_class]
        rows = rows[:48]
        spread = high[rows].reshape(len(rows), -1).std(axis=1)
        return np.sort(rows[np.argsort(-spread)[:per_class]])

    pick = np.concatenate([first(k) for k in range(labels.max() + 1)])
    return tuple(x[pick].astype("float32") / 127.5 - 1.0 for x in (low, high))


def save_triplets(model, low_res, high_res, path):
    """Writes a grid, one row per image: ``input (nearest) | bicubic | SR output | target``."""
    size = high_res.shape[1:3]
    nearest = np.repeat(np.repeat(low_res, size[0] // low_res.shape[1], 1),
                        size[1] // low_res.shape[2], 2)
    columns = [nearest, bicubic(low_res, size), model.translate(low_res), high_res]
    return save_grid(path, np.stack(columns, 1).reshape(-1, *high_res.shape[1:]),
                     rows=len(low_res), scale=max(1, 84 // size[0]))


#: What the rows of :func:`sample_triplets`' grid are, per data set.
_SAMPLE_ROWS = {None: "test images, one per class",
                "photos_x4": "the 3 most detailed of the first 48 test crops of each source "
                             "(facade, horse, zebra)"}


def publish(model, name, run_dir, wall_seconds):
    """Writes ``zoo/<name>/``: the weights (G and D, no optimizer state), ``samples.png``
    (``input | bicubic | output | target``, one test image per class) and ``card.json`` with
    :func:`super_resolution_scores`' test-split figures for the SRGAN, for its SRResNet stage
    (``run_dir/pretrain.weights.h5``) and for bicubic upsampling. Returns the card."""
    cfg = zoo.info(name)
    figures = super_resolution_scores(model, cfg.dataset)
    srresnet = zoo.load(name, pretrained=False, compile=False)
    zoo_weights.load_into(srresnet, Path(run_dir) / "pretrain.weights.h5")
    figures["srresnet"] = super_resolution_scores(srresnet, cfg.dataset)["srgan"]
    training = {"wall_seconds": round(wall_seconds, 1),
                "steps": {stage: _steps(name, run_dir, stage) for stage in ("pretrain", "gan")},
                "hardware": zoo_publish.hardware(), "keras_backend": "tensorflow"}
    low, high = (f"{s[0]}x{s[1]}" for s in (model.source_shape(), cfg.image_shape))
    judged = (f"classifier_accuracy: {figures['classifier']} on the images; "
              if figures["classifier"] else "")
    extra = {
        "source_shape": list(model.source_shape()),
        "params": {"generator": int(model.generator.count_params()),
                   "discriminator": int(model.discriminator.count_params())},
        "samples": f"samples.png (rows: {_SAMPLE_ROWS.get(cfg.dataset, _SAMPLE_ROWS[None])}; "
                   f"columns: {low} input shown nearest, bicubic, SRGAN output, {high} "
                   "target)",
        "metrics_note": f"Test split ({figures['images']:,} pairs). PSNR/SSIM on [0, 1] "
                        f"images against the {high} targets (tf.image.psnr / tf.image.ssim). "
                        f"feature_distance: mean squared difference of "
                        f"{figures['feature_classifier']}'s block3_relu1 maps of image and "
                        f"target; {judged}the GAN stage's content loss reads the same "
                        "features, so they are not an independent judge.",
        "reproduce": f"python tools/train_srgan.py {name}",
    }
    return zoo_publish.publish(
        model, name, training, metrics=figures, extra=extra,
        samples=lambda m, path: save_triplets(m, *sample_triplets(cfg.dataset, "test"), path))


def _steps(name, run_dir, stage):
    """Updates made in ``stage`` at the recipe's steps per epoch: epochs logged in its
    history times the steps of one epoch."""
    cfg = zoo.info(name)
    spec = cfg.recipe["pretrain"] if stage == "pretrain" else cfg.recipe
    epochs = len(Path(run_dir, f"{stage}_history.csv").read_text().strip().splitlines()) - 1
    per_epoch = spec.get("steps_per_epoch") or (
        len(data.load_arrays(cfg.dataset, "train")[1]) // cfg.recipe["batch_size"])
    return epochs * per_epoch
