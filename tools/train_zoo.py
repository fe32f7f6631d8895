"""Reproduces a zoo entry from its recipe and publishes it under zoo/<name>/.

    python tools/train_zoo.py dcgan_mnist                      # train (resumable) + publish
    python tools/train_zoo.py dcgan_mnist --nopublish          # train only
    python tools/train_zoo.py dcgan_mnist --from_run DIR       # publish a run of
                                                               # tools/train_zoo_jax.py

Training uses Keras' TensorFlow backend (any machine, `fit`, resumes from
runs/<name>/backup when killed). On a GPU machine without TensorFlow,
tools/train_zoo_jax.py trains the same recipe on Keras' JAX backend; --from_run loads its
weights here, checks the images match the run's, and publishes them. Publishing writes the
weights, the sample grid and card.json (kgan.evaluation.evaluate_model with the real-data
reference: FID & co. on 10,000 samples for image generators, held-out captions for
text-to-image, the test pairs for image-to-image, 300 clips for audio, 1,200 shapes for
voxels); paste the printed sha256 into the entry's registration, which loading checks.
"""

from pathlib import Path

from absl import app, flags

from kgan import training, zoo
from kgan.evaluation import evaluate_model
from kgan.zoo import publish

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", None, "Epochs (default: the recipe's).")
flags.DEFINE_string("out", None, "Run folder (default runs/<name>).")
flags.DEFINE_boolean("publish", True, "Publish to zoo/<name>/ after training.")
flags.DEFINE_string("from_run", None, "Publish the weights of a tools/train_zoo_jax.py run "
                    "folder (holding <name>.json and its weights) instead of training.")
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
        model, run = publish.load_jax_run(name, FLAGS.from_run)
    else:
        epochs = FLAGS.epochs or cfg.recipe["epochs"]
        model, _, wall = training.train(name, Path(FLAGS.out or f"runs/{name}"), epochs=epochs,
                                        verbose=2)
        run = {"epochs": epochs, "steps": int(model.g_optimizer.iterations.numpy()),
               "wall_seconds": round(wall, 1), "hardware": publish.hardware(),
               "keras_backend": "tensorflow"}
        if not FLAGS.publish:
            return
    scores = None
    if FLAGS.eval_n != 0:
        scores = evaluate_model(model, cfg.dataset, n=FLAGS.eval_n, reference=True)
    card = publish.publish(model, name, run, scores)
    print(f"published zoo/{name}: sha256={card['sha256']}\nmetrics={card['metrics']}")


if __name__ == "__main__":
    app.run(main)
