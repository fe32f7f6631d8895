"""Trains a CycleGAN zoo entry from its recipe (resumable), measures it and publishes it.

    python tools/train_cyclegan.py cyclegan_sneaker2boot               # train + publish
    python tools/train_cyclegan.py cyclegan_sneaker2boot --nopublish   # train only
    python tools/train_cyclegan.py cyclegan_sneaker2boot --notrain     # publish runs/<name>
    python tools/train_cyclegan.py cyclegan_horse2zebra --nopublish     # the 256 px photos
    KERAS_BACKEND=jax python tools/train_cyclegan.py cyclegan_sneaker2boot --nopublish
                  # train with fit on JAX; publish with --notrain on a TensorFlow machine

A run writes into ``runs/<name>/``: ``backup/`` (``kgan.callbacks.BackupAndRestore``:
rerunning the same command after a kill resumes from the last finished epoch, with both
optimizers, the learning-rate schedule's step and both history pools), ``samples/`` (input |
a2b | cycle back, both directions, per epoch), ``history.csv``, ``wall_seconds.json``
(summed over resumes, written every epoch), ``run.json`` (that wall time, steps, the
backend and hardware that trained) and ``<name>.weights.h5``. A recipe with ``"crop": N``
trains the networks on random NxN crops of the photos at their own scale (the run's model
and backup are built for the crop; the grids show centre crops) and ``<name>.weights.h5``
holds them at the entry's image size; ``"precision"`` sets the dtype policy of training.
Publishing measures the model on its data set's test split
(``kgan.evaluation.translation.domain_transfer_scores``, judged by the classifier of
``DOMAIN_JUDGES``) and writes ``zoo/<name>/`` (weights, samples.png, card.json); paste the
printed sha256 into the entry's registration.
"""

import json
from pathlib import Path

import keras
from absl import app, flags

from kgan import callbacks as kgan_callbacks, data, precision, zoo
from kgan.callbacks import TranslationGrid, save_translation_grid
from kgan.data import photos
from kgan.evaluation.classifiers import to_signed_unit
from kgan.evaluation.translation import DOMAIN_JUDGES, domain_transfer_scores
from kgan.recipes.crops import at_entry_size, centre_crops, crop_shape
from kgan.zoo import publish, weights as zoo_weights

FLAGS = flags.FLAGS
flags.DEFINE_string("out", None, "Run folder (default runs/<name>).")
flags.DEFINE_boolean("train", True, "Train (or resume) before publishing.")
flags.DEFINE_boolean("publish", True, "Publish to zoo/<name>/ after training.")
flags.DEFINE_integer("grid", 10, "Columns of the sample grids.")
flags.DEFINE_integer("epochs", None, "Epochs (default: the recipe's).")
flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch (default: the whole data).")


def split_images(dataset, split="test", n=None):
    """``(a, b)``: the first ``n`` (default all) images of each domain, in [-1, 1]."""
    (a, b), _ = data.load_arrays(dataset, split)
    return to_signed_unit(a[:n]), to_signed_unit(b[:n])


def train(name, out):
    """Trains (or resumes) entry ``name`` in ``out``; returns what users load."""
    cfg = zoo.info(name)
    with precision.scope(cfg.recipe.get("precision", "float32")):
        return _fit(cfg, out)


def _fit(cfg, out):
    name, recipe, crop = cfg.name, cfg.recipe, cfg.recipe.get("crop")
    keras.utils.set_random_seed(recipe["seed"])
    model = zoo.load(name, pretrained=False, image_shape=crop_shape(cfg))
    dataset = data.load(cfg.dataset, "train", recipe["batch_size"], seed=recipe["seed"])
    a, b = split_images(cfg.dataset, n=FLAGS.grid)
    if crop:
        dataset = photos.random_crops(dataset, crop, seed=recipe["seed"])
        a, b = centre_crops(a, crop), centre_crops(b, crop)
    clock = kgan_callbacks.WallClock(out / "wall_seconds.json")
    callbacks = [
        kgan_callbacks.NaNGuard(),  # first: it stops a diverged run before anything is saved
        kgan_callbacks.BackupAndRestore(out / "backup", delete_checkpoint=False),
        TranslationGrid(out / "samples", a, b, cycle=True),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        clock,
    ]
    model.fit(dataset.repeat() if FLAGS.steps_per_epoch else dataset,
              epochs=FLAGS.epochs or recipe["epochs"], steps_per_epoch=FLAGS.steps_per_epoch,
              callbacks=callbacks, verbose=2)
    (out / "run.json").write_text(json.dumps({
        "wall_seconds": round(clock.record(), 1),
        "steps": int(model.g_optimizer.iterations.numpy()),
        "hardware": publish.hardware(), "keras_backend": keras.backend.backend()}))
    entry = at_entry_size(model, name)
    zoo_weights.save_atomically(entry, out / f"{name}.weights.h5")
    return entry


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("usage: train_cyclegan.py NAME [--nopublish] [--notrain]")
    name = argv[1]
    out = Path(FLAGS.out or f"runs/{name}")
    out.mkdir(parents=True, exist_ok=True)
    if FLAGS.train:
        model = train(name, out)
    else:
        model = zoo.load(name, pretrained=False)
        zoo_weights.load_into(model, out / f"{name}.weights.h5")
    if not FLAGS.publish:
        return
    cfg = zoo.info(name)
    a, b = split_images(cfg.dataset)
    judge, classes = DOMAIN_JUDGES[cfg.dataset]
    height, width = a.shape[1:3]
    scores = {"split": "test", **domain_transfer_scores(
        model, a, b, classes, judge, batch_size=max(1, 500 * 28 * 28 // (height * width)))}
    # The training machine's backend and hardware (run.json), else this one's.
    run = {"epochs": FLAGS.epochs or cfg.recipe["epochs"],
           "hardware": publish.hardware(), "keras_backend": keras.backend.backend(),
           **json.loads((out / "run.json").read_text())}
    grid_a, grid_b = a[:FLAGS.grid], b[:FLAGS.grid]
    card = publish.publish(
        model, name, run, scores,
        samples=lambda m, path: save_translation_grid(m, grid_a, grid_b, path))
    print(f"published zoo/{name}: sha256={card['sha256']}\nmetrics={card['metrics']}")


if __name__ == "__main__":
    app.run(main)
