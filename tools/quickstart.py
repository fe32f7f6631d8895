"""The README's main job: load a trained zoo GAN, save a sample grid, fine-tune a few steps.

    python tools/quickstart.py [--name dcgan_mnist] [--out quickstart] [--steps 5]
"""

from pathlib import Path

from absl import app, flags

import kgan
from kgan.zoo.publish import sample_grid

FLAGS = flags.FLAGS
flags.DEFINE_string("name", "dcgan_mnist", "Zoo entry to load.")
flags.DEFINE_string("out", "quickstart", "Folder for the sample grids.")
flags.DEFINE_integer("steps", 5, "Fine-tuning steps on the entry's local data set.")


def main(argv):
    del argv
    out = Path(FLAGS.out)
    model = kgan.zoo.load(FLAGS.name)
    before = sample_grid(model, out / f"{FLAGS.name}_samples.png")
    print(f"sample grid of the published {FLAGS.name}: {before.resolve()}")
    cfg = kgan.zoo.info(FLAGS.name)
    batch_size, labels = cfg.recipe.get("batch_size", 128), model.num_classes > 0
    try:
        data = kgan.data.load(cfg.dataset, batch_size=batch_size, labels=labels)
    except FileNotFoundError as err:
        if cfg.dataset != "mnist":
            raise app.UsageError(str(err).splitlines()[0]) from None
        print("no local MNIST and no network: fine-tuning on the 1,000 MNIST test digits "
              "shipped in kgan/assets")
        data = kgan.data.embedded_mnist(batch_size, labels)
    history = model.fit(data, epochs=1, steps_per_epoch=FLAGS.steps, verbose=2)
    after = sample_grid(model, out / f"{FLAGS.name}_finetuned_samples.png")
    losses = {k: round(float(v[-1]), 3) for k, v in history.history.items()}
    print(f"fine-tuned {FLAGS.steps} steps ({losses}); new grid: {after.resolve()}")


if __name__ == "__main__":
    app.run(main)
