"""Keras callbacks for GAN training: samples, crash-safe backups, a divergence guard.

* ``SampleGrid`` writes the same fixed latents' samples every few epochs, to PNG and to
  TensorBoard, so progress (and mode collapse) is visible.
* ``TranslationGrid`` does the same for image-to-image models: fixed inputs, their
  translations (and targets, or cycles back for two-domain models).
* ``BackupAndRestore`` is ``keras.callbacks.BackupAndRestore`` made safe against a kill at any
  moment (Keras writes its backup in place) and complete for GANs: both optimizers (moments,
  EMA averages, step counters, which also key kgan's stateless latents) and the seed
  generators' states (dropout) that Keras' weight files leave out.
* ``NaNGuard`` stops training at the first NaN / Inf loss, names the step and puts the last
  finite state back into the model. (``keras.callbacks.TerminateOnNaN`` watches a ``loss``
  log that GANs do not have.)
* ``WallClock`` adds a run's wall time up across resumes, in a file written every epoch.

Generator EMA is built into the generator optimizer (``compile(ema_decay=0.999)``).
"""

import json
import math
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from kgan.modalities.images import sample_images, sample_picture, save_grid
from kgan.zoo import weights as zoo_weights
from kgan.translation import comparison_images


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of samples from fixed latents every ``every_n_epochs`` epochs.

    Args:
        out_dir: folder for ``epoch_XXXX.png`` files (None: no PNGs).
        n: number of samples (conditional models: rows cycle through the classes).
        every_n_epochs: how often to write.
        seed: seed of the fixed latents.
        log_dir: TensorBoard log folder; the grid is also written there as an image summary
            (with ``tf.summary``: needs TensorFlow installed, on either backend).
    """

    def __init__(self, out_dir=None, n=64, every_n_epochs=1, seed=0, log_dir=None):
        super().__init__()
        self.out_dir = Path(out_dir) if out_dir else None
        self.n, self.every_n_epochs, self.seed = int(n), int(every_n_epochs), seed
        self.log_dir = log_dir
        if log_dir:
            try:
                import tensorflow  # noqa: F401
            except ImportError:
                raise ModuleNotFoundError(
                    "SampleGrid(log_dir=...) writes TensorBoard summaries with tf.summary, and "
                    "`import tensorflow` fails here: install tensorflow, or pass out_dir only "
                    "(PNG grids).") from None
        self._writer = None
        self.last_path = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        images, rows = sample_images(self.model, self.n, self.seed)
        self._write(epoch, images, rows)

    def _write(self, epoch, images, rows):
        if self.out_dir:
            self.last_path = save_grid(self.out_dir / f"epoch_{epoch + 1:04d}.png", images, rows)
        if self.log_dir:
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(self.log_dir))
            with self._writer.as_default():
                grid = sample_picture(images, rows)[None].astype("float32") / 255.0
                tf.summary.image("samples", grid, step=epoch + 1)
            self._writer.flush()


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Backs up the whole training state; a killed ``fit`` resumes from the last backup.

    Backups are written every ``save_freq`` batches and at every epoch end. Each goes to a
    new ``backup-<serial>.weights.h5`` and is committed by atomically replacing
    ``training_metadata.json``, which names that file, holds the epoch, the step and the
    seed generators' states; older weight files are deleted only after the commit.
    So at every moment the folder holds one complete backup, whenever the process is killed.
    A state whose losses or variables are NaN / Inf is never written: the previous backup
    stays. Restoring loads all or nothing and checks the step counter the metadata names.

    As with Keras' callback, a run killed mid-epoch restarts that epoch from its first batch
    on top of the restored state (``fit`` cannot start mid-epoch): it trains at most one
    epoch's batches more than an uninterrupted run. Backups written by Keras' own callback
    (``latest.weights.h5``) are restored too.

    Args:
        backup_dir: folder of this run's backups (used by nothing else).
        save_freq: ``"epoch"`` or a number of batches between backups.
        delete_checkpoint: delete the folder when training ends normally.

    Example:
        >>> backup = kgan.callbacks.BackupAndRestore("runs/x/backup", save_freq=500)
        >>> model.fit(ds, epochs=20, callbacks=[backup])   # rerun the same line after a crash
    """

    METADATA = "training_metadata.json"

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__(str(backup_dir), save_freq=save_freq,
                         delete_checkpoint=delete_checkpoint)
        self._serial = 0
        self._logs = None
        self.restored = None  # the metadata restored by the last on_train_begin

    def on_train_begin(self, logs=None):
        self._load_model()

    def on_train_batch_end(self, batch, logs=None):
        self._logs = logs
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._logs = logs
        super().on_epoch_end(epoch, logs)
        if self.save_freq != "epoch":  # also at epoch ends, or a resume redoes the epoch
            self._save_model()

    def _save_model(self):
        bad = nonfinite_logs(self._logs) or zoo_weights.nonfinite(
            zoo_weights.state_variables(self.model))
        if bad:
            warnings.warn(f"Not backing up to {self.backup_dir}: {', '.join(bad[:3])} hold "
                          "NaN or Inf. The previous backup is kept.", stacklevel=2)
            return
        folder = Path(self.backup_dir)
        folder.mkdir(parents=True, exist_ok=True)
        self._serial += 1
        name = f"backup-{self._serial:06d}.weights.h5"
        self.model.save_weights(str(folder / name))
        zoo_weights.fsync(folder / name)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen,
                    "step": training_step(self.model), "weights": name,
                    "serial": self._serial, "rng": _rng_state(self.model)}
        zoo_weights.write_text_atomically(folder / self.METADATA, json.dumps(metadata))
        for old in folder.glob("backup-*.weights.h5"):
            if old.name != name:
                old.unlink(missing_ok=True)

    def _load_model(self):
        folder = Path(self.backup_dir)
        meta_path = folder / self.METADATA
        metadata = _read_metadata(meta_path) if meta_path.exists() else {"epoch": 0}
        weights = folder / metadata.get("weights", "latest.weights.h5")
        if not weights.exists():
            if "weights" in metadata:
                raise FileNotFoundError(f"{meta_path} names {weights.name}, which is missing; "
                                        f"delete {folder} to start training afresh.")
            return
        if not self.model.built:
            raise ValueError(f"{self.model.name} must be built before fit() can restore "
                             f"{folder}: call it on a batch, or load it from kgan.zoo.")
        _build_optimizers(self.model)
        try:
            zoo_weights.load_into(self.model, weights)
            _restore_rng(self.model, metadata.get("rng", []))
        except ValueError as err:
            raise ValueError(f"{err} The backup in {folder} cannot resume this model; delete "
                             "it to start training afresh.") from err
        step = training_step(self.model)
        if metadata.get("step", step) != step:
            raise ValueError(f"{weights} holds step {step} but {meta_path} says step "
                             f"{metadata['step']}; delete {folder} to start training afresh.")
        self.model._initial_epoch = metadata["epoch"]  # what Keras' callback sets
        self._serial = metadata.get("serial", 0)
        self.restored = metadata
        print(f"Resumed from {weights}: epoch {metadata['epoch'] + 1}, step {step}.", flush=True)


