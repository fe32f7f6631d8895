"""Training a zoo entry end to end: data, strategy, callbacks, resumable, atomic outputs.

Shared by ``kgan train`` and ``tools/train_zoo.py``. A run writes into ``out_dir``:
``backup/`` (``keras.callbacks.BackupAndRestore``: a killed run resumes from its last
epoch with both optimizers and the step counter that keys the latent RNG), ``samples/``
(one grid per epoch), ``history.csv`` (appended across resumes), ``history.json`` (this
invocation's epochs), ``wall_seconds.json`` (summed across resumes) and the final
``<name>.weights.h5`` (written to a temporary file and renamed, so an interrupted save
never leaves a half-written file).
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
          strategy="default", pretrained=False, data_dir=None, verbose=1, **compile_overrides):
    """Trains zoo entry ``name`` with its recipe (any argument given overrides it).

    Returns ``(model, history_dict, wall_seconds)``.
    """
    cfg = zoo.info(name)
    recipe = cfg.recipe
    epochs = epochs or recipe.get("epochs", 1)
    batch_size = batch_size or recipe.get("batch_size", 128)
    keras.utils.set_random_seed(recipe.get("seed", 0))
    strat = distribute.get_strategy(strategy)
    with strat.scope():
        model = zoo.load(name, pretrained=pretrained, compile=False)
        model.compile(**{**recipe.get("compile", {}), **compile_overrides})
    dataset = kgan_data.load(
        data or cfg.dataset, "train", batch_size * strat.num_replicas_in_sync, data_dir,
        labels=model.num_classes > 0, seed=recipe.get("seed", 0))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(model, ImageTranslator):
        samples = kgan_callbacks.TranslationGrid(out / "samples", *paired_preview(cfg.dataset))
    else:
        samples = kgan_callbacks.SampleGrid(out / "samples", n=64 if not model.num_classes
                                            else 80, seed=recipe.get("seed", 0))
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup"), delete_checkpoint=False),
        samples,
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
    ]
    start = time.time()
    history = model.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch,
                        callbacks=callbacks, verbose=verbose)
    wall = time.time() - start
    _weights.save_atomically(model, out / f"{name}.weights.h5")
    # Wall time adds up over resumed runs, so the card reports the whole training.
    wall_file = out / "wall_seconds.json"
    total = wall + (json.loads(wall_file.read_text())["total"] if wall_file.exists() else 0.0)
    wall_file.write_text(json.dumps({"total": total}))
    if history.history:  # a finished run restarted trains no epoch: keep its history
        (out / "history.json").write_text(json.dumps(history.history, indent=1))
    return model, history.history, total
