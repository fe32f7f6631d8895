"""Publishing a trained model as a zoo entry: weights, sample grid and ``card.json``.

The published weights hold the generator (its EMA weights when trained with an EMA) and the
discriminator, without optimizer slots and, for the largest entries, in float16, so an entry
stays small; ``kgan.zoo.load`` compiles fresh optimizers from the recipe for fine-tuning.
"""

import json
import time
from pathlib import Path

import keras
import numpy as np

from kgan.modalities.images import sample_images, save_grid
from kgan.translation import TranslationGAN
from kgan.zoo import registry, weights as zoo_weights
from kgan.zoo.hardware import hardware

SAMPLE_SEED = 2024


def write_run(model, name, out_dir, training, check_seed=123):
    """Writes what :func:`load_run` publishes from, on any backend: ``<name>.entry.weights.h5``
    (:func:`save_entry_weights`) and ``<name>.json``, the run's ``training`` facts (epochs,
    steps, wall seconds, hardware, ``keras_backend``...) plus G's outputs on fixed latents.

    ``tools/train_zoo.py --nopublish`` (and ``kgan train`` through it) writes it at the end of
    a run, so a run trained where the card's metrics cannot be computed (the GPU machines have
    JAX, the metrics' networks TensorFlow) is published elsewhere with ``--from_run``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights_path = out / f"{name}.entry.weights.h5"
    save_entry_weights(model, name, weights_path)
    check = write_check(model, name, out, check_seed)
    report = {
        "name": name,
        "epochs_completed": training["epochs"],
        "steps": training["steps"],
        "wall_seconds": training["wall_seconds"],
        "hardware": training.get("hardware") or hardware(),
        "keras_backend": training.get("keras_backend") or keras.backend.backend(),
        "stopped_early": bool(training.get("stopped_early", False)),
        **{k: v for k, v in training.items()
           if k not in ("epochs", "steps", "wall_seconds", "hardware", "keras_backend",
                        "stopped_early")},
        "weights": weights_path.name,
        "sha256": zoo_weights.sha256_of(weights_path),
        "check": check,
    }
    zoo_weights.write_text_atomically(out / f"{name}.json",
                                   json.dumps(report, indent=1, default=str) + "\n")
    return report


def load_run(name, run_dir, atol=0.05, mean_atol=0.005):
    """Loads a run written by :func:`write_run` (``tools/train_zoo.py --nopublish``, on any
    backend) under this backend and checks it.

    The run's report holds a few latents and the images the run's model generated from them;
    the same latents through the loaded model must give the same images, which proves the
    weights, BatchNorm statistics and EMA survived the trip between backends. The tolerance
    is that of float32 on different hardware: JAX runs GPU matmuls and convolutions in TF32
    by default (about 3 decimal digits), here the CPU computes in full float32 (a wrong or
    missing tensor shows up as errors of order 1).

    Returns:
        ``(model, training)`` where ``training`` feeds :func:`publish`.
    """
    run_dir = Path(run_dir)
    report = json.loads((run_dir / f"{name}.json").read_text())
    model = registry.load(name, pretrained=False)
    zoo_weights.load_into(model, run_dir / report["weights"])
    inputs, expected = read_check(report["check"], run_dir)
    diff = np.abs(check_outputs(model, inputs) - expected)
    error = float(diff.max())
    if error > atol or diff.mean() > mean_atol:
        raise ValueError(f"{name}: images differ from the training run's by up to {error:.3g}"
                         f" (mean {diff.mean():.3g}; allowed {atol} / {mean_atol}); the "
                         "weights did not load as trained.")
    training = {
        "epochs": report["epochs_completed"],
        "steps": report["steps"],
        "wall_seconds": report["wall_seconds"],
        "hardware": report["hardware"],
        "keras_backend": report["keras_backend"],
        "stopped_early": report["stopped_early"],
        **({"precision": report["precision"]} if "precision" in report else {}),
        "cross_backend_max_abs_error": round(error, 6),
        "cross_backend_mean_abs_error": round(float(diff.mean()), 7),
    }
    return model, training


def write_check(model, name, out_dir, seed):
    """The fixed inputs of the cross-backend check and the run's outputs on them, as the
    report's ``check`` record. Latent models: 8 latents (2 for audio: clips are long), their
    labels and outputs, inline. Translation models: 2 sources drawn from ``seed``, and the
    outputs of every direction in ``<name>.check.npz`` beside the report (256x256 photos
    are too large for JSON)."""
    if isinstance(model, TranslationGAN):
        inputs = {"seed": seed, "n": 2}
        outputs = check_outputs(model, inputs)
        path = Path(out_dir) / f"{name}.check.npz"
        zoo_weights.save_npz_atomically(path, outputs=outputs)
        return {**inputs, "file": path.name}
    n_check = 8 if getattr(model, "modality", "image") == "image" else 2
    z = keras.ops.convert_to_numpy(keras.random.normal((n_check, model.latent_dim), seed=seed))
    labels = [c % model.num_classes for c in range(n_check)] if model.conditional else None
    inputs = {"z": z.tolist(), "labels": labels}
    return {**inputs, "images": check_outputs(model, inputs).tolist()}


def read_check(check, run_dir):
    """``(inputs, expected outputs)`` of a report's ``check`` record (:func:`write_check`)."""
    if "file" in check:
        with np.load(Path(run_dir) / check["file"]) as stored:
            expected = stored["outputs"]
        return {"seed": check["seed"], "n": check["n"]}, expected
    inputs = {"z": check["z"], "labels": check.get("labels")}
    return inputs, np.asarray(check["images"], "float32")


