"""Trains an SRGAN zoo entry (MSE pre-training, then the GAN), measures it and publishes it.

    python tools/train_srgan.py srgan_fashion_x4               # train (resumable) + publish
    python tools/train_srgan.py srgan_fashion_x4 --nopublish   # train only

Killed runs resume from runs/<name>/ when restarted with the same command. Publishing writes
zoo/<name>/ (weights, card.json with the test-split figures of the SRGAN, of its SRResNet
stage and of bicubic upsampling, and samples.png: input | bicubic | output | target); paste
the printed sha256 into the entry's registration in kgan/models/srgan.py.
"""

from pathlib import Path

from absl import app, flags

from kgan.recipes import srgan

FLAGS = flags.FLAGS
flags.DEFINE_string("out", None, "Run folder (default runs/<name>).")
flags.DEFINE_integer("pretrain_epochs", None, "Stage-1 epochs (default: the recipe's).")
flags.DEFINE_integer("epochs", None, "GAN-stage epochs (default: the recipe's).")
flags.DEFINE_boolean("publish", True, "Measure and publish to zoo/<name>/ after training.")


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("usage: train_srgan.py NAME [--epochs N] [--nopublish]")
    name = argv[1]
    out = Path(FLAGS.out or f"runs/{name}")
    model, wall = srgan.train_stages(name, out, FLAGS.pretrain_epochs, FLAGS.epochs)
    if FLAGS.publish:
        card = srgan.publish(model, name, out, wall)
        print(f"published zoo/{name}: sha256={card['sha256']}\nmetrics={card['metrics']}")


if __name__ == "__main__":
    app.run(main)
