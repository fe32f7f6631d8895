"""Reliability (issue #8): resume after a kill, the divergence guard, safe loading."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import kgan
from gan_checks import tiny_dataset
from kgan.callbacks import BackupAndRestore, DivergenceError, NaNGuard
from kgan.zoo import weights as zoo_weights

ROOT = Path(__file__).resolve().parents[1]


def state(model):
    """Every variable a resumed run needs: weights, both optimizers (EMA too), RNG states,
    in order (paths carry per-process layer-name counters)."""
    return [(v.path, v.numpy()) for v in zoo_weights.state_variables(model)]


def assert_same_state(a, b):
    assert len(a) == len(b)
    for (path, x), (_, y) in zip(a, b):
        np.testing.assert_array_equal(x, y, err_msg=path)


def ema_vanilla_gan(seed=None):
    """Dropout (a seed generator) and generator EMA: all the state there is."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    model = kgan.zoo.load("test_vanilla_gan", pretrained=False)
    model.compile(ema_decay=0.9)
    return model


class _Crash(keras.callbacks.Callback):
    """Records the state after ``batches`` batches (after the backup), then crashes."""

    def __init__(self, batches):
        super().__init__()
        self.batches, self.seen, self.state = batches, 0, None

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.batches:
            self.state = state(self.model)
            raise KeyboardInterrupt


# ---------------------------------------------------------------------------- backups
def test_backup_restores_the_whole_state_mid_epoch(tmp_path):
    model = ema_vanilla_gan()
    crash = _Crash(5)
    with pytest.raises(KeyboardInterrupt):
        model.fit(tiny_dataset(model), epochs=3, callbacks=[
            BackupAndRestore(tmp_path, save_freq=1), crash], verbose=0)
    meta = json.loads((tmp_path / "training_metadata.json").read_text())
    assert (meta["epoch"], meta["step"]) == (1, 5)  # 4 batches per epoch: epoch 2, batch 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [meta["weights"],
                                                          "training_metadata.json"]
    rng = [path for path, _ in meta["rng"]]
    assert rng and all("seed_generator" in p for p in rng)
    assert any("average" in path for path, _ in crash.state)  # EMA slots are part of the state

    resumed = ema_vanilla_gan()
    backup = BackupAndRestore(tmp_path, save_freq=1)
    restored, epochs = [], []
    probe = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: restored.extend(state(resumed)),
        on_epoch_begin=lambda epoch, logs: epochs.append(epoch))
    resumed.fit(tiny_dataset(resumed), epochs=3, callbacks=[backup, probe], verbose=0)
    assert_same_state(restored, crash.state)
    # The interrupted epoch restarts from its first batch on top of the restored state.
    assert epochs == [1, 2] and int(resumed.g_optimizer.iterations.numpy()) == 5 + 8


def test_wall_time_of_an_interrupted_run_is_kept(tmp_path, monkeypatch):
    """A run cut off in its second epoch keeps the first epoch's time, and the resumed run
    adds its own: the card reports the whole training, not the last invocation's."""
    from kgan import callbacks as kgan_callbacks
    from kgan import training

    def cut_off(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt

    wall_file = tmp_path / "run" / "wall_seconds.json"
    with monkeypatch.context() as patch:
        patch.setattr(kgan_callbacks.SampleGrid, "on_epoch_end", cut_off)
        with pytest.raises(KeyboardInterrupt):
            training.train("test_dcgan", tmp_path / "run", epochs=3, batch_size=8,
                           steps_per_epoch=2, verbose=0)
    first = json.loads(wall_file.read_text())["total"]
    assert first > 0
    *_, total = training.train("test_dcgan", tmp_path / "run", epochs=3, batch_size=8,
                               steps_per_epoch=2, verbose=0)
    assert total > first and json.loads(wall_file.read_text())["total"] == total


@pytest.mark.slow
def test_resume_at_an_epoch_end_equals_an_uninterrupted_run(tmp_path):
    straight = ema_vanilla_gan(seed=1)
    straight.fit(tiny_dataset(straight), epochs=2, verbose=0)

    first = ema_vanilla_gan(seed=1)
    with pytest.raises(KeyboardInterrupt):
        first.fit(tiny_dataset(first), epochs=2, verbose=0,
                  callbacks=[BackupAndRestore(tmp_path), _Crash(5)])
    resumed = ema_vanilla_gan()
    resumed.fit(tiny_dataset(resumed), epochs=2, verbose=0,
                callbacks=[BackupAndRestore(tmp_path)])
    # Same weights, optimizer moments, EMA and dropout masks as if never interrupted.
    assert_same_state(state(resumed), state(straight))
    assert not tmp_path.exists()  # delete_checkpoint=True once training completed


def test_a_crash_while_writing_keeps_the_previous_backup(tmp_path, monkeypatch):
    model = kgan.zoo.load("test_dcgan", pretrained=False)
    model.fit(tiny_dataset(model), epochs=1, steps_per_epoch=2, verbose=0,
              callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)])
    good = state(model)

    def dies_mid_write(path, *args, **kwargs):
        Path(path).write_bytes(b"\x89HDF\r\n\x1a\n half of a file")
        raise KeyboardInterrupt  # SIGKILL stand-in: the process stops inside the write

    monkeypatch.setattr(model, "save_weights", dies_mid_write)
    with pytest.raises(KeyboardInterrupt):
        model.fit(tiny_dataset(model), epochs=2, steps_per_epoch=2, verbose=0,
                  callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)])
    resumed = kgan.zoo.load("test_dcgan", pretrained=False)
    backup = BackupAndRestore(tmp_path, delete_checkpoint=False)
    backup.set_model(resumed)
    backup.on_train_begin()
    assert backup.restored["step"] == 2
    assert_same_state(state(resumed), good)