def check_outputs(model, inputs):
    """What the cross-backend check compares, as float32: ``generate``'s output on
    ``inputs["z"]`` (SpecGAN: its spectrograms, since Griffin-Lim's iterations would amplify
    TF32 rounding differences), or for translation models every direction's translation of
    ``inputs["n"]`` uniform sources drawn from ``inputs["seed"]``."""
    if isinstance(model, TranslationGAN):
        rng = np.random.default_rng(inputs["seed"])
        return np.stack([
            model.translate(rng.uniform(-1, 1, (inputs["n"], *model.source_shape(d)))
                            .astype("float32"), d)
            for d in model.directions]).astype("float32")
    z = np.asarray(inputs["z"], "float32")
    generate = getattr(model, "generate_spectrograms", model.generate)
    return np.asarray(generate(z=z, labels=inputs.get("labels")), "float32")


_BARE_MODELS = {}


def save_entry_weights(model, name, path, dtype="float32"):
    """Writes what a zoo entry publishes: G (its EMA weights when it has them) and D, no
    optimizer slots, via a bare copy of the entry, stored as ``dtype``. Written to a
    temporary file and renamed, so a run killed mid-save keeps the previous file."""
    if name not in _BARE_MODELS:  # built once: training runs call this every epoch
        _BARE_MODELS[name] = registry.create(name)
    bare = _BARE_MODELS[name]
    with model.inference_weights():
        bare.set_weights(model.get_weights())
    return zoo_weights.save_atomically(bare, path, dtype)


def sample_grid(model, path):
    """8x8 grid from a fixed seed; conditional models: one row of 8 per class. Audio
    models: 4 clips per row (per class), waveform above spectrogram."""
    per_row = 4 if getattr(model, "modality", "image") == "audio" else 8
    samples, rows = sample_images(model, per_row * (model.num_classes or per_row), SAMPLE_SEED)
    return save_grid(path, samples, rows=rows or per_row)


def write_wav_samples(model, folder, n=10, seed=SAMPLE_SEED, labels=None):
    """Writes ``n`` clips from latent ``seed`` as ``folder/NN[_classC].wav`` (conditional
    models: the ``labels`` given, else the digits in turn) and returns their file names."""
    from kgan.modalities.audio import write_wav

    if labels is None and model.num_classes:
        labels = np.arange(n) % model.num_classes
    clips = model.generate(n, labels=labels, seed=seed)
    names = [f"{i:02d}" + (f"_class{labels[i]}" if labels is not None else "") + ".wav"
             for i in range(n)]
    return [write_wav(Path(folder) / f, clip).name for f, clip in zip(names, clips)]


