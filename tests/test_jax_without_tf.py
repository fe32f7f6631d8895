"""kgan on Keras' JAX backend where ``import tensorflow`` fails (the lent GPU machines have JAX
and no TensorFlow): numpy batches from ``kgan.data.load``, ``fit`` with kgan's callbacks,
``save_weights``, ``tools/train_zoo.py --nopublish`` and, back under TensorFlow, the
``--from_run`` load of that run. The JAX side runs in a subprocess
(tests/jax_without_tf_worker.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if subprocess.run([sys.executable, "-c", "import jax"], capture_output=True).returncode:
        pytest.skip("jax is not installed")
    out = tmp_path_factory.mktemp("jax_without_tf")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT),
           "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "jax_without_tf_worker.py"),
                           str(out)], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, json.loads((out / "result.json").read_text())


def test_load_gives_numpy_batches_with_tf_data_semantics(run):
    _, result = run
    assert result["tensorflow_importable"] is False
    data = result["data"]
    assert data["is_py_dataset"] and data["num_batches"] == data["len"] == 60000 // 32
    assert data["images"] == [[32, 28, 28, 1], "float32", -1.0, 1.0]
    assert data["labels"] == [[32], "int32"]
    assert data["reshuffled"] and data["seeded"]
    assert data["endless_num_batches"] is None and data["endless_wraps"] == [32, 28, 28, 1]
    assert data["small"] == [2, -1.0]  # 10 images, batch 4: the partial batch dropped
    assert data["pairs"] == [2, -1.0, 1.0, "float32", True]  # (source, target, labels)
    assert "tf.summary" in data["tensorboard_error"]
    assert "needs TensorFlow" in data["captions_error"]
    assert "fashion_captions" in data["captions_error"]


def test_fit_callbacks_and_save_weights_without_tensorflow(run):
    out, result = run
    fit = result["fit"]
    assert fit["steps"] == 4
    assert all(np.isfinite(v).all() and len(v) == 2 for v in fit["history"].values())
    assert (out / "fit.weights.h5").exists()
    assert sorted(p.name for p in (out / "samples").glob("*.png")) == [
        "epoch_0001.png", "epoch_0002.png"]
    assert json.loads((out / "backup" / "training_metadata.json").read_text())


def test_train_zoo_trains_on_jax_and_publishes_under_tensorflow(run):
    out, result = run
    code, log = result["train_zoo_nopublish"]
    assert code == 0, log
    code, log = result["train_zoo_publish"]
    assert code != 0 and "--nopublish" in log and "--from_run" in log
    report = json.loads((out / "run" / "test_dcgan.json").read_text())
    assert report["keras_backend"] == "jax"
    assert report["steps"] == 2 and report["epochs_completed"] == 1
    assert "JAX" in report["hardware"]

    from kgan.zoo import publish

    model, training = publish.load_run("test_dcgan", out / "run")
    assert training["keras_backend"] == "jax"
    assert training["cross_backend_max_abs_error"] < 1e-3


def test_kgan_train_on_jax_without_tensorflow(run):
    out, result = run
    code, log = result["kgan_train"]
    assert code == 0 and "trained test_cgan on jax" in log, log
    assert (out / "cli" / "test_cgan.weights.h5").exists()
    assert json.loads((out / "cli" / "test_cgan.json").read_text())["keras_backend"] == "jax"
    from kgan.zoo import publish

    publish.load_run("test_cgan", out / "cli")  # what --from_run publishes, under TensorFlow


def test_bare_weights_file_round_trips_under_tensorflow(tmp_path):
    """Runs without JAX too: a bare copy's G+D weights file (what publish.write_run and
    save_entry_weights write on any backend) round-trips into a compiled zoo model."""
    import kgan
    from kgan.zoo import weights as zoo_weights

    source = kgan.zoo.load("test_dcgan", pretrained=False)
    source.generate(2, seed=0)
    bare = kgan.zoo.create("test_dcgan")
    bare.set_weights(source.get_weights())
    path = tmp_path / "test_dcgan.weights.h5"
    bare.save_weights(str(path))
    loaded = kgan.zoo.load("test_dcgan", pretrained=False)
    zoo_weights.load_into(loaded, path)
    np.testing.assert_array_equal(loaded.generate(4, seed=1), source.generate(4, seed=1))
