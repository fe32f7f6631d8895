"""Trains a kgan feature-extractor classifier and writes its zoo folder.

    python tools/train_classifier.py --dataset=mnist
    python tools/train_classifier.py --dataset=fashion_mnist --out=/tmp/clf

Writes ``classifier.weights.h5``, ``card.json`` (test accuracy, recipe, wall time, hardware,
sha256) and PNGs into ``zoo/classifier_<dataset>/`` (or ``--out``). The recipe defaults to the
published one in ``kgan.evaluation.classifiers.CLASSIFIERS``; pin the printed sha256 there
after retraining.
"""

from absl import app, flags

from kgan.evaluation import classifiers
from kgan.recipes import classifiers as classifier_recipes

FLAGS = flags.FLAGS
flags.DEFINE_enum("dataset", "mnist", sorted(classifiers.CLASSIFIERS), "Data set to train on.")
flags.DEFINE_string("out", None, "Output folder (default: zoo/classifier_<dataset>/).")
flags.DEFINE_integer("epochs", None, "Override the recipe's epochs.")
flags.DEFINE_integer("batch_size", None, "Override the recipe's batch size.")
flags.DEFINE_integer("seed", None, "Override the recipe's seed.")
flags.DEFINE_integer("train_limit", None, "Train on the first N images only (smoke runs).")


def main(argv):
    del argv
    recipe = dict(classifiers.classifier_cfg(FLAGS.dataset).recipe)
    for key in ("epochs", "batch_size", "seed"):
        if getattr(FLAGS, key) is not None:
            recipe[key] = getattr(FLAGS, key)
    model, report = classifier_recipes.train_classifier(
        FLAGS.dataset, train_limit=FLAGS.train_limit, **recipe)
    card = classifier_recipes.publish(model, report, FLAGS.dataset, FLAGS.out)
    print(f"{card['name']}: test accuracy {100 * card['test_accuracy']:.2f}% "
          f"(target {100 * card['target_accuracy']:.1f}%), {card['wall_time_s']} s, "
          f"{card['weights_bytes']} bytes, sha256 {card['sha256']}")


if __name__ == "__main__":
    app.run(main)