def test_corrupt_backup_is_a_clear_error(tmp_path):
    model = kgan.zoo.load("test_dcgan", pretrained=False)
    model.fit(tiny_dataset(model), epochs=1, verbose=0,
              callbacks=[BackupAndRestore(tmp_path, save_freq=3, delete_checkpoint=False)])
    meta = json.loads((tmp_path / "training_metadata.json").read_text())
    assert (meta["epoch"], meta["step"]) == (1, 4)  # batch 3, then the epoch end
    weights = tmp_path / meta["weights"]
    weights.write_bytes(weights.read_bytes()[:2000])
    other = kgan.zoo.load("test_dcgan", pretrained=False)
    with pytest.raises(ValueError, match=f"{weights.name}.*truncated.*delete it to start"):
        other.fit(tiny_dataset(other), epochs=1, steps_per_epoch=1, verbose=0,
                  callbacks=[BackupAndRestore(tmp_path)])
    (tmp_path / "training_metadata.json").write_text('{"epoch": ')
    with pytest.raises(ValueError, match="training_metadata.json is unreadable"):
        other.fit(tiny_dataset(other), epochs=1, verbose=0,
                  callbacks=[BackupAndRestore(tmp_path)])


def _wait_for_backup(out, process, min_step, timeout=240):
    meta = out / "backup" / "training_metadata.json"
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if meta.exists() and json.loads(meta.read_text())["step"] >= min_step:
            return
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"no backup at step >= {min_step}: {process.communicate()}")