def _read_metadata(path):
    try:
        metadata = json.loads(Path(path).read_text())
        int(metadata["epoch"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"Backup metadata {path} is unreadable ({err}); delete "
                         f"{Path(path).parent} to start training afresh.") from err
    return metadata


def _build_optimizers(model):
    """Slot variables must exist before a weight file can restore them."""
    if hasattr(model, "build_optimizers"):
        model.build_optimizers()
    elif getattr(model, "optimizer", None) is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def _rng_variables(model):
    """The seed generators' states: in ``model.variables`` but not in weight files."""
    saved = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in saved]


def _rng_state(model):
    return [[v.path, v.numpy().tolist()] for v in _rng_variables(model)]


def _restore_rng(model, state):
    variables = _rng_variables(model)
    if not state:
        return  # a Keras backup: seed generators start afresh
    # Matched in order, like weight files: paths carry per-process name counters.
    if [np.shape(value) for _, value in state] != [tuple(v.shape) for v in variables]:
        raise ValueError(f"the backup's seed generators {[p for p, _ in state]} are not the "
                         f"model's {[v.path for v in variables]}.")
    for v, (_, value) in zip(variables, state):
        v.assign(np.asarray(value, dtype=v.dtype))


def training_step(model):
    """Training steps taken so far (a GAN's generator updates), or None if uncompiled."""
    optimizer = getattr(model, "g_optimizer", None) or getattr(model, "optimizer", None)
    return None if optimizer is None else int(optimizer.iterations.numpy())


def nonfinite_logs(logs):
    """Names of the logged values that are NaN or Inf."""
    return [k for k, v in (logs or {}).items()
            if isinstance(v, (int, float, np.number)) and not math.isfinite(v)]


