"""Fine-tunes a trained image-to-image entry's filter network so that it quantizes to int8.

    python tools/int8_finetune.py cyclegan_horse2zebra \\
        --weights runs/cyclegan_horse2zebra/cyclegan_horse2zebra.weights.h5
    python tools/train_cyclegan.py cyclegan_horse2zebra --notrain \\
        --out runs/cyclegan_horse2zebra_int8          # measure and publish the result

The settings come from the entry's recipe (``"int8_finetune"``: direction, steps, batch size,
learning rate, penalty weight, threshold and the share of target-domain images in the
inputs); :mod:`kgan.export.outlier_finetune` says what the fine-tuning does and why.
``--weights`` is the model to start from (default: the published one).

The run writes into ``--out`` (default ``runs/<name>_int8``): ``backup/``
(``kgan.callbacks.BackupAndRestore``: rerunning the command after a kill resumes from the
last finished epoch of 100 steps), ``history.csv``, ``wall_seconds.json``, ``run.json`` (the
starting run's record, when ``--weights`` sits beside one, with this stage's wall time added
and its settings under ``"int8_finetune"``) and ``<name>.weights.h5``, the whole model with
the fine-tuned filter network, which ``tools/train_cyclegan.py --notrain --out`` publishes.
"""

import json
from pathlib import Path

import keras
import numpy as np
from absl import app, flags

from kgan import callbacks as kgan_callbacks, data, zoo
from kgan.evaluation.classifiers import to_signed_unit
from kgan.export.outlier_finetune import finetune_for_int8
from kgan.zoo import publish, weights as zoo_weights

FLAGS = flags.FLAGS
flags.DEFINE_string("weights", None, "Weights of the whole model to start from (default: the "
                    "published ones).")
flags.DEFINE_string("out", None, "Run folder (default runs/<name>_int8).")


def training_sources(name, direction, directions, target_share=0.0):
    """The filter's training inputs in [-1, 1], plus target-domain images making up
    ``target_share`` of the whole (a CycleGAN generator also meets those: its identity term;
    leave it 0 for paired models)."""
    (a, b), _ = data.load_arrays(zoo.info(name).dataset, "train")
    sources, targets = (a, b) if direction == directions[0] else (b, a)
    wanted = int(round(len(sources) * target_share / (1.0 - target_share)))
    pick = np.random.default_rng(0).choice(len(targets), min(wanted, len(targets)),
                                           replace=False)
    return to_signed_unit(np.concatenate([sources, targets[np.sort(pick)]]))


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("usage: int8_finetune.py NAME [--weights FILE] [--out DIR]")
    name = argv[1]
    settings = zoo.info(name).recipe.get("int8_finetune")
    if settings is None:
        raise app.UsageError(f"{name}'s recipe has no 'int8_finetune' settings; entries with "
                             "them: " + ", ".join(
                                 n for n in zoo.list_models()
                                 if "int8_finetune" in zoo.info(n).recipe))
    out = Path(FLAGS.out or f"runs/{name}_int8")
    out.mkdir(parents=True, exist_ok=True)
    model = zoo.load(name, pretrained=FLAGS.weights is None, compile=False)
    if FLAGS.weights:
        zoo_weights.load_into(model, FLAGS.weights)
    keras.utils.set_random_seed(0)
    clock = kgan_callbacks.WallClock(out / "wall_seconds.json")
    finetune_for_int8(
        model.filter_model(settings["direction"]),
        training_sources(name, settings["direction"], model.directions,
                         settings.get("target_share", 0.0)),
        steps=settings["steps"], batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"], penalty_weight=settings["penalty_weight"],
        threshold=settings["threshold"], steps_per_epoch=settings.get("steps_per_epoch", 100),
        callbacks=[
            kgan_callbacks.NaNGuard(),
            kgan_callbacks.BackupAndRestore(out / "backup", delete_checkpoint=False),
            keras.callbacks.CSVLogger(str(out / "history.csv"), append=True), clock])
    start = Path(FLAGS.weights).parent / "run.json" if FLAGS.weights else None
    run = json.loads(start.read_text()) if start and start.exists() else {}
    seconds = round(clock.record(), 1)
    run.update(wall_seconds=round(run.get("wall_seconds", 0.0) + seconds, 1),
               int8_finetune={**settings, "wall_seconds": seconds,
                              "hardware": publish.hardware(),
                              "keras_backend": keras.backend.backend()})
    (out / "run.json").write_text(json.dumps(run, indent=1))
    zoo_weights.save_atomically(model, out / f"{name}.weights.h5")
    print(f"wrote {out / (name + '.weights.h5')}; publish it with tools/train_cyclegan.py "
          f"{name} --notrain --out {out}")


if __name__ == "__main__":
    app.run(main)
