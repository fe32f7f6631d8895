"""Trains the text encoder of a captioned data set and publishes it in zoo/<entry>/.

    python tools/train_text_encoder.py                      # fashion_captions

Writes ``text_encoder.weights.h5`` and ``card.json`` (accuracies of class and attribute-word
prediction on the train captions and on the held-out phrasings of the test split, recipe,
wall time, sha256). Pin the printed sha256 in ``kgan.modalities.text.TEXT_ENCODERS``.
"""

from absl import app, flags

from kgan.modalities.text import TEXT_ENCODERS
from kgan.recipes import text_encoder

FLAGS = flags.FLAGS
flags.DEFINE_enum("dataset", "fashion_captions", sorted(TEXT_ENCODERS),
                  "Captioned data set.")
flags.DEFINE_integer("epochs", None, "Override the recipe's epochs.")


def main(argv):
    del argv
    recipe = dict(TEXT_ENCODERS[FLAGS.dataset]["recipe"])
    if FLAGS.epochs is not None:
        recipe["epochs"] = FLAGS.epochs
    encoder, report = text_encoder.train_text_encoder(FLAGS.dataset, **recipe)
    card = text_encoder.publish_text_encoder(encoder, report, FLAGS.dataset)
    print(f"{card['name']}: held-out {card['heldout']}, {card['wall_seconds']} s, "
          f"sha256 {card['sha256']}")


if __name__ == "__main__":
    app.run(main)