class DivergenceError(RuntimeError):
    """Training produced a NaN / Inf loss or weight. ``step`` is the step it was found at,
    ``good_step`` the step whose state was put back into the model."""

    def __init__(self, message, step, good_step):
        super().__init__(message)
        self.step, self.good_step = step, good_step


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first NaN / Inf loss and restores the last finite state.

    The logged losses are running means over the epoch, so one non-finite step keeps them
    non-finite until the epoch ends: checking every ``check_every`` batches and at each
    epoch end misses none. Snapshots of the whole state (weights, both optimizers, seed
    generators) are copied to host memory every ``snapshot_every`` batches and at epoch ends,
    after checking that the losses and the variables are finite; on divergence the last one
    is assigned back, so the model in memory is the last good one. The first snapshot is
    taken when the first epoch begins, after ``BackupAndRestore`` restored a backup. Placed
    before the other callbacks, it stops training before they see a non-finite state (kgan's
    ``BackupAndRestore`` also refuses to write one, so the files on disk stay good).

    Args:
        check_every: batches between checks of the logs. 1 names the exact step; larger
            values save a host sync per batch and name a range of steps.
        snapshot_every: batches between snapshots (each copies every variable to host).
        raise_error: raise :class:`DivergenceError` (default), or only stop training and keep
            the error in ``self.error``.

    Example:
        >>> model.fit(ds, epochs=5, callbacks=[kgan.callbacks.NaNGuard()])
    """

    def __init__(self, check_every=1, snapshot_every=100, raise_error=True):
        super().__init__()
        for name, value in (("check_every", check_every), ("snapshot_every", snapshot_every)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; received {value!r}.")
        self.check_every, self.snapshot_every = check_every, snapshot_every
        self.raise_error = raise_error
        self.error = None
        self._snapshot = self._good_step = self._checked_step = None
        self._epoch = self._batches = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self._snapshot is None:  # after on_train_begin, so after a restore
            self._take_snapshot()

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._batches % self.check_every == 0 or self._batches % self.snapshot_every == 0:
            self._check(logs, f"epoch {self._epoch + 1}, batch {batch + 1}")
        if self._batches % self.snapshot_every == 0 and not self.model.stop_training:
            self._take_snapshot()

    def on_epoch_end(self, epoch, logs=None):
        if self.error is None:
            self._check(logs, f"end of epoch {epoch + 1}")
        if self.error is None:
            self._take_snapshot()

    def _check(self, logs, where):
        bad = nonfinite_logs(logs)
        if bad:
            self._diverged(f"{', '.join(f'{k}={logs[k]}' for k in bad)} at {where}")
        else:
            self._checked_step = training_step(self.model)

    def _take_snapshot(self):
        variables = zoo_weights.state_variables(self.model)
        values = [np.asarray(v.numpy()) for v in variables]
        bad = [v.path for v, x in zip(variables, values)
               if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x))]
        if bad and self._snapshot is None:
            raise ValueError(f"{self.model.name} holds NaN / Inf before training "
                             f"({', '.join(bad[:3])}); reload or rebuild it.")
        if bad:
            self._diverged(f"NaN / Inf in {', '.join(bad[:3])}")
            return
        self._snapshot, self._good_step = (variables, values), training_step(self.model)

    def _diverged(self, what):
        step = training_step(self.model)
        first = (self._checked_step or 0) + 1
        steps = f"at step {step}" if first >= step else f"between steps {first} and {step}"
        for v, value in zip(*self._snapshot):
            v.assign(value)
        self.model.stop_training = True
        self.error = DivergenceError(
            f"Training diverged {steps}: {what}. The model now holds the state of step "
            f"{self._good_step}, the last finite one. Lower the learning rate, check the data "
            "for NaN / Inf, or use a gradient penalty.", step, self._good_step)
        if self.raise_error:
            raise self.error
        print(self.error, flush=True)


class WallClock(keras.callbacks.Callback):
    """Adds this invocation's wall time to the total of earlier (killed or finished) runs in
    ``path`` (JSON ``{"total": seconds}``) and writes it, atomically, at every epoch end: a
    run cut off mid-way keeps its finished epochs' time, so a card reports the whole
    training. The clock starts when the callback is made."""

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self.earlier = json.loads(self.path.read_text())["total"] if self.path.exists() else 0.0
        self.start = time.time()

    def record(self):
        """Writes and returns the total so far."""
        total = self.earlier + time.time() - self.start
        zoo_weights.write_text_atomically(self.path, json.dumps({"total": total}))
        return total

    def on_epoch_end(self, epoch, logs=None):
        self.record()


def translation_rows(model, a, b):
    """Six rows for a two-domain model's grid (CycleGAN): A inputs, their a2b translations
    and cycles back to A, then B inputs, b2a and back to B (``len(a) == len(b)`` columns)."""
    a2b = model.translate(a, "a2b")
    b2a = model.translate(b, "b2a")
    return np.concatenate([a, a2b, model.translate(a2b, "b2a"),
                           b, b2a, model.translate(b2a, "a2b")])


def save_translation_grid(model, a, b, path):
    """Writes :func:`translation_rows` as a PNG grid (6 rows) and returns its path."""
    return save_grid(path, translation_rows(model, a, b), rows=6)


class TranslationGrid(SampleGrid):
    """``SampleGrid`` for image-to-image models: a grid of fixed images (float [-1, 1])
    translated every ``every_n_epochs`` epochs.

    Paired models (pix2pix, SRGAN): ``sources`` / ``targets`` are pairs, e.g. from
    ``kgan.translation.paired_preview(dataset)``, shown as rows of ``source | output |
    target``. Two-domain models (CycleGAN) with ``cycle=True``: ``sources`` are images of
    domain A and ``targets`` of domain B, not paired, shown as :func:`translation_rows`.
    """

    def __init__(self, out_dir=None, sources=None, targets=None, every_n_epochs=1,
                 log_dir=None, cycle=False):
        super().__init__(out_dir, n=len(sources), every_n_epochs=every_n_epochs,
                         log_dir=log_dir)
        self.sources, self.targets, self.cycle = sources, targets, cycle

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        if self.cycle:
            images, rows = translation_rows(self.model, self.sources, self.targets), 6
        else:
            images, rows = comparison_images(self.model, self.sources, self.targets)
        self._write(epoch, images, rows)
