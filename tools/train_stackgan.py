"""Trains StackGAN's two stages with ``fit`` and publishes ``stackgan_fashion``.

    python tools/train_stackgan.py                    # stage I, then stage II, then publish
    python tools/train_stackgan.py --nopublish        # train only
    python tools/train_stackgan.py --backup_every 200 # back up every 200 batches

Stage I (zoo entry ``stackgan_fashion_stage1``, 16x16) trains into ``<out>/stage1``; stage II
(``stackgan_fashion``, 32x32) takes its generator (EMA weights), frozen, and trains into
``<out>/stage2``. Both stages resume from their backups when the script is run again (a
finished stage trains no more epochs). Publishing writes zoo/stackgan_fashion/ with the
captioned samples, the caption interpolations, ``stages.png`` (stage I next to stage II) and
a card whose ``training`` holds both stages' recipes and runs; metrics are
``kgan.evaluation.text.evaluate`` on held-out captions (border cropped off).
"""

from pathlib import Path

from absl import app, flags

from kgan import training, zoo
from kgan.data.sets import module
from kgan.evaluation import images as image_measures
from kgan.evaluation import text as text_measures
from kgan.zoo import publish

FLAGS = flags.FLAGS
flags.DEFINE_integer("stage1_epochs", None, "Stage I epochs (default: its recipe's).")
flags.DEFINE_integer("stage2_epochs", None, "Stage II epochs (default: its recipe's).")
flags.DEFINE_string("out", "runs/stackgan_fashion", "Run folder.")
flags.DEFINE_integer("backup_every", None, "Batches between backups (default: each epoch).")
flags.DEFINE_boolean("publish", True, "Publish zoo/stackgan_fashion/ after training.")
flags.DEFINE_integer("eval_n", 10000, "Samples for the card's metrics (0: no metrics).")

STAGE1, STAGE2 = "stackgan_fashion_stage1", "stackgan_fashion"


def _run(name, out, epochs, model, wall):
    """A stage's recipe and how it ran, for the card."""
    cfg = zoo.info(name)
    return {"entry": name, "dataset": cfg.dataset, "recipe": cfg.recipe,
            "model_kwargs": cfg.model_kwargs, "epochs": epochs,
            "steps": int(model.g_optimizer.iterations.numpy()), "wall_seconds": round(wall, 1),
            "run_dir": str(out)}


def main(argv):
    if len(argv) != 1:
        raise app.UsageError("train_stackgan.py takes flags only.")
    out = Path(FLAGS.out)
    epochs1 = FLAGS.stage1_epochs or zoo.info(STAGE1).recipe["epochs"]
    stage1, _, wall1 = training.train(STAGE1, out / "stage1", epochs=epochs1, verbose=2,
                                      backup_every=FLAGS.backup_every)
    epochs2 = FLAGS.stage2_epochs or zoo.info(STAGE2).recipe["epochs"]
    stage2, _, wall2 = training.train(STAGE2, out / "stage2", epochs=epochs2, verbose=2,
                                      backup_every=FLAGS.backup_every, prepare=stage2_prep(stage1))
    if not FLAGS.publish:
        return
    run = {"stage1": _run(STAGE1, out / "stage1", epochs1, stage1, wall1),
           "stage2": _run(STAGE2, out / "stage2", epochs2, stage2, wall2),
           "epochs": epochs2, "steps": int(stage2.g_optimizer.iterations.numpy()),
           "wall_seconds": round(wall1 + wall2, 1), "hardware": publish.hardware(),
           "keras_backend": "tensorflow"}
    scores = None
    if FLAGS.eval_n:
        dataset = zoo.info(STAGE2).dataset
        scores = text_measures.evaluate(stage2, dataset, n=FLAGS.eval_n)
        floor = image_measures.real_floor(module(dataset).CLASSIFIER_DATASET,
                                          n=FLAGS.eval_n)
        scores["real_floor"] = {k: floor[k] for k in ("fid", "kid_mean", "precision",
                                                      "recall", "class_kl")}
    card = publish.publish(stage2, STAGE2, run, scores)
    print(f"published zoo/{STAGE2}: sha256={card['sha256']}\nmetrics={card['metrics']}")


def stage2_prep(stage1):
    """``training.train``'s ``prepare``: stage II starts from the trained stage-I generator
    (a resumed run then restores its backup, which holds the same stage-I weights)."""
    return lambda model: model.set_stage1(stage1)


if __name__ == "__main__":
    app.run(main)
