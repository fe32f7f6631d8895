"""Trains the text encoder of a captioned data set and publishes it in zoo/<entry>/.

    python tools/train_text_encoder.py                      # fashion_captions

Writes ``text_encoder.weights.h5`` and ``card.json`` (accuracies of class and attribute-word
prediction on the train captions and on the held-out phrasings of the test split, recipe,
wall time, sha256). Pin the printed sha256 in ``kgan.text.TEXT_ENCODERS``.
"""

from absl import app, flags

from kgan import text

FLAGS = flags.FLAGS
flags.DEFINE_enum("dataset", "fashion_captions", sorted(text.TEXT_ENCODERS),
                  "Captioned data set.")
flags.DEFINE_integer("epochs", None, "Override the recipe's epochs.")


def main(argv):
    del argv
    recipe = dict(text.TEXT_ENCODERS[FLAGS.dataset]["recipe"])
    if FLAGS.epochs is not None:
        recipe["epochs"] = FLAGS.epochs
    encoder, report = text.train_text_encoder(FLAGS.dataset, **recipe)
    card = text.publish_text_encoder(encoder, report, FLAGS.dataset)
    print(f"{card['name']}: held-out {card['heldout']}, {card['wall_seconds']} s, "
          f"sha256 {card['sha256']}")


if __name__ == "__main__":
    app.run(main)
