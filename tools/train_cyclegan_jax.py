"""Trains a CycleGAN zoo entry with Keras on JAX (GPU machines without TensorFlow).

    KERAS_BACKEND=jax python tools/train_cyclegan_jax.py cyclegan_sneaker2boot --out DIR \
        [--data_dir D] [--epochs N] [--max_minutes M]

Writes into DIR: ``<name>.weights.h5`` (the four networks and both pools, no optimizer
slots), ``<name>.json`` (recipe, steps, wall time, hardware, per-epoch history, and fixed
test images with their translations for the cross-backend check), ``samples/`` (input |
a2b | cycle back per epoch) and the final ``<name>_samples.png``. Publish the run under
TensorFlow with ``python tools/train_cyclegan.py NAME --from_run DIR``.
"""

import json
import time
from pathlib import Path

from absl import app, flags

_START = time.time()
FLAGS = flags.FLAGS
flags.DEFINE_string("out", None, "Run folder.", required=True)
flags.DEFINE_string("data_dir", None, "Folder holding fashion_mnist/ (default: kgan's search).")
flags.DEFINE_integer("epochs", None, "Epochs (default: the recipe's).")
flags.DEFINE_float("max_minutes", None, "Stop after this many minutes (imports included).")
flags.DEFINE_integer("check", 8, "Test images per domain kept for the cross-backend check.")


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("usage: train_cyclegan_jax.py NAME --out DIR")
    import jax
    import keras

    from kgan import jax_cyclegan, zoo
    from kgan.classifier import to_signed_unit
    from kgan.datasets import sneaker2boot
    from kgan.models import cyclegan
    from kgan.zoo import publish

    name, out = argv[1], Path(FLAGS.out)
    cfg = zoo.info(name)
    recipe = cfg.recipe
    epochs = FLAGS.epochs or recipe["epochs"]
    keras.utils.set_random_seed(recipe["seed"])
    model = zoo.load(name, pretrained=False)
    a, b = sneaker2boot.domains("train", FLAGS.data_dir)
    ta, tb = (to_signed_unit(x[:FLAGS.check]) for x in sneaker2boot.domains("test", FLAGS.data_dir))
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{name}.weights.h5"

    def on_epoch_end(epoch, logs):
        publish.save_entry_weights(model, name, weights)
        grid = out / "samples" / f"epoch_{epoch + 1:04d}.png"
        cyclegan.save_translation_grid(model, ta, tb, grid)

    max_seconds = None if FLAGS.max_minutes is None else FLAGS.max_minutes * 60 - (
        time.time() - _START)
    result = jax_cyclegan.fit_jax(model, a, b, epochs=epochs, batch_size=recipe["batch_size"],
                                  seed=recipe["seed"], on_epoch_end=on_epoch_end,
                                  max_seconds=max_seconds)
    publish.save_entry_weights(model, name, weights)
    cyclegan.save_translation_grid(model, ta, tb, out / f"{name}_samples.png")
    report = {
        "name": name, "weights": weights.name, "epochs_requested": epochs,
        "epochs_completed": result["epochs_completed"], "steps": result["steps"],
        "batch_size": recipe["batch_size"], "wall_seconds": result["wall_seconds"],
        "stopped_early": result["stopped_early"], "history": result["history"],
        "hardware": publish.hardware(), "device": jax.devices()[0].device_kind,
        "keras_backend": keras.backend.backend(),
        "check": {"a": ta.tolist(), "b": tb.tolist(),
                  "a2b": model.translate(ta, "a2b").tolist(),
                  "b2a": model.translate(tb, "b2a").tolist()},
    }
    (out / f"{name}.json").write_text(json.dumps(report))
    print(f"{name}: {result['steps']} steps in {result['wall_seconds']} s -> {out}")


if __name__ == "__main__":
    app.run(main)
