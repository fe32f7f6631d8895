"""Reproduces a zoo entry from its recipe and publishes it under zoo/<name>/.

    python tools/train_zoo.py dcgan_mnist                      # train (resumable) + publish
    python tools/train_zoo.py dcgan_mnist --nopublish          # train only
    python tools/train_zoo.py dcgan_mnist --from_run DIR       # publish a run of
                                                               # tools/train_zoo_jax.py
    python tools/train_zoo.py dcgan_mnist --precision bfloat16 # mixed_bfloat16 training

Training uses Keras' TensorFlow backend (any machine, `fit`, resumes from
runs/<name>/backup when killed). On a GPU machine without TensorFlow,
tools/train_zoo_jax.py trains the same recipe on Keras' JAX backend; --from_run loads its
weights here, checks the images match the run's, and publishes them. Publishing writes the
weights, the sample grid and card.json (kgan.evaluation.evaluate_model with the real-data
reference: FID & co. on 10,000 samples for image generators, held-out captions for
text-to-image, the test pairs for image-to-image, 300 clips for audio, 1,200 shapes for
voxels); paste the printed sha256 into the entry's registration, which loading checks.
A run with --precision bfloat16 (or float16) is published from a float32 copy of the
trained model (kgan.precision.float32_copy): the card's metrics and samples are those of
the weights as users load them.
"""

from pathlib import Path

from absl import app, flags, logging

from kgan import precision, training, zoo
from kgan.evaluation import evaluate_model
from kgan.zoo import publish

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", None, "Epochs (default: the recipe's).")
flags.DEFINE_string("out", None, "Run folder (default runs/<name>).")
flags.DEFINE_boolean("publish", True, "Publish to zoo/<name>/ after training.")
flags.DEFINE_string("from_run", None, "Publish the weights of a tools/train_zoo_jax.py run "
                    "folder (holding <name>.json and its weights) instead of training.")
flags.DEFINE_enum("precision", None, list(precision.PRECISIONS),
                  "Compute precision (default: the recipe's, else float32): bfloat16 is "
                  "Keras' mixed_bfloat16 (float32 weights), float16 mixed_float16 (GPUs).")
flags.DEFINE_integer("eval_n", None, "Samples for the card's metrics (default: the kind's "
                     "own, see kgan.evaluation; 0: no metrics).")


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("usage: train_zoo.py NAME [--epochs N] [--from_run DIR]")
    name = argv[1]
    cfg = zoo.info(name)
    if FLAGS.from_run:
        if not FLAGS.publish:
            raise app.UsageError("--from_run publishes a finished run: drop --nopublish.")
        if FLAGS.precision:
            raise app.UsageError("--precision applies to training; --from_run publishes a "
                                 "finished run.")
        model, run = publish.load_jax_run(name, FLAGS.from_run)
    else:
        note = precision.warning(FLAGS.precision) if FLAGS.precision else None
        if note:
            logging.warning(note)
        epochs = FLAGS.epochs or cfg.recipe["epochs"]
        model, _, wall = training.train(name, Path(FLAGS.out or f"runs/{name}"), epochs=epochs,
                                        verbose=2, precision=FLAGS.precision)
        run = {"epochs": epochs, "steps": int(model.g_optimizer.iterations.numpy()),
               "wall_seconds": round(wall, 1), "hardware": publish.hardware(),
               "keras_backend": "tensorflow", "precision": model.dtype_policy.name}
        if not FLAGS.publish:
            return
        model = precision.float32_copy(model, name)
    scores = None
    if FLAGS.eval_n != 0:
        scores = evaluate_model(model, cfg.dataset, n=FLAGS.eval_n, reference=True)
    card = publish.publish(model, name, run, scores)
    print(f"published zoo/{name}: sha256={card['sha256']}\nmetrics={card['metrics']}")


if __name__ == "__main__":
    app.run(main)