def write_voxel_samples(model, folder, n=16, seed=SAMPLE_SEED, labels=None):
    """Voxel models: ``n`` grids from latent ``seed`` (conditional models: of the ``labels``
    given, else the classes in turn) as ``folder/samples.png`` (isometric renderings),
    ``folder/NN.npy`` (occupancy) and ``folder/NN.obj`` (marching-cubes mesh; left out for a
    grid with no solid voxel). Returns the file names written."""
    from kgan.modalities.voxels import THRESHOLD, save_npy, save_voxel_grid, write_obj

    grids = model.generate(n, labels=labels, seed=seed)
    folder = Path(folder)
    names = [save_voxel_grid(folder / "samples.png", grids).name]
    for i, grid in enumerate(grids):
        names.append(save_npy(folder / f"{i:02d}.npy", grid).name)
        if grid.max() > THRESHOLD:
            names.append(write_obj(folder / f"{i:02d}.obj", grid).name)
    return names


def translation_grid(model, dataset, path, n=10):
    """Image-to-image models: ``source | output | target`` rows for the first ``n`` test
    pairs of ``dataset``."""
    from kgan.translation import comparison_images, paired_preview

    images, rows = comparison_images(model, *paired_preview(dataset, n))
    return save_grid(path, images, rows=rows, scale=max(1, 96 // images.shape[1]))


def publish(model, name, training, metrics=None, samples=None, extra=None):
    """Writes ``zoo/<name>/`` and returns the card; prints nothing, raises on failure.

    Args:
        model: the trained model.
        name: its zoo entry.
        training: how it was trained: ``epochs``, ``steps``, ``wall_seconds``,
            ``hardware`` (and anything else worth keeping, e.g. the Keras backend).
        metrics: ``kgan.metrics.evaluate`` results (plus the real-data floor), or
            ``kgan.evaluation.translation.paired_scores`` for image-to-image models.
        samples: ``samples(model, path)`` writing ``samples.png`` (default: an image
            translator's ``source | output | target`` rows, a text model's captioned
            samples (``kgan.models.text_conditioning.card_figures``), or :func:`sample_grid`).
        extra: family-specific card keys (added last, so they may refine a shared one).
    """
    cfg = registry.info(name)
    folder = cfg.entry_dir
    weights = save_entry_weights(model, name, folder / f"{name}.weights.h5",
                                 cfg.weights_dtype)
    from kgan.translation import TranslationGAN

    text_model = getattr(model, "text_encoder", None) is not None
    if samples is not None:
        samples(model, folder / "samples.png")
    elif text_model:  # captioned samples, written with the figures below
        pass
    elif isinstance(model, TranslationGAN):
        translation_grid(model, cfg.dataset, folder / "samples.png")
    else:
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
        "sha256": zoo_weights.sha256_of(weights),
        "size_bytes": weights.stat().st_size,
        "weights_dtype": cfg.weights_dtype,
        "recipe": {**cfg.recipe, "model_kwargs": cfg.model_kwargs,
                   "compile_resolved": model.get_compile_config()},
        "training": {"date": time.strftime("%Y-%m-%d"), **training},
        "samples": "samples.png",
        "metrics": metrics or {},
    }
    if getattr(model, "modality", "image") == "audio":
        from kgan.modalities.audio import SAMPLE_RATE

        card["sample_rate"] = SAMPLE_RATE
        card["wav_samples"] = [f"samples/{f}" for f in write_wav_samples(model,
                                                                         folder / "samples")]
    if hasattr(model, "card_figures"):  # family-specific figures (e.g. StyleGAN's mixing)
        card["figures"] = model.card_figures(folder)
    elif text_model:  # captions under the samples, and caption interpolations
        from kgan.models.text_conditioning import card_figures

        card["figures"] = card_figures(model, cfg.dataset, folder)
    card.update(extra or {})
    (folder / "card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    return card
