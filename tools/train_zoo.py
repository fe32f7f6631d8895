"""Reproduces a zoo entry from its recipe and publishes it under zoo/<name>/.

    python tools/train_zoo.py dcgan_mnist                  # train (resumable) + publish
    python tools/train_zoo.py dcgan_mnist --nopublish      # train only
    python tools/train_zoo.py dcgan_mnist --publish_only   # publish runs/<name>'s weights

Training resumes from runs/<name>/backup when killed. Publishing writes the weights, the
sample grid and card.json (with kgan.metrics figures on --eval_n samples against the test
split); paste the printed sha256 into the entry's registration, which loading checks.
"""

import json
from pathlib import Path

from absl import app, flags

from kgan import training, zoo
from kgan.zoo import _weights, publish

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", None, "Epochs (default: the recipe's).")
flags.DEFINE_string("out", None, "Run folder (default runs/<name>).")
flags.DEFINE_boolean("publish", True, "Publish to zoo/<name>/ after training.")
flags.DEFINE_boolean("publish_only", False, "Skip training; publish the run's final weights.")
flags.DEFINE_integer("eval_n", 10000, "Samples for the card's metrics (0: no metrics).")


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("usage: train_zoo.py NAME [--epochs N] [--publish_only]")
    name = argv[1]
    cfg = zoo.info(name)
    epochs = FLAGS.epochs or cfg.recipe["epochs"]
    run_dir = Path(FLAGS.out or f"runs/{name}")
    if FLAGS.publish_only:
        model = zoo.load(name, pretrained=False)
        _weights.load_into(model, run_dir / f"{name}.weights.h5")
        wall = json.loads((run_dir / "wall_seconds.json").read_text())["total"]
    else:
        model, _, wall = training.train(name, run_dir, epochs=epochs, verbose=2)
    if not (FLAGS.publish or FLAGS.publish_only):
        return
    metrics = None
    if FLAGS.eval_n:
        from kgan import metrics as kgan_metrics

        metrics = kgan_metrics.evaluate(model, cfg.dataset, n=FLAGS.eval_n)
    card = publish.publish(model, name, wall, epochs, metrics)
    print(f"published zoo/{name}: sha256={card['sha256']}\nmetrics={card['metrics']}")


if __name__ == "__main__":
    app.run(main)
