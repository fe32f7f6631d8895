"""Training a zoo entry end to end: data, strategy, callbacks, resumable, atomic outputs.

Shared by ``kgan train`` and ``tools/train_zoo.py``. A run writes into ``out_dir``:
``backup/`` (``kgan.callbacks.BackupAndRestore``, every epoch or every ``backup_every``
batches: a run killed at any moment, even with SIGKILL, resumes from its last backup with
both optimizers, the EMA weights, the step counter that keys the latent RNG and the seed
generators' states), ``samples/`` (one grid per epoch), ``history.csv`` (appended across
resumes), ``history.json`` (this invocation's epochs), ``wall_seconds.json`` (summed across
resumes, updated every epoch) and the final ``<name>.weights.h5``. The weights, the backups
and the JSON files are written to a temporary file and renamed, so an interrupted write
never leaves a half-written one.

``kgan.callbacks.NaNGuard`` stops a run whose losses turn NaN / Inf with a
``DivergenceError`` naming the step; the model keeps its last finite state, no non-finite
state is ever written, and the backup on disk stays the last good one.
"""

import csv
import json
import time
from pathlib import Path

import keras

from kgan import callbacks as kgan_callbacks
from kgan import data as kgan_data
from kgan import distribute, zoo
from kgan import precision as kgan_precision
from kgan.translation import TranslationGAN, paired_preview
from kgan.zoo import weights as zoo_weights


def train(name, out_dir, data=None, epochs=None, batch_size=None, steps_per_epoch=None,
          strategy="default", pretrained=False, data_dir=None, verbose=1, backup_every=None,
          prepare=None, precision=None, image_size=None, channels=3, max_seconds=None,
          **compile_overrides):
    """Trains zoo entry ``name`` with its recipe (any argument given overrides it).

    ``name`` may also be a family (``kgan.zoo.list_families()``, e.g. ``"dcgan"``): it is
    then built with the family's default architecture and recipe for the data's image
    shape, e.g. ``train("dcgan", "runs/faces", data="folder:faces/", image_size=64)`` on a
    user's own folder of images (``kgan.data.from_folder``, ``channels`` per image).

    Calling it again with the same ``out_dir`` resumes from the last backup.
    ``backup_every`` is the number of batches between backups (default: each epoch end).
    ``prepare(model)`` runs on the compiled model before training (e.g. StackGAN's stage II
    takes the trained stage-I generator). ``precision`` (default: the recipe's, else
    float32) is one of ``kgan.precision.PRECISIONS``: ``"bfloat16"`` builds and trains the
    model under Keras' ``mixed_bfloat16`` policy (float32 weights; the policy is restored on
    return). ``max_seconds`` stops training after the first epoch that ends past it (this
    invocation's time; the run stays resumable).

    Works on Keras' TensorFlow and JAX backends; where TensorFlow is not installed the data
    are numpy batches (``kgan.data.ArrayBatches``) and ``strategy`` must be ``"default"`` or
    ``"auto"`` (one device).

    Returns ``(model, history_dict, wall_seconds)``.

    Raises:
        kgan.callbacks.DivergenceError: a loss turned NaN / Inf.
    """
    if backup_every is not None and (not isinstance(backup_every, int) or backup_every < 1):
        raise ValueError(f"backup_every must be a positive number of batches; received "
                         f"{backup_every!r}.")
    cfg = _entry_or_family_cfg(name, data, image_size, channels)
    recipe = cfg.recipe
    with kgan_precision.scope(precision or recipe.get("precision", "float32")):
        return _train(cfg, out_dir, data, epochs, batch_size, steps_per_epoch, strategy,
                      pretrained, data_dir, verbose, backup_every, prepare, compile_overrides,
                      max_seconds)


#: Prefix of ``data`` naming a folder of the user's own images.
FOLDER_PREFIX = "folder:"


def _entry_or_family_cfg(name, data, image_size, channels):
    """The zoo entry's config, or a family's for the data's image shape."""
    if name not in zoo.list_families():
        cfg = zoo.info(name)  # unknown names: an error listing close matches
        if data and data.startswith(FOLDER_PREFIX):
            raise ValueError(f"{name!r} is a zoo entry with a fixed image shape; to train on "
                             f"a folder name a family instead: one of "
                             f"{', '.join(zoo.list_families())}.")
        return cfg
    if not data:
        raise ValueError(f"Training family {name!r} needs data: a data set name or "
                         f"'{FOLDER_PREFIX}PATH' with image_size.")
    if data.startswith(FOLDER_PREFIX):
        if not image_size:
            raise ValueError(f"data={data!r} needs image_size (e.g. 64): the folder's images "
                             "are resized to image_size x image_size.")
        shape = (int(image_size), int(image_size), int(channels))
        return zoo.family_cfg(name, shape, data)
    from kgan.models.common import DATASETS

    if data not in DATASETS:
        raise ValueError(f"Unknown data set {data!r} for family {name!r}; expected "
                         f"'{FOLDER_PREFIX}PATH' or one of {', '.join(DATASETS)}.")
    return zoo.family_cfg(name, DATASETS[data][0], data)


