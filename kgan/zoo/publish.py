"""Publishing a trained model as a zoo entry: weights, sample grid and ``card.json``.

The published weights hold the generator (its EMA weights when trained with an EMA) and the
discriminator, without optimizer slots, so an entry stays a few MB; ``kgan.zoo.load``
compiles fresh optimizers from the recipe for fine-tuning.
"""

import json
import os
import platform
import time

import keras
import numpy as np

from kgan.images import save_grid
from kgan.zoo import _registry, _weights

SAMPLE_SEED = 2024


def hardware():
    """A one-line description of the machine and accelerators used."""
    if keras.backend.backend() == "jax":  # kgan.jax_training: machines without TensorFlow
        import jax

        gpus = [d.device_kind for d in jax.devices() if d.platform != "cpu"]
        framework = f"JAX {jax.__version__}, Keras {keras.__version__}"
    else:
        import tensorflow as tf

        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        framework = f"TensorFlow {tf.__version__}"
    return (f"{platform.machine()} CPU x{os.cpu_count()}, "
            f"{', '.join(gpus) if gpus else 'no GPU'}, {framework}")


def sample_grid(model, path):
    """8x8 grid from a fixed seed; conditional models: one row per class, 8 columns."""
    if model.num_classes:
        labels = np.repeat(np.arange(model.num_classes), 8)
        images = model.generate(len(labels), labels=labels, seed=SAMPLE_SEED)
        return save_grid(path, images, rows=model.num_classes)
    return save_grid(path, model.generate(64, seed=SAMPLE_SEED), rows=8)


def publish(model, name, wall_seconds, epochs, metrics=None):
    """Writes ``zoo/<name>/`` and returns the card; prints nothing, raises on failure."""
    cfg = _registry.info(name)
    folder = cfg.entry_dir
    folder.mkdir(parents=True, exist_ok=True)
    bare = _registry.create(name)
    with model.inference_weights():  # publish the generator's EMA weights when it has them
        bare.set_weights(model.get_weights())
    weights = folder / f"{name}.weights.h5"
    tmp = folder / f"{name}.tmp.weights.h5"
    bare.save_weights(str(tmp))
    os.replace(tmp, weights)
    sample_grid(model, folder / "samples.png")
    card = {
        "name": name,
        "family": cfg.family,
        "dataset": cfg.dataset,
        "split": "train",
        "image_shape": list(cfg.image_shape),
        "latent_dim": cfg.latent_dim,
        "num_classes": cfg.num_classes,
        "paper": cfg.paper,
        "license": cfg.license,
        "weights": weights.name,
        "sha256": _weights.sha256_of(weights),
        "size_bytes": weights.stat().st_size,
        "recipe": {**cfg.recipe, "epochs": epochs, "model_kwargs": cfg.model_kwargs,
                   "compile_resolved": model.get_compile_config()},
        "training": {"wall_seconds": round(wall_seconds, 1), "hardware": hardware(),
                     "steps": int(model.g_optimizer.iterations.numpy()),
                     "date": time.strftime("%Y-%m-%d")},
        "samples": "samples.png",
        "metrics": metrics or {},
    }
    (folder / "card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    return card
