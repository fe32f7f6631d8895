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

import json
import time
from pathlib import Path

import keras

from kgan import callbacks as kgan_callbacks
from kgan import data as kgan_data
from kgan import distribute, zoo
from kgan.translation import ImageTranslator, paired_preview
from kgan.zoo import _weights


def train(name, out_dir, data=None, epochs=None, batch_size=None, steps_per_epoch=None,
          strategy="default", pretrained=False, data_dir=None, verbose=1, backup_every=None,
          prepare=None, **compile_overrides):
    """Trains zoo entry ``name`` with its recipe (any argument given overrides it).

    Calling it again with the same ``out_dir`` resumes from the last backup.
    ``backup_every`` is the number of batches between backups (default: each epoch end).
    ``prepare(model)`` runs on the compiled model before training (e.g. StackGAN's stage II
    takes the trained stage-I generator).

    Returns ``(model, history_dict, wall_seconds)``.

    Raises:
        kgan.callbacks.DivergenceError: a loss turned NaN / Inf.
    """
    if backup_every is not None and (not isinstance(backup_every, int) or backup_every < 1):
        raise ValueError(f"backup_every must be a positive number of batches; received "
                         f"{backup_every!r}.")
    cfg = zoo.info(name)
    recipe = cfg.recipe
    epochs = epochs or recipe.get("epochs", 1)
    batch_size = batch_size or recipe.get("batch_size", 128)
    keras.utils.set_random_seed(recipe.get("seed", 0))
    strat = distribute.get_strategy(strategy)
    with strat.scope():
        model = zoo.load(name, pretrained=pretrained, compile=False)
        model.compile(**{**recipe.get("compile", {}), **compile_overrides})
    if hasattr(model, "adapt_dataset") and not pretrained:  # SpecGAN's data statistics
        model.adapt_dataset(data or cfg.dataset, data_dir)
    if prepare is not None:
        prepare(model)
    dataset = kgan_data.load(
        data or cfg.dataset, "train", batch_size * strat.num_replicas_in_sync, data_dir,
        labels=model.num_classes > 0, seed=recipe.get("seed", 0))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(model, ImageTranslator):
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
    # Wall time adds up over resumed runs, so the card reports the whole training. It is
    # written at every epoch end too, so a run killed mid-way keeps its finished epochs' time.
    wall_file = out / "wall_seconds.json"
    earlier = json.loads(wall_file.read_text())["total"] if wall_file.exists() else 0.0
    start = time.time()

    def record_wall_time(*_):
        total = earlier + time.time() - start
        _weights.write_text_atomically(wall_file, json.dumps({"total": total}))
        return total

    callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=record_wall_time))
    try:
        history = model.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch,
                            callbacks=callbacks, verbose=verbose)
    except kgan_callbacks.DivergenceError as err:
        raise kgan_callbacks.DivergenceError(
            f"{err} The last good backup is in {out / 'backup'}: rerunning resumes from it.",
            err.step, err.good_step) from None
    _weights.save_atomically(model, out / f"{name}.weights.h5")
    total = earlier
    if history.history:  # a finished run restarted trains no epoch: keep its time and history
        total = record_wall_time()
        _weights.write_text_atomically(out / "history.json",
                                       json.dumps(history.history, indent=1))
    return model, history.history, total