def _load_data(cfg, data, batch_size, data_dir, labels, seed):
    """Training batches: the entry's data set, another named one, or a folder."""
    name = data or cfg.dataset
    if name.startswith(FOLDER_PREFIX):
        return kgan_data.from_folder(name[len(FOLDER_PREFIX):], cfg.image_shape[:2],
                                     channels=cfg.image_shape[-1], batch_size=batch_size,
                                     seed=seed)
    return kgan_data.load(name, "train", batch_size, data_dir, labels=labels, seed=seed)


def _train(cfg, out_dir, data, epochs, batch_size, steps_per_epoch, strategy, pretrained,
           data_dir, verbose, backup_every, prepare, compile_overrides, max_seconds=None):
    name, recipe = cfg.name, cfg.recipe
    epochs = epochs or recipe.get("epochs", 1)
    batch_size = batch_size or recipe.get("batch_size", 128)
    keras.utils.set_random_seed(recipe.get("seed", 0))
    strat = distribute.get_strategy(strategy)
    with strat.scope():
        if name not in zoo.list_models():  # a family's config (see _entry_or_family_cfg)
            if pretrained:
                raise ValueError(f"Family {name!r} has no weights: drop pretrained.")
            model = zoo.create_family(cfg)
        else:
            model = zoo.load(name, pretrained=pretrained, compile=False)
        model.compile(**{**recipe.get("compile", {}), **compile_overrides})
    if hasattr(model, "adapt_dataset") and not pretrained:  # SpecGAN's data statistics
        model.adapt_dataset(data or cfg.dataset, data_dir)
    if prepare is not None:
        prepare(model)
    dataset = _load_data(cfg, data, batch_size * strat.num_replicas_in_sync, data_dir,
                         model.num_classes > 0, recipe.get("seed", 0))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(model, TranslationGAN):
        samples = kgan_callbacks.TranslationGrid(out / "samples", *paired_preview(cfg.dataset))
    else:
        rows = model.num_classes or len(getattr(model, "default_captions", ()))
        samples = kgan_callbacks.SampleGrid(out / "samples", n=8 * rows if rows else 64,
                                            seed=recipe.get("seed", 0))
    callbacks = [
        kgan_callbacks.NaNGuard(),  # first: it stops a diverged run before anything is saved
        kgan_callbacks.BackupAndRestore(out / "backup", save_freq=backup_every or "epoch",
                                        delete_checkpoint=False),
        samples,
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
    ]
    clock = kgan_callbacks.WallClock(out / "wall_seconds.json")
    callbacks.append(clock)
    if max_seconds is not None:
        def stop_when_late(*_):
            if time.time() - clock.start > max_seconds:
                model.stop_training = True

        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=stop_when_late))
    try:
        history = model.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch,
                            callbacks=callbacks, verbose=verbose)
    except kgan_callbacks.DivergenceError as err:
        raise kgan_callbacks.DivergenceError(
            f"{err} The last good backup is in {out / 'backup'}: rerunning resumes from it.",
            err.step, err.good_step) from None
    zoo_weights.save_atomically(model, out / f"{name}.weights.h5")
    total = clock.earlier
    if history.history:  # a finished run restarted trains no epoch: keep its time and history
        total = clock.record()
        zoo_weights.write_text_atomically(out / "history.json",
                                       json.dumps(history.history, indent=1))
    return model, history.history, total


def epochs_done(out_dir, history):
    """Epochs a run in ``out_dir`` has finished, across resumes: from ``history.csv`` (one row
    per epoch, appended by every invocation), else ``history``'s (this invocation's)."""
    path = Path(out_dir) / "history.csv"
    if path.exists():
        with path.open() as f:
            rows = [r for r in csv.DictReader(f) if (r.get("epoch") or "").strip()]
        if rows:
            return int(rows[-1]["epoch"]) + 1
    return len(next(iter(history.values()), [])) if history else 0
