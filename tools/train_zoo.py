"""Reproduces a zoo entry from its recipe and publishes it under zoo/<name>/.

    python tools/train_zoo.py dcgan_mnist                      # train (resumable) + publish
    python tools/train_zoo.py dcgan_mnist --nopublish          # train only
    python tools/train_zoo.py dcgan_mnist --from_run runs/dcgan_mnist  # publish that run
    python tools/train_zoo.py dcgan_mnist --precision bfloat16 # mixed_bfloat16 training
    KERAS_BACKEND=jax python tools/train_zoo.py dcgan_mnist --nopublish  # GPU machines

Training is `model.fit` on the active Keras backend, TensorFlow or JAX (resumes from
runs/<name>/backup when killed). Every run ends by writing <out>/<name>.json and
<name>.entry.weights.h5 (kgan.zoo.publish.write_run: the run's facts, its real
"keras_backend", and G's images on fixed latents). The card's metrics need TensorFlow
(InceptionV3 and the classifiers' feature pipelines), so on a GPU machine with JAX and no
TensorFlow train with --nopublish, then on a TensorFlow machine --from_run loads the
run's weights, checks the images match the run's, and publishes them. Publishing writes the
weights, the sample grid and card.json (kgan.evaluation.evaluate with the real-data
reference: FID & co. on 10,000 samples for image generators, held-out captions for
text-to-image, the test pairs for image-to-image, 300 clips for audio, 1,200 shapes for
voxels); paste the printed sha256 into the entry's registration, which loading checks.
A run with --precision bfloat16 (or float16) is published from a float32 copy of the
trained model (kgan.precision.float32_copy): the card's metrics and samples are those of
the weights as users load them.
"""

from pathlib import Path

import keras
from absl import app, flags, logging

from kgan import data, precision, training, zoo
from kgan.evaluation import evaluate
from kgan.zoo import publish

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", None, "Epochs (default: the recipe's).")
flags.DEFINE_string("out", None, "Run folder (default runs/<name>).")
flags.DEFINE_boolean("publish", True, "Publish to zoo/<name>/ after training.")
flags.DEFINE_string("from_run", None, "Publish the weights of a finished run folder of "
                    "this script (holding <name>.json and <name>.entry.weights.h5, from any "
                    "backend) instead of training.")
flags.DEFINE_string("data_dir", None, "Folder holding <dataset>/ (default: $KGAN_DATA_DIR, "
                    "then ../shared/data).")
flags.DEFINE_integer("steps_per_epoch", None, "Limit the steps per epoch (smoke runs).")
flags.DEFINE_float("max_minutes", None, "Stop after the first epoch that ends past this many "
                   "minutes (the run stays resumable; its report says stopped_early).")
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
        model, run = publish.load_run(name, FLAGS.from_run)
    else:
        if FLAGS.publish and FLAGS.eval_n != 0 and not data.tensorflow_available():
            raise app.UsageError(
                "the card's metrics need TensorFlow, and `import tensorflow` fails here: "
                "train with --nopublish, then publish on a TensorFlow machine with "
                f"`python tools/train_zoo.py {name} --from_run <the run folder>`.")
        note = precision.warning(FLAGS.precision) if FLAGS.precision else None
        if note:
            logging.warning(note)
        epochs = FLAGS.epochs or cfg.recipe["epochs"]
        out = Path(FLAGS.out or f"runs/{name}")
        max_seconds = None if FLAGS.max_minutes is None else FLAGS.max_minutes * 60
        model, history, wall = training.train(name, out, epochs=epochs, verbose=2,
                                              precision=FLAGS.precision,
                                              data_dir=FLAGS.data_dir, max_seconds=max_seconds,
                                              steps_per_epoch=FLAGS.steps_per_epoch)
        steps = int(keras.ops.convert_to_numpy(model.g_optimizer.iterations))
        epochs_done = min(training.epochs_done(out, history), epochs)
        run = {"epochs": epochs_done, "steps": steps, "wall_seconds": round(wall, 1),
               "hardware": publish.hardware(), "keras_backend": keras.backend.backend(),
               "precision": model.dtype_policy.name, "epochs_requested": epochs,
               "stopped_early": epochs_done < epochs, "dataset": cfg.dataset,
               "history": history}
        model = precision.float32_copy(model, name)
        publish.write_run(model, name, out, run)
        for key in ("history", "dataset", "epochs_requested"):  # the report's, not the card's
            run.pop(key)
        if not FLAGS.publish:
            print(f"trained {name} on {keras.backend.backend()}: {epochs_done}/{epochs} epochs, "
                  f"{steps} steps; publish with --from_run {out}")
            return
    scores = None
    if FLAGS.eval_n != 0:
        scores = evaluate(model, cfg.dataset, n=FLAGS.eval_n, reference=True)
    card = publish.publish(model, name, run, scores)
    print(f"published zoo/{name}: sha256={card['sha256']}\nmetrics={card['metrics']}")


if __name__ == "__main__":
    app.run(main)
