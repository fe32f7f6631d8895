"""Trains zoo entries with Keras on JAX (machines with a GPU and JAX but no TensorFlow).

    KERAS_BACKEND=jax python tools/train_zoo_jax.py dcgan_mnist cgan_mnist \\
        --data_dir .dev/data --out runs_jax [--epochs N] [--max_minutes M]

For each NAME: builds ``kgan.zoo.load(NAME, pretrained=False)`` (compiled with the recipe),
reads the entry's data set from ``<data_dir>/<dataset>/`` (IDX ``.gz`` files), trains with
``kgan.jax_training.fit_jax`` and writes into ``--out``:

* ``<name>.weights.h5``: generator + discriminator only, like ``kgan/zoo/publish.py``
  (written after every epoch too, so a killed run still leaves weights);
* ``<name>_samples.png``: publish's sample grid (fixed seed; one row per class);
* ``<name>.json``: per-epoch losses, wall/compile time, device, versions, epochs, steps;
* ``<name>_progress/epoch_XXXX.png``: grids every ``--sample_every`` epochs.

Run one process per entry to share one GPU: the script turns off JAX's preallocation of
75% of GPU memory (``XLA_PYTHON_CLIENT_PREALLOCATE=false``) unless it is set already.
The weights load under TensorFlow with ``kgan.zoo._weights.load_into(model, path)``.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
# Several of these processes share one GPU: allocate on demand instead of taking 75%.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "Folder holding <dataset>/ with the IDX .gz files "
                    "(default: $KGAN_DATA_DIR, then ../shared/data).")
flags.DEFINE_string("out", "runs_jax", "Output folder.")
flags.DEFINE_integer("epochs", None, "Epochs (default: the recipe's).")
flags.DEFINE_integer("batch_size", None, "Batch size (default: the recipe's).")
flags.DEFINE_integer("max_steps", None, "Stop after this many steps (smoke tests).")
flags.DEFINE_float("max_minutes", None, "Stop training gracefully after this many minutes "
                   "from the start of this process, and still write weights and samples.")
flags.DEFINE_integer("log_every", 100, "Steps per jitted call (and per progress line with -v).")
flags.DEFINE_integer("sample_every", 5, "Write a progress grid every N epochs (0: never).")
flags.DEFINE_integer("limit_images", None, "Use only the first N training images (tests).")
flags.DEFINE_integer("verbose", 1, "0 silent, 1 a line per epoch, 2 a line per call.")

_PROCESS_START = time.time()


def _log(msg):
    print(msg, flush=True)


def find_dataset(name, data_dir):
    from kgan.idx import default_roots

    repo = Path(__file__).resolve().parents[1]
    roots = ([Path(data_dir)] if data_dir else []) + [repo / ".dev" / "data"] + default_roots()
    for root in roots:
        if (root / name / "train-images-idx3-ubyte.gz").exists():
            return root / name
    raise FileNotFoundError(
        f"No IDX files for {name!r} in {', '.join(str(r / name) for r in roots)}.")


def train_one(name, out):
    import jax
    import keras

    import kgan
    from kgan import datasets, jax_training, zoo
    from kgan.datasets import DERIVED_DATASETS
    from kgan.idx import read_split
    from kgan.images import save_grid
    from kgan.zoo import _weights, publish

    cfg = zoo.info(name)
    recipe = cfg.recipe
    epochs = FLAGS.epochs or recipe.get("epochs", 1)
    batch_size = FLAGS.batch_size or recipe.get("batch_size", 128)
    seed = recipe.get("seed", 0)
    keras.utils.set_random_seed(seed)  # as kgan.training.train: same initial weights draw
    model = zoo.load(name, pretrained=False)
    if hasattr(model, "adapt_dataset"):  # data statistics kept with the model (SpecGAN)
        model.adapt_dataset(cfg.dataset, FLAGS.data_dir)
    if cfg.dataset in DERIVED_DATASETS:  # TensorFlow-free numpy arrays
        folder = cfg.dataset
        images, labels = datasets.module(cfg.dataset).load_arrays("train", FLAGS.data_dir)
    else:
        folder = find_dataset(cfg.dataset, FLAGS.data_dir)
        images, labels = read_split(folder, "train")
    if FLAGS.limit_images:
        images, labels = images[: FLAGS.limit_images], labels[: FLAGS.limit_images]
    _log(f"{name}: {len(images)} images from {folder}, {epochs} epochs of "
         f"{len(images) // batch_size} steps at batch {batch_size}, d_steps={model.d_steps}, "
         f"loss={model.loss_name}, gp={model.gp_weight}, on {jax.devices()[0].device_kind}")

    out.mkdir(parents=True, exist_ok=True)
    weights_path = out / f"{name}.weights.h5"
    progress = out / f"{name}_progress"

    def on_epoch_end(epoch, logs):
        publish.save_entry_weights(model, name, weights_path)
        if FLAGS.sample_every and (epoch + 1) % FLAGS.sample_every == 0:
            publish.sample_grid(model, progress / f"epoch_{epoch + 1:04d}.png")

    max_seconds = None
    if FLAGS.max_minutes is not None:
        max_seconds = FLAGS.max_minutes * 60 - (time.time() - _PROCESS_START)
    result = jax_training.fit_jax(
        model, images, labels if model.conditional else None, epochs=epochs,
        batch_size=batch_size, seed=seed, log_every=FLAGS.log_every,
        on_epoch_end=on_epoch_end, max_steps=FLAGS.max_steps, max_seconds=max_seconds,
        verbose=FLAGS.verbose, print_fn=_log)
    publish.save_entry_weights(model, name, weights_path)
    publish.sample_grid(model, out / f"{name}_samples.png")
    # Reference outputs for the cross-backend check: G on fixed latents (and labels).
    n_check = 8 if getattr(model, "modality", "image") == "image" else 2  # clips are long
    z = keras.random.normal((n_check, model.latent_dim), seed=123)
    z = keras.ops.convert_to_numpy(z)
    check_labels = ([c % model.num_classes for c in range(n_check)] if model.conditional
                    else None)
    check = publish.check_outputs(model, z, check_labels)
    if check.ndim == 4:  # images (audio runs have their samples figure)
        save_grid(out / f"{name}_check.png", check, rows=1)
    report = {
        "name": name,
        "family": cfg.family,
        "dataset": cfg.dataset,
        "epochs_requested": epochs,
        "epochs_completed": result["epochs_completed"],
        "steps": result["steps"],
        "batch_size": batch_size,
        "stopped_early": result["stopped_early"],
        "wall_seconds": result["wall_seconds"],
        "compile_seconds": result["compile_seconds"],
        "process_seconds": round(time.time() - _PROCESS_START, 1),
        "device": result["device"],
        "hardware": publish.hardware(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "jax": jax.__version__,
        "keras": keras.__version__,
        "kgan": kgan.__version__,
        "keras_backend": keras.backend.backend(),
        "recipe": recipe,
        "compile_resolved": {"loss": model.loss_name, "d_steps": model.d_steps,
                             "gp_weight": model.gp_weight, "r1_weight": model.r1_weight,
                             "ema_decay": model.ema_decay},
        "history": result["history"],
        "weights": weights_path.name,
        "sha256": _weights.sha256_of(weights_path),
        "size_bytes": weights_path.stat().st_size,
        "samples": f"{name}_samples.png",
        "check": {"z": z.tolist(), "labels": check_labels, "images": check.tolist()},
    }
    (out / f"{name}.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    _log(f"{name}: wrote {weights_path} ({report['size_bytes']} bytes, sha256 "
         f"{report['sha256'][:12]}...), {result['epochs_completed']} epochs, "
         f"{result['steps']} steps in {result['wall_seconds']}s"
         + (" (stopped early)" if result["stopped_early"] else ""))
    return report


def main(argv):
    names = argv[1:]
    if not names:
        raise app.UsageError("usage: train_zoo_jax.py NAME [NAME ...] [--epochs N] ...")
    import keras

    if keras.backend.backend() != "jax":
        raise app.UsageError(f"KERAS_BACKEND must be jax (it is {keras.backend.backend()}).")
    from kgan import zoo

    for name in names:
        zoo.info(name)  # unknown names fail before any training
    out = Path(FLAGS.out)
    for name in names:
        train_one(name, out)


if __name__ == "__main__":
    app.run(main)
