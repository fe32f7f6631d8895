"""kgan.jax_training (Keras on JAX) against GAN.train_step (TensorFlow), step for step.

A subprocess trains each test entry for a few steps with ``fit_jax`` under Keras' JAX
backend (``tests/jax_parity_worker.py``); this process (TensorFlow) then replays the same
steps with ``model.fit`` from the same initial weights, batches, latents and interpolation
coefficients, and compares the resulting weights (BatchNorm statistics included), the
logged losses, and the generators' outputs after loading the JAX-written ``.weights.h5``.

The JAX side needs a Python with jax and keras: ``$KGAN_JAX_PYTHON`` (e.g. a venv without
TensorFlow, like the GPU machines the zoo trains on), else this interpreter (the test extra
installs jax). Without one these tests skip; the TensorFlow-only checks always run.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kgan
from kgan.gan import _MAX_D_STEPS
from kgan.zoo import _weights

ROOT = Path(__file__).resolve().parents[1]
STEPS, BATCH = 3, 16
#: (entry, update mode): every family with its recipe, and the simultaneous update once.
PARITY_CASES = [("test_dcgan", "alternating"), ("test_cgan", "alternating"),
                ("test_wgan_gp", "alternating"), ("test_vanilla_gan", "alternating"),
                ("test_cgan", "simultaneous")]


def _jax_python():
    candidates = [os.environ.get("KGAN_JAX_PYTHON"), sys.executable]
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    for python in candidates:
        if not python or not Path(python).exists():
            continue
        probe = subprocess.run([python, "-c", "import jax, keras"], env=env,
                               capture_output=True, timeout=120)
        if probe.returncode == 0:
            return python
    return None


@pytest.fixture(scope="module")
def jax_python():
    python = _jax_python()
    if python is None:
        pytest.skip("no Python with jax + keras (set KGAN_JAX_PYTHON)")
    return python


def _run_worker(python, name, out, no_dropout, update):
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT),
           "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3", "KGAN_TEST_UPDATE": update}
    if no_dropout:
        env["KGAN_TEST_NO_DROPOUT"] = "1"
    proc = subprocess.run(
        [python, str(ROOT / "tests" / "jax_parity_worker.py"), name, str(out), str(STEPS),
         str(BATCH)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _replay_with_train_step(name, ref, init_path, update):
    """Trains a TF model from the same start on the same draws with GAN.train_step."""
    import tensorflow as tf

    model = kgan.zoo.load(name, pretrained=False)
    model.compile_from_config({**model.get_compile_config(), "update": update})
    _weights.load_into(model, init_path)
    z_d, z_g, eps = (tf.constant(ref[k]) for k in ("z_d", "z_g", "eps"))

    def replayed_slice(sampler, local_batch, stream):
        step = tf.cast(model.g_optimizer.iterations, "int32")
        if stream == _MAX_D_STEPS:
            return tf.gather(z_g, step)
        if stream < model.d_steps:
            return tf.gather(z_d, step)[stream]
        return tf.gather(eps, step)[_MAX_D_STEPS - 1 - stream]

    model._global_slice = replayed_slice
    idx = ref["perm"]
    x = ref["images"][idx].astype("float32") / 127.5 - 1.0
    y = ref["labels"][idx] if model.conditional else None
    history = model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    assert int(model.g_optimizer.iterations.numpy()) == STEPS
    return model, history.history


def _weights_by_path(model):
    # Auto-generated layer names differ between instances: key by position and role.
    variables = model.generator.weights + model.discriminator.weights
    return {f"{i}:{v.path.split('/')[-1]}": np.asarray(v.numpy())
            for i, v in enumerate(variables)}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "update"), PARITY_CASES)
def test_fit_jax_matches_train_step(name, update, jax_python, tmp_path, monkeypatch):
    import keras

    # Dropout masks come from each backend's own RNG: switch it off on both sides.
    no_dropout = name == "test_vanilla_gan"
    if no_dropout:
        monkeypatch.setattr(keras.layers.Dropout, "call",
                            lambda self, inputs, training=False: inputs)
    _run_worker(jax_python, name, tmp_path, no_dropout, update)
    ref = dict(np.load(tmp_path / "ref.npz"))
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["steps"] == STEPS and result["stopped_early"]

    # 1. The JAX-written weights load under TensorFlow and generate the same images.
    trained = kgan.zoo.load(name, pretrained=False)
    _weights.load_into(trained, tmp_path / "trained.weights.h5")
    labels = np.arange(6) % trained.num_classes if trained.conditional else None
    np.testing.assert_allclose(trained.generate(z=ref["z_check"], labels=labels),
                               ref["generated"], atol=1e-4)

    # 2. train_step on the same start, batches and draws reaches the same weights.
    replayed, history = _replay_with_train_step(name, ref, tmp_path / "init.weights.h5",
                                                update)
    initial = kgan.zoo.load(name, pretrained=False)
    _weights.load_into(initial, tmp_path / "init.weights.h5")
    start, got, want = (_weights_by_path(m) for m in (initial, trained, replayed))
    assert got.keys() == want.keys()
    moved = 0
    worst = max(float(np.abs(got[k] - want[k]).max()) for k in want)
    change = max(float(np.abs(want[k] - start[k]).max()) for k in want)
    print(f"{name} ({update}): max |w_jax - w_tf| = {worst:.2e} after {STEPS} steps "
          f"(largest weight change {change:.2e})")
    for key in want:
        # Adam's first steps move each weight by about lr * sign(grad): compare the change
        # against its size; BatchNorm statistics move by momentum * batch moments.
        np.testing.assert_allclose(got[key], want[key], atol=2e-5, rtol=1e-3, err_msg=key)
        moved += not np.allclose(want[key], start[key])
    assert moved >= len(want) // 2, "training changed too few variables to compare"
    for metric, values in history.items():
        np.testing.assert_allclose(result["history"][metric][0], values[-1], rtol=2e-3,
                                   atol=1e-4, err_msg=metric)


def test_bare_weights_file_round_trips_under_tensorflow(tmp_path):
    """Runs without JAX too: a bare copy's G+D weights file round-trips into a compiled
    zoo model (what tools/train_zoo_jax.py writes and kgan.zoo.load reads)."""
    source = kgan.zoo.load("test_dcgan", pretrained=False)
    source.generate(2, seed=0)
    bare = kgan.zoo.create("test_dcgan")
    bare.set_weights(source.get_weights())
    path = tmp_path / "test_dcgan.weights.h5"
    bare.save_weights(str(path))
    loaded = kgan.zoo.load("test_dcgan", pretrained=False)
    _weights.load_into(loaded, path)
    np.testing.assert_array_equal(loaded.generate(4, seed=1), source.generate(4, seed=1))


def test_losses_input_gradients_match_penalties():
    """The backend-neutral penalty helpers agree with the TF gradient-tape path."""
    import tensorflow as tf

    from kgan import losses

    w = tf.constant([[1.0], [2.0], [2.0]])  # ||w|| = 3

    def critic(x):
        return tf.matmul(tf.reshape(x, (-1, 3)), w)

    x = tf.random.normal((5, 1, 3, 1))
    grads = losses.input_gradients(critic, [x])
    np.testing.assert_allclose(grads.numpy().reshape(5, 3), np.tile([1.0, 2.0, 2.0], (5, 1)))
    assert np.isclose(float(losses.gradient_penalty_from_gradients(grads)), 4.0)
    assert np.isclose(float(losses.r1_penalty_from_gradients(grads)), 9.0)