@pytest.mark.slow
def test_kgan_train_killed_with_sigkill_resumes(tmp_path):
    """A real ``kgan train`` killed mid-epoch, twice, then run to the end."""
    out = tmp_path / "run"
    cli = [sys.executable, "-m", "kgan.cli", "train", "test_dcgan", "--out", str(out),
           "--batch_size", "8", "--backup_every", "3", "--epochs", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_NUM_INTRAOP_THREADS": "1"}
    keras.utils.set_random_seed(kgan.zoo.info("test_dcgan").recipe.get("seed", 0))
    initial = state(kgan.zoo.load("test_dcgan", pretrained=False))  # as train() builds it
    steps = []
    for min_step in (12, 30):  # each run must get past the previous backup before the kill
        process = subprocess.Popen([*cli, "--steps_per_epoch", "100000"], env=env, cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_backup(out, process, min_step)
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        meta = json.loads((out / "backup" / "training_metadata.json").read_text())
        assert meta["epoch"] == 0 and meta["step"] % 3 == 0
        probe = kgan.zoo.load("test_dcgan", pretrained=False)
        zoo_weights.load_into(probe, out / "backup" / meta["weights"])  # always complete
        assert int(probe.g_optimizer.iterations.numpy()) == meta["step"]
        assert len(list((out / "backup").glob("*.weights.h5"))) in (1, 2)
        steps.append(meta["step"])

    done = subprocess.run([*cli, "--steps_per_epoch", "4"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Resumed from {out / 'backup'}" in done.stdout
    resumed_at = int(re.search(r"epoch 1, step (\d+)", done.stdout).group(1))
    assert resumed_at == steps[-1] > steps[0] >= 12
    final = kgan.zoo.load("test_dcgan", pretrained=False)
    zoo_weights.load_into(final, out / "test_dcgan.weights.h5")
    assert int(final.g_optimizer.iterations.numpy()) == resumed_at + 4
    assert int(final.d_optimizer.iterations.numpy()) == resumed_at + 4
    assert not zoo_weights.nonfinite(final.weights)
    assert all(not np.allclose(v, v0) for (k, v), (_, v0) in zip(state(final), initial)
               if "kernel" in k)  # trained weights, not a fresh initialisation
    # The losses go on from where the run was, not from those of a fresh start.
    from kgan import training

    _, fresh, _ = training.train("test_dcgan", tmp_path / "fresh", epochs=1, batch_size=8,
                                 steps_per_epoch=4, verbose=0)
    history = json.loads((out / "history.json").read_text())
    assert history["d_loss"][0] < fresh["d_loss"][0] - 0.2, (history, fresh)
    assert history["d_real_acc"][0] > fresh["d_real_acc"][0] + 0.2, (history, fresh)


# ---------------------------------------------------------------------------- NaN guard
def nan_after(model, batches, n_batches=6, batch_size=8):
    """Finite images for ``batches`` batches, NaN afterwards."""
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (n_batches * batch_size, *model.image_shape)).astype("float32")
    images[batches * batch_size:] = np.nan
    return kgan.data.from_numpy(images, batch_size=batch_size, shuffle=False)


def test_nan_guard_stops_names_the_step_and_restores(tmp_path):
    model = kgan.zoo.load("test_dcgan", pretrained=False)
    snapshots = {}
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: snapshots.setdefault(b + 1, state(model)))
    backup = BackupAndRestore(tmp_path, save_freq=1)
    with pytest.warns(UserWarning, match="Not backing up.*NaN"):
        with pytest.raises(DivergenceError, match=r"diverged at step 4: d_loss=nan.*batch 4.*"
                                                  r"state of step 2, the last finite one"):
            model.fit(nan_after(model, 3), epochs=1, verbose=0,
                      callbacks=[record, backup, NaNGuard(snapshot_every=2)])
    assert_same_state(state(model), snapshots[2])  # in memory: the last snapshot
    meta = json.loads((tmp_path / "training_metadata.json").read_text())
    assert meta["step"] == 3  # on disk: the last finite backup, never the NaN one
    on_disk = kgan.zoo.load("test_dcgan", pretrained=False)
    zoo_weights.load_into(on_disk, tmp_path / meta["weights"])
    assert_same_state(state(on_disk), snapshots[3])


def test_nan_guard_without_raising_and_with_sparse_checks():
    model = kgan.zoo.load("test_dcgan", pretrained=False)
    guard = NaNGuard(check_every=4, raise_error=False)
    history = model.fit(nan_after(model, 2), epochs=3, verbose=0, callbacks=[guard])
    assert len(history.history["d_loss"]) == 1  # stopped in the first epoch
    assert "between steps 1 and 4" in str(guard.error) and guard.error.good_step == 0
    assert int(model.g_optimizer.iterations.numpy()) == 0  # the state before training
    assert not zoo_weights.nonfinite(zoo_weights.state_variables(model))


def test_nan_guard_with_several_steps_per_execution():
    """compile(steps_per_execution=2), bench.py's fastest fit: Keras reports every second
    batch, and the guard names the two steps the NaN lies between."""
    model = kgan.zoo.load("test_dcgan", pretrained=False)
    model.compile(steps_per_execution=2)
    with pytest.raises(DivergenceError, match=r"between steps 3 and 4.*state of step 2"):
        model.fit(nan_after(model, 3), epochs=1, verbose=0,
                  callbacks=[NaNGuard(snapshot_every=1)])
    assert int(model.g_optimizer.iterations.numpy()) == 2
    assert not zoo_weights.nonfinite(zoo_weights.state_variables(model))


def test_train_stops_on_nan_and_keeps_the_good_files(tmp_path, monkeypatch):
    from kgan import training

    monkeypatch.setattr(training.kgan_data, "load", lambda *a, **k: nan_after(
        kgan.zoo.create("test_dcgan"), 5, n_batches=8))
    out = tmp_path / "run"
    with pytest.raises(DivergenceError, match=r"step 6.*last good backup is in .*backup"):
        training.train("test_dcgan", out, epochs=2, batch_size=8, backup_every=2, verbose=0)
    assert not (out / "test_dcgan.weights.h5").exists()
    meta = json.loads((out / "backup" / "training_metadata.json").read_text())
    assert meta["step"] == 4
    probe = kgan.zoo.load("test_dcgan", pretrained=False)
    zoo_weights.load_into(probe, out / "backup" / meta["weights"])


def test_guard_arguments_are_checked():
    with pytest.raises(ValueError, match="check_every must be a positive integer; received 0"):
        NaNGuard(check_every=0)


# ---------------------------------------------------------------------------- safe loading
@pytest.fixture(scope="module")
def saved_weights(tmp_path_factory):
    model = kgan.zoo.load("test_dcgan", pretrained=False)
    path = tmp_path_factory.mktemp("weights") / "model.weights.h5"
    model.save_weights(path)
    return path


def _truncated(src, dst):
    dst.write_bytes(src.read_bytes()[: src.stat().st_size // 2])


def _not_hdf5(src, dst):
    dst.write_text("definitely not weights")


def _nan_values(src, dst):
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "r+") as f:
        kernel = f["generator/layers/dense/vars/0"]
        kernel[...] = np.nan


@pytest.mark.parametrize("corrupt, message", [
    (_truncated, "truncated or corrupt"),
    (_not_hdf5, "not a Keras .weights.h5 file"),
    (_nan_values, "holds NaN or Inf weights"),
])
def test_bad_weight_files_are_refused_and_change_nothing(saved_weights, tmp_path, corrupt,
                                                         message):
    bad = tmp_path / "bad.weights.h5"
    corrupt(saved_weights, bad)
    model = kgan.zoo.load("test_dcgan", pretrained=False)
    before = state(model)
    with pytest.raises(ValueError, match=f"{re.escape(str(bad))}.*{message}"):
        zoo_weights.load_into(model, bad)
    assert_same_state(state(model), before)


def test_wrong_architecture_changes_nothing(saved_weights):
    model = kgan.zoo.load("test_cgan", pretrained=False)
    before = state(model)
    with pytest.raises(ValueError, match="does not match this architecture"):
        zoo_weights.load_into(model, saved_weights)
    assert_same_state(state(model), before)
    with pytest.raises(FileNotFoundError, match="No weight file at"):
        zoo_weights.load_into(model, saved_weights.with_name("missing.weights.h5"))


def test_non_finite_weights_are_never_written(tmp_path):
    model = kgan.zoo.load("test_dcgan", pretrained=False)
    model.generator.weights[0].assign(np.full(model.generator.weights[0].shape, np.inf))
    with pytest.raises(ValueError, match="Refusing to write .*NaN or Inf"):
        zoo_weights.save_atomically(model, tmp_path / "x.weights.h5")
    assert list(tmp_path.iterdir()) == []


def test_keras_files_load_in_safe_mode(tmp_path):
    """A .keras file with a Lambda layer (arbitrary code) is refused; a truncated one too."""
    from kgan import export

    lam = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    lam.save(tmp_path / "code.keras")
    with pytest.raises(ValueError, match="could not be loaded.*(unsafe|safe_mode)"):
        export.load_exportable(tmp_path / "code.keras")
    kgan.zoo.load("test_dcgan", pretrained=False).save(tmp_path / "gan.keras")
    data = (tmp_path / "gan.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.keras"):
        export.load_exportable(tmp_path / "cut.keras")


def test_nothing_unpickles():
    sources = [*ROOT.glob("kgan/**/*.py"), *ROOT.glob("tools/*.py")]
    offending = [
        f"{p.relative_to(ROOT)}:{i}" for p in sources
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\bimport pickle\b|pickle\.loads?\(|allow_pickle=True|safe_mode=False"
                     r"|\bimport (c?pickle|dill|joblib)\b|torch\.load\(", line)
    ]
    assert sources and not offending, offending


def test_backups_written_by_keras_callback_are_restored(tmp_path):
    model = kgan.zoo.load("test_dcgan", pretrained=False)
    with pytest.raises(KeyboardInterrupt):
        model.fit(tiny_dataset(model), epochs=3, steps_per_epoch=2, verbose=0, callbacks=[
            keras.callbacks.BackupAndRestore(str(tmp_path)), _Crash(3)])
    resumed = kgan.zoo.load("test_dcgan", pretrained=False)
    backup = BackupAndRestore(tmp_path)
    backup.set_model(resumed)
    backup.on_train_begin()
    assert backup.restored["epoch"] == 1 and int(resumed.g_optimizer.iterations.numpy()) == 2


@pytest.mark.slow
def test_backup_and_guard_under_two_replicas(tmp_path, monkeypatch, capsys):
    from kgan import data, training

    args = dict(epochs=1, batch_size=4, steps_per_epoch=3, strategy="mirrored",
                backup_every=2, verbose=0)
    training.train("test_vanilla_gan", tmp_path / "run", **args)
    model, _, _ = training.train("test_vanilla_gan", tmp_path / "run", **{**args, "epochs": 2})
    assert "epoch 2, step 3." in capsys.readouterr().out  # the epoch-end backup
    assert int(model.g_optimizer.iterations.numpy()) == 6
    images = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    images[24:] = np.nan  # global batches of 8: the fourth holds NaN
    monkeypatch.setattr(training.kgan_data, "load",
                        lambda *a, **k: data.from_numpy(images, batch_size=8, shuffle=False))
    with pytest.raises(DivergenceError, match="diverged at step 4"):
        training.train("test_vanilla_gan", tmp_path / "nan", **{**args, "steps_per_epoch": 8})
    meta = json.loads((tmp_path / "nan" / "backup" / "training_metadata.json").read_text())
    assert meta["step"] == 2


def test_float16_storage_halves_the_file_and_loads_as_float32(tmp_path):
    """What large zoo entries publish: float16 arrays that load into the float32 model."""
    model = kgan.zoo.load("test_pix2pix", pretrained=False)
    full = zoo_weights.save_atomically(model, tmp_path / "full.weights.h5")
    half = zoo_weights.save_atomically(model, tmp_path / "half.weights.h5", dtype="float16")
    float32_bytes = 4 * sum(int(np.prod(w.shape)) for w in model.weights)
    assert full.stat().st_size - half.stat().st_size >= 0.49 * float32_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.weights.h5", "half.weights.h5"]
    loaded = kgan.zoo.load("test_pix2pix", pretrained=False)
    zoo_weights.load_into(loaded, half)
    for saved, read in zip(model.weights, loaded.weights):
        assert read.dtype == "float32"
        a, b = keras.ops.convert_to_numpy(saved), keras.ops.convert_to_numpy(read)
        np.testing.assert_allclose(b, a.astype(np.float16).astype(np.float32), rtol=0, atol=0)
        np.testing.assert_allclose(b, a, rtol=5e-4, atol=6e-8)


def test_float16_storage_compresses_empty_history_pools(tmp_path):
    """A CycleGAN entry's pools are empty when published: stored compressed, they cost
    almost nothing, and they load back empty."""
    model = kgan.zoo.load("test_cyclegan", pretrained=False)
    path = zoo_weights.save_atomically(model, tmp_path / "x.weights.h5", dtype="float16")
    pools = []

    def note_pool(name, item):
        if "image_pool" in name and isinstance(item, h5py.Dataset) and item.ndim == 4:
            pools.append((item.compression, item.id.get_storage_size() / item.nbytes))

    with h5py.File(path, "r") as f:
        f.visititems(note_pool)
    assert len(pools) == 2 and all(c == "gzip" and share < 0.01 for c, share in pools), pools
    loaded = kgan.zoo.load("test_cyclegan", pretrained=False)
    zoo_weights.load_into(loaded, path)
    assert int(loaded.pool_a.count.numpy()) == 0
    assert not np.any(keras.ops.convert_to_numpy(loaded.pool_b.weights[0]))


def test_float16_storage_refuses_values_out_of_range(tmp_path):
    model = kgan.zoo.load("test_dcgan", pretrained=False)
    model.generator.weights[0].assign(np.full(model.generator.weights[0].shape, 1e6))
    with pytest.raises(ValueError, match="beyond float16's range; publish this entry with "
                                         "float32"):
        zoo_weights.save_atomically(model, tmp_path / "x.weights.h5", dtype="float16")
    assert list(tmp_path.iterdir()) == []
