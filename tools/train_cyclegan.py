"""Trains a CycleGAN zoo entry from its recipe (resumable), measures it and publishes it.

    python tools/train_cyclegan.py cyclegan_sneaker2boot               # train + publish
    python tools/train_cyclegan.py cyclegan_sneaker2boot --nopublish   # train only
    python tools/train_cyclegan.py cyclegan_sneaker2boot --notrain     # publish runs/<name>
    python tools/train_cyclegan.py cyclegan_sneaker2boot --from_run DIR
                  # publish a run of tools/train_cyclegan_jax.py (GPU machines without TF)

A run writes into ``runs/<name>/``: ``backup/`` (``keras.callbacks.BackupAndRestore``:
rerunning the same command after a kill resumes from the last finished epoch, with both
optimizers, the learning-rate schedule's step and both history pools), ``samples/`` (input |
a2b | cycle back, both directions, per epoch), ``history.csv``, ``run.json`` (wall time
summed over resumes, steps) and ``<name>.weights.h5``. Publishing measures the model on
sneaker2boot's test split (``kgan.models.cyclegan.evaluate``) and writes ``zoo/<name>/``
(weights, samples.png, card.json); paste the printed sha256 into the entry's registration.
"""

import json
import time
from pathlib import Path

import keras
import numpy as np
from absl import app, flags

from kgan import data, zoo
from kgan.classifier import to_signed_unit
from kgan.datasets import sneaker2boot
from kgan.models import cyclegan
from kgan.zoo import _weights, publish

FLAGS = flags.FLAGS
flags.DEFINE_string("out", None, "Run folder (default runs/<name>).")
flags.DEFINE_boolean("train", True, "Train (or resume) before publishing.")
flags.DEFINE_boolean("publish", True, "Publish to zoo/<name>/ after training.")
flags.DEFINE_integer("grid", 10, "Columns of the sample grids.")
flags.DEFINE_integer("epochs", None, "Epochs (default: the recipe's).")
flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch (default: the whole data).")
flags.DEFINE_string("from_run", None, "Publish a tools/train_cyclegan_jax.py run folder "
                    "(holding <name>.json and its weights) instead of training.")


def fixed_images(split, n):
    a, b = sneaker2boot.domains(split)
    return to_signed_unit(a[:n]), to_signed_unit(b[:n])


def train(name, out):
    cfg = zoo.info(name)
    recipe = cfg.recipe
    keras.utils.set_random_seed(recipe["seed"])
    model = zoo.load(name, pretrained=False)
    dataset = data.load(cfg.dataset, "train", recipe["batch_size"], seed=recipe["seed"])
    a, b = fixed_images("test", FLAGS.grid)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup"), delete_checkpoint=False),
        cyclegan.TranslationGrid(out / "samples", a, b),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
    ]
    start = time.time()
    model.fit(dataset.repeat() if FLAGS.steps_per_epoch else dataset,
              epochs=FLAGS.epochs or recipe["epochs"], steps_per_epoch=FLAGS.steps_per_epoch,
              callbacks=callbacks, verbose=2)
    # Wall time adds up over resumed runs, so the card reports the whole training.
    run_file = out / "run.json"
    wall = json.loads(run_file.read_text())["wall_seconds"] if run_file.exists() else 0.0
    run_file.write_text(json.dumps({"wall_seconds": round(wall + time.time() - start, 1),
                                    "steps": int(model.g_optimizer.iterations.numpy())}))
    _weights.save_atomically(model, out / f"{name}.weights.h5")
    return model


def load_jax_run(name, run_dir, atol=0.05, mean_atol=0.005):
    """Loads a JAX run's weights and checks its recorded translations come out the same
    here (tolerance of float32 on different hardware; a wrong tensor gives errors ~1)."""
    report = json.loads((run_dir / f"{name}.json").read_text())
    model = zoo.load(name, pretrained=False)
    _weights.load_into(model, run_dir / report["weights"])
    check = report["check"]
    errors = np.concatenate([
        np.abs(model.translate(np.asarray(check[src], "float32"), direction)
               - np.asarray(check[direction], "float32")).ravel()
        for src, direction in (("a", "a2b"), ("b", "b2a"))])
    if errors.max() > atol or errors.mean() > mean_atol:
        raise ValueError(f"{name}: translations differ from the run's by up to "
                         f"{errors.max():.3g} (mean {errors.mean():.3g}); the weights did not "
                         "load as trained.")
    run = {"epochs": report["epochs_completed"], "steps": report["steps"],
           "wall_seconds": report["wall_seconds"], "hardware": report["hardware"],
           "device": report["device"], "keras_backend": report["keras_backend"],
           "stopped_early": report["stopped_early"],
           "cross_backend_max_abs_error": round(float(errors.max()), 6),
           "history": {k: [round(v, 4) for v in vs] for k, vs in report["history"].items()}}
    return model, run


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("usage: train_cyclegan.py NAME [--nopublish] [--notrain]")
    name = argv[1]
    out = Path(FLAGS.out or f"runs/{name}")
    out.mkdir(parents=True, exist_ok=True)
    if FLAGS.from_run:
        model, run = load_jax_run(name, Path(FLAGS.from_run))
    elif FLAGS.train:
        model = train(name, out)
    else:
        model = zoo.load(name, pretrained=False)
        _weights.load_into(model, out / f"{name}.weights.h5")
    if not FLAGS.publish:
        return
    cfg = zoo.info(name)
    a, b = (to_signed_unit(x) for x in sneaker2boot.domains("test"))
    scores = {"split": "test", **cyclegan.evaluate(model, a, b)}
    if not FLAGS.from_run:
        run = {"epochs": FLAGS.epochs or cfg.recipe["epochs"],
               **json.loads((out / "run.json").read_text()),
               "hardware": publish.hardware(), "keras_backend": keras.backend.backend()}
    grid_a, grid_b = fixed_images("test", FLAGS.grid)
    card = publish.publish(
        model, name, run, scores,
        samples=lambda m, path: cyclegan.save_translation_grid(m, grid_a, grid_b, path))
    print(f"published zoo/{name}: sha256={card['sha256']}\nmetrics={card['metrics']}")


if __name__ == "__main__":
    app.run(main)
