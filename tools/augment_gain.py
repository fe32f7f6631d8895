"""Measures what DiffAugment gains on little data: a zoo recipe trained on a small data set
with and without augmentation, same seed and steps, both scored on the full test split.

    python tools/augment_gain.py                       # dcgan_cifar10 on cifar10_10pct
    python tools/augment_gain.py --epochs 100 --out runs/augment_gain

Each run goes to ``<out>/none`` or ``<out>/<augment>`` (resumable: rerunning continues from the backups) and the
scores, ``kgan.metrics.evaluate`` of the float32 model on ``--test_data``, to
``<out>/results.json``; each run's last sample grid is ``<out>/<policy>/samples_final.png``.
"""

import json
from pathlib import Path

from absl import app, flags

from kgan import metrics, precision, training
from kgan.modalities import images

FLAGS = flags.FLAGS
flags.DEFINE_string("entry", "dcgan_cifar10", "Zoo entry whose recipe is trained.")
flags.DEFINE_string("data", "cifar10_10pct", "The small training set.")
flags.DEFINE_string("test_data", "cifar10", "Data set whose test split scores both runs.")
flags.DEFINE_integer("epochs", 100, "Epochs of each run (over the small set).")
flags.DEFINE_string("augment", "color,translation,cutout",
                    "The augmentation compared with none (compile's augment=).")
flags.DEFINE_integer("n", 10000, "Samples scored per run.")
flags.DEFINE_string("out", "runs/augment_gain", "Folder of the runs and results.json.")


def main(argv):
    del argv
    out = Path(FLAGS.out)
    results = {}
    for policy in (None, FLAGS.augment):
        tag = policy or "none"
        run = out / tag.replace(",", "+")
        model, _, wall = training.train(
            FLAGS.entry, run, data=FLAGS.data, epochs=FLAGS.epochs, verbose=2,
            augment=policy)
        model = precision.float32_copy(model, FLAGS.entry)
        images.save_grid(run / "samples_final.png", model.generate(64, seed=0))
        scores = metrics.evaluate(model, FLAGS.test_data, n=FLAGS.n)
        results[tag] = {"entry": FLAGS.entry, "data": FLAGS.data, "epochs": FLAGS.epochs,
                        "wall_seconds": round(wall, 1),
                        **{k: float(v) for k, v in scores.items()
                           if isinstance(v, (int, float))}}
        print(tag, json.dumps(results[tag]), flush=True)
        (out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    app.run(main)
