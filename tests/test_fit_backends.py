"""``model.fit`` on both backends: one game (kgan.trainers), two gradient engines.

The JAX side runs in subprocesses with ``KERAS_BACKEND=jax`` (tests/fit_backends_worker.py);
this process is TensorFlow's.

* ``test_jax_fit_smoke``: ``test_dcgan`` trains through Keras' own JAX trainer on numpy and
  ``tf.data`` input; both optimizers' state and the generator's EMA are threaded through the
  jitted steps and written back to the variables; kgan's ``BackupAndRestore`` writes a
  backup equal to the model after ``fit``.
* ``test_one_step_parity``: from the same weights, data and draws (numpy tables replace
  the backends' RNGs, dropout off), ``STEPS`` TensorFlow steps and ``STEPS`` JAX steps reach
  the same weights, BatchNorm statistics and optimizer slots (EMA included), and log the
  same losses.
* ``test_one_step_update_parity``: CycleGAN's and SNGAN's step on both backends, one SGD
  step, compared per network on the norm of its whole update (tolerances below).
* ``test_jax_fit_translators``: pix2pix, CycleGAN and SRGAN train with ``fit`` on JAX and
  their weights translate the same under TensorFlow.
* ``test_jax_fit_captioned``: Text2Image and StackGAN train with ``fit`` on JAX from a
  ``tf.data`` pipeline of caption strings (tokenized before the step) and generate.
* ``test_jax_standard_checks``: the standard checks (tests/gan_checks.py) on JAX for the
  families no other test trains there (StyleGAN, WaveGAN).
* ``test_jax_fit_without_tensorflow``: ``import tensorflow`` fails, fit / callbacks /
  ``save_weights`` work, and the weights load under TensorFlow.
* ``test_jax_data_parallel_matches_one_device``: ``keras.distribution.DataParallel`` over
  two CPU devices trains to the weights of one device.
* ``test_unsupported_backend_is_named``: another backend generates, and ``fit`` names the
  two that train.

Parity tolerance: weights and optimizer slots ``atol=2e-5, rtol=1e-3``, logs ``rtol=2e-3,
atol=1e-4``, for every case below. The backends run the same float32 math through
different kernels (oneDNN / Eigen vs XLA), so results differ by reduction order, ~1e-7
relative per op (measured after 3 steps: at most 4e-6, and 4.5e-5 = 1e-3 of the value on
SpecGAN's label embedding; 1.3e-6 for Text2Image with GAN-INT and 1.7e-6 for StackGAN's
stage II, whose frozen text encoder embeds the tokenized captions inside the step on both
backends). With the recipes' Adam, a gradient
that is zero up to rounding (a bias followed by BatchNorm) moves its weight by
``lr * sign(noise)`` = 2e-4 on each backend independently; the families below have no such
weight except the ResNets of SNGAN and the projection cGAN, whose generator convolutions
keep their biases before BatchNorm: those run with SGD (lr 1e-3), which turns rounding noise
into rounding-sized steps. ``2e-5`` is 10x under one Adam step, so a missing term, a wrong
RNG stream or a swapped update order (all ~lr) fails.

Not compared step for step: StyleGAN (noise injection) and WaveGAN (phase shuffle) draw
from the backend's RNG inside their layers; DiffAugment's translation and cutout zero whole
patches where D's first pre-activation is exactly 0, and LeakyReLU's subgradient at 0 is
alpha on TensorFlow and 1 on XLA (both valid; only the colour transforms are compared).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fit_backends_worker as worker

ROOT = Path(__file__).resolve().parents[1]

_SGD = {"module": "keras.optimizers", "class_name": "SGD", "config": {"learning_rate": 1e-3},
        "registered_name": None}
#: (entry, compile overrides): each family that trains through the base game, both update
#: modes, both penalties, DiffAugment and EMA; pix2pix and SRGAN (both stages), whose own
#: steps use the same primitives (dropout off); 3D-GAN's adaptive D updates (taken and
#: undone) and mode-seeking term; the text families (GAN-CLS's mismatched captions, GAN-INT,
#: StackGAN's KL term and stage II) on captions. CycleGAN and SNGAN: ONE_STEP_CASES.
PARITY_CASES = [
    ("test_dcgan", {}),
    ("test_cgan", {}),
    ("test_wgan_gp", {}),
    ("test_vanilla_gan", {}),
    ("test_cgan", {"update": "simultaneous", "r1_weight": 1.0}),
    ("test_dcgan", {"augment": "color", "ema_decay": 0.9}),
    ("test_progan", {}),
    ("test_specgan", {}),
    ("test_cgan_pd", {"d_optimizer": _SGD, "g_optimizer": _SGD}),
    ("test_pix2pix", {}),
    ("test_srgan", {}),
    ("test_srgan", {"stage": "pretrain"}),
    ("test_gan3d", {}),
    ("test_gan3d", {"d_accuracy_threshold": 0.01}),  # every D update undone
    ("test_gan3d", {"mode_seeking_weight": 0.1}),
    ("test_text2image", {"interpolation_weight": 1.0}),  # GAN-CLS + GAN-INT on captions
    ("test_stackgan", {}),  # stage II, conditioning augmentation's KL term
]


def _case_id(case):
    name, config = case
    keys = [k for k in config if not k.endswith("_optimizer")]
    return "-".join([name, *keys] + (["sgd"] if "d_optimizer" in config else []))


def _run_worker(args, backend="jax", timeout=900, **env_vars):
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT),
           "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3", **env_vars}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "fit_backends_worker.py"),
                           *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def jax_available():
    probe = subprocess.run([sys.executable, "-c", "import jax"], capture_output=True)
    if probe.returncode:
        pytest.skip("jax is not installed")


@pytest.fixture(scope="module")
def jax_parity_runs(jax_available, tmp_path_factory):
    """All parity cases trained on JAX in one subprocess (one interpreter start)."""
    out = tmp_path_factory.mktemp("jax_parity")
    _run_worker(["parity", out, json.dumps(PARITY_CASES)], timeout=1800)
    return out


@pytest.mark.slow
def test_jax_fit_smoke(jax_available, tmp_path):
    _run_worker(["smoke", tmp_path])
    result = json.loads((tmp_path / "smoke.json").read_text())
    assert result["backend"] == "jax"
    assert "JAX" in result["train_step"]
    for key in ("numpy_history", "dataset_history"):
        logs = result[key]
        assert set(logs) == {"d_loss", "g_loss", "d_real_acc", "d_fake_acc"}
        assert all(np.isfinite(v).all() for v in logs.values())
    assert result["iterations"] == [6, 6]  # 2 numpy steps + 2 epochs x 2 tf.data steps
    changed = result["changed"]
    assert changed["networks"] > 0
    # Everything but the learning rates moved, in both optimizers (iterations, slots, EMA).
    assert changed["d_optimizer"] >= 3 and changed["g_optimizer"] >= 3
    assert result["ema_moved"] == result["ema_count"] > 0
    assert result["backup_step"] == 6
    assert result["backup_max_diff"] == 0.0
    assert result["generate_diff"] == 0.0


def _replay_tensorflow(name, config, init_path, monkeypatch, steps=worker.STEPS):
    import keras

    from kgan.zoo import weights as zoo_weights

    if name in worker.DROPOUT_ENTRIES:
        monkeypatch.setattr(keras.layers.Dropout, "call",
                            lambda self, inputs, training=False: inputs)
    model = worker._load(name, config)
    zoo_weights.load_into(model, init_path)
    start = worker.state_arrays(model)
    worker.replay_draws(model)
    images, labels = worker.parity_data(model, steps * worker.BATCH)
    history = model.fit(images, labels, batch_size=worker.BATCH, shuffle=False, epochs=1,
                        verbose=0)
    return model, start, history.history


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(PARITY_CASES)),
                         ids=[_case_id(c) for c in PARITY_CASES])
def test_one_step_parity(index, jax_parity_runs, monkeypatch):
    from kgan.zoo import weights as zoo_weights

    name, config = PARITY_CASES[index]
    folder = jax_parity_runs / str(index)
    jax_run = json.loads((folder / "history.json").read_text())
    assert jax_run["steps"] == worker.STEPS

    tf_model, start, tf_history = _replay_tensorflow(name, config, folder / "init.weights.h5",
                                                     monkeypatch)
    jax_model = worker._load(name, config)
    zoo_weights.load_into(jax_model, folder / "trained.weights.h5")
    want, got = worker.state_arrays(tf_model), worker.state_arrays(jax_model)
    assert len(want) == len(got)
    worst = max(float(np.abs(g - w).max()) for g, w in zip(got, want))
    print(f"{name} {config}: max |w_jax - w_tf| = {worst:.2e} after {worker.STEPS} steps")
    moved = 0
    for i, (g, w, s) in enumerate(zip(got, want, start)):
        np.testing.assert_allclose(g, w, atol=2e-5, rtol=1e-3, err_msg=f"variable {i}")
        moved += not np.allclose(w, s)
    assert moved >= len(want) // 2, "training changed too few variables to compare"
    assert set(jax_run["history"]) == set(tf_history)
    for metric, values in tf_history.items():
        np.testing.assert_allclose(jax_run["history"][metric], values, rtol=2e-3, atol=1e-4,
                                   err_msg=metric)


#: Compared apart, one SGD step per network, on the norm of its whole update, where a missing
#: or wrong loss term shows (it moves an update by its own size), as
#: ``(entry, compile overrides, networks, bound on |update_jax - update_tf| / |update_tf|)``.
#:
#: CycleGAN: its instance norm over random 28x28 images amplifies float rounding in single
#: weights (TensorFlow with and without oneDNN already differs in >10 % of single weights by
#: >1 %; through a second step, first-step rounding grew to 2 % of an update for some
#: initialisations). Measured 3.3e-3 for G_ab, 1.3e-3 for G_ba, <= 1.1e-5 for the
#: discriminators. The gap is the networks', not the step's: plain ``jax.grad`` and
#: ``tf.GradientTape`` of the generators' loss outside kgan.trainers differ by 1.1 % of the
#: largest gradient entry, and the JAX step's update matches plain ``jax.grad`` to 8e-6. The
#: pools only fill in one step: no RNG differs.
#:
#: SNGAN: its hinge game at lr 1e-3 over 5 D-steps per G-step amplifies rounding from step to
#: step. On an AMD EPYC, oneDNN's kernels move G's first update by 5.2e-5 of its norm (D's
#: 3.5e-7), and that gap grows to 2 % of the G loss by the second step and 1.7e-3 in single
#: weights by the third. TensorFlow without oneDNN (``TF_ENABLE_ONEDNN_OPTS=0``) matches XLA
#: to 1.4e-6 after those three steps, and on the Intel Xeon that recorded the step-by-step
#: tolerance, oneDNN did too: the step is the same, the CPU's kernels differ.
ONE_STEP_CASES = [
    (("test_cyclegan", {"d_optimizer": _SGD, "g_optimizer": _SGD}),
     ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b"), 1e-2),
    (("test_sngan", {"d_optimizer": _SGD, "g_optimizer": _SGD}),
     ("generator", "discriminator"), 1e-3),
]


@pytest.mark.slow
@pytest.mark.parametrize("case, networks, bound", ONE_STEP_CASES,
                         ids=[case[0] for case, _, _ in ONE_STEP_CASES])
def test_one_step_update_parity(case, networks, bound, jax_available, tmp_path, monkeypatch):
    from kgan.zoo import weights as zoo_weights

    name, config = case
    _run_worker(["parity", tmp_path, json.dumps([case])], KGAN_PARITY_STEPS="1")
    folder = tmp_path / "0"
    jax_run = json.loads((folder / "history.json").read_text())
    assert jax_run["steps"] == 1
    tf_model, _, tf_history = _replay_tensorflow(name, config, folder / "init.weights.h5",
                                                 monkeypatch, steps=1)
    jax_model = worker._load(name, config)
    zoo_weights.load_into(jax_model, folder / "trained.weights.h5")
    init_model = worker._load(name, config)
    zoo_weights.load_into(init_model, folder / "init.weights.h5")
    for net in networks:
        tf_update, jax_update = (
            np.concatenate([(np.asarray(w) - np.asarray(w0)).ravel() for w, w0 in zip(
                getattr(m, net).get_weights(), getattr(init_model, net).get_weights())])
            for m in (tf_model, jax_model))
        assert np.linalg.norm(tf_update) > 0, f"{net} did not train"
        relative = np.linalg.norm(tf_update - jax_update) / np.linalg.norm(tf_update)
        print(f"{net}: |update_jax - update_tf| / |update_tf| = {relative:.2e}")
        assert relative < bound, (net, relative)
    pools = ("pool_a", "pool_b") if hasattr(tf_model, "pool_a") else ()
    for pool in pools:  # CycleGAN's, filled with G's outputs of the same step
        for want, got in zip(getattr(tf_model, pool).get_weights(),
                             getattr(jax_model, pool).get_weights()):
            np.testing.assert_allclose(got, want, atol=1e-4, err_msg=pool)
    assert set(jax_run["history"]) == set(tf_history)
    for metric, values in tf_history.items():
        np.testing.assert_allclose(jax_run["history"][metric], values, rtol=1e-3, atol=1e-4,
                                   err_msg=metric)


@pytest.mark.slow
def test_jax_fit_translators(jax_available, tmp_path):
    """pix2pix and CycleGAN train with ``fit`` on JAX; the weights load under TensorFlow and
    translate as they did on JAX."""
    import kgan
    from kgan.zoo import weights as zoo_weights

    _run_worker(["translators", tmp_path])
    result = json.loads((tmp_path / "translators.json").read_text())
    for name in worker.TRANSLATOR_ENTRIES:
        run = result[name]
        assert run["steps"] == 4
        assert all(np.isfinite(v).all() and len(v) == 2 for v in run["history"].values())
        model = kgan.zoo.load(name, pretrained=False)
        untrained = [w.copy() for w in model.generator.get_weights()]
        zoo_weights.load_into(model, tmp_path / f"{name}.weights.h5")
        assert any(not np.array_equal(a, b)
                   for a, b in zip(untrained, model.generator.get_weights()))
        saved = np.load(tmp_path / f"{name}.npz")
        for direction in model.directions:
            np.testing.assert_allclose(model.translate(saved["source"], direction),
                                       saved[direction or "default"], atol=1e-5,
                                       err_msg=f"{name} {direction}")


@pytest.mark.slow
def test_jax_fit_captioned(jax_available, tmp_path):
    _run_worker(["captioned", tmp_path])
    result = json.loads((tmp_path / "captioned.json").read_text())
    for name in worker.TEXT_ENTRIES:
        run = result[name]
        assert run["steps"] == 2
        names = {"d_loss", "g_loss", "d_real_acc", "d_fake_acc", "d_wrong_acc"}
        assert set(run["history"]) == names | ({"kl"} if name == "test_stackgan" else set())
        assert all(np.isfinite(v).all() for v in run["history"].values())
        assert run["generated"][0] == 2


@pytest.mark.slow
def test_jax_standard_checks(jax_available, tmp_path):
    _run_worker(["standard", tmp_path])
    result = json.loads((tmp_path / "standard.json").read_text())
    assert result == {name: "ok" for name in worker.STANDARD_ENTRIES}, result


@pytest.mark.slow
def test_jax_fit_without_tensorflow(jax_available, tmp_path):
    import kgan
    from kgan.zoo import weights as zoo_weights

    _run_worker(["no_tensorflow", tmp_path])
    result = json.loads((tmp_path / "no_tensorflow.json").read_text())
    assert not result["tensorflow_importable"]
    assert result["steps"] == 4
    assert all(np.isfinite(v).all() for v in result["history"].values())
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "epoch_0001.png", "epoch_0002.png"]
    assert json.loads((tmp_path / "backup" / "training_metadata.json").read_text())["step"] == 4
    # What JAX wrote loads under TensorFlow and generates the same images.
    model = kgan.zoo.load("test_cgan", pretrained=False)
    zoo_weights.load_into(model, tmp_path / "trained.weights.h5")
    generated = np.load(tmp_path / "generated.npz")
    np.testing.assert_allclose(model.generate(z=generated["z"], labels=np.arange(4)),
                               generated["images"], atol=1e-5)


@pytest.mark.slow
def test_jax_data_parallel_matches_one_device(jax_available, tmp_path):
    """keras.distribution.DataParallel over 2 CPU devices: the step sees the global batch
    (BatchNorm and the losses over all of it), so 1 and 2 devices reach the same weights
    up to reduction order."""
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    _run_worker(["data_parallel", tmp_path], XLA_FLAGS=flags.strip())
    result = np.load(tmp_path / "data_parallel.npz")
    assert int(result["device_count"]) == 2
    np.testing.assert_allclose(result["devices_2"], result["devices_1"], atol=2e-5, rtol=1e-4)


def test_unsupported_backend_is_named(tmp_path):
    from kgan.trainers import unsupported_backend_message

    message = unsupported_backend_message("torch")
    assert "'torch'" in message and "'tensorflow'" in message and "'jax'" in message
    _run_worker(["unsupported", tmp_path], backend="numpy", timeout=300)
    result = json.loads((tmp_path / "unsupported.json").read_text())
    assert result["generated"] == [2, 28, 28, 1]
    assert "'numpy'" in result["error"] and "KERAS_BACKEND=jax" in result["error"]


def test_optimizer_pair_serves_keras_and_is_not_saved(tmp_path):
    """Both optimizers sit in Keras' one ``model.optimizer`` slot, for Keras' trainers and
    callbacks, without changing what weight files hold."""
    import h5py
    import keras

    import kgan

    model = kgan.zoo.load("test_dcgan", pretrained=False)
    model.build_optimizers()
    pair = model.optimizer
    assert pair.optimizers == [model.d_optimizer, model.g_optimizer]
    assert [id(v) for v in pair.variables] == [
        id(v) for v in model.d_optimizer.variables + model.g_optimizer.variables]
    assert pair.iterations is model.g_optimizer.iterations
    images, _ = worker.parity_data(model, 32)
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 1e-4)
    model.fit(images, batch_size=16, verbose=0, callbacks=[schedule])
    for optimizer in pair.optimizers:  # Keras' multi-optimizer convention reaches both
        assert np.isclose(float(optimizer.learning_rate.numpy()), 1e-4)
    path = tmp_path / "m.weights.h5"
    model.save_weights(str(path))
    with h5py.File(path) as f:
        assert {"d_optimizer", "g_optimizer"} <= set(f) and "optimizer" not in set(f)
