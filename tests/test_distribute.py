"""The same train_step on one device and under MirroredStrategy / MultiWorkerMirroredStrategy."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
import kgan.distribute
from gan_checks import assert_replicas_agree, tiny_captioned



@pytest.fixture(scope="module")
def mirrored():
    """One strategy for the module: several MirroredStrategy objects over the same devices
    in one process share collective keys and can collide."""
    return kgan.distribute.get_strategy("mirrored")


def _train_three_steps(name, strategy, initial, dataset_fn):
    with strategy.scope():
        model = kgan.zoo.create(name)
        model.set_weights(initial)
        model.compile()
    model.fit(dataset_fn(), epochs=1, steps_per_epoch=3, verbose=0)
    return model.get_weights()


@pytest.mark.parametrize("name", ["test_dcgan", "test_cgan", "test_wgan_gp"])
def test_one_and_two_replicas_give_the_same_weights(name, tiny_images, mirrored):
    images, labels = tiny_images
    initial = kgan.zoo.create(name).get_weights()
    conditional = kgan.zoo.info(name).num_classes > 0

    def dataset():
        return kgan.data.from_numpy(images, labels if conditional else None, batch_size=16,
                                    shuffle=False)

    one = _train_three_steps(name, tf.distribute.OneDeviceStrategy("/cpu:0"), initial, dataset)
    two = _train_three_steps(name, mirrored, initial, dataset)
    assert not all(np.array_equal(a, b) for a, b in zip(one, initial)), "nothing trained"
    assert_replicas_agree(one, two)


def test_text2image_trains_under_mirrored_strategy(mirrored):
    """The captions are tokenized in the input pipeline and the ids distributed like labels.
    1 and 2 replicas are not compared: GAN-CLS rolls each replica's share of the batch for
    its mismatched captions, so the pairs differ."""
    with mirrored.scope():
        model = kgan.zoo.load("test_text2image", pretrained=False)
    history = model.fit(tiny_captioned(model, batch_size=16), epochs=1, steps_per_epoch=2,
                        verbose=0)
    assert int(model.g_optimizer.iterations.numpy()) == 2
    for values in history.history.values():
        assert np.all(np.isfinite(values))


def test_issue_example_under_mirrored_strategy(mirrored):
    strategy = mirrored
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        model = kgan.zoo.load("test_dcgan", pretrained=False)
    history = model.fit(kgan.data.load("mnist", batch_size=32), steps_per_epoch=2, verbose=0)
    assert np.isfinite(history.history["d_loss"][-1])


@pytest.mark.parametrize("option", ["mixed_float16", "jit_compile"])
def test_mixed_precision_and_xla_train(option):
    previous = keras.mixed_precision.dtype_policy()
    try:
        if option == "mixed_float16":
            keras.mixed_precision.set_dtype_policy("mixed_float16")
        model = kgan.zoo.load("test_wgan_gp", pretrained=False, compile=False)
        model.compile(jit_compile=option == "jit_compile")
        if option == "mixed_float16":
            assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
            assert model.generator.compute_dtype == "float16"
        images = np.random.default_rng(0).integers(0, 256, (32, 28, 28, 1), dtype="uint8")
        history = model.fit(kgan.data.from_numpy(images, batch_size=8), epochs=1,
                            steps_per_epoch=2, verbose=0)
        for values in history.history.values():
            assert np.all(np.isfinite(values))
        assert model.generate(2, seed=0).dtype == np.float32
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


WORKER = textwrap.dedent("""
    import os, sys, json
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import numpy as np, tensorflow as tf, kgan
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = kgan.zoo.load("test_dcgan", pretrained=False)
    images = np.random.default_rng(0).integers(0, 256, (64, 28, 28, 1), dtype="uint8")
    ds = kgan.data.from_numpy(images, batch_size=16, shuffle=False, repeat=True)
    history = model.fit(ds, epochs=1, steps_per_epoch=3, verbose=0)
    print("RESULT", json.dumps({"replicas": strategy.num_replicas_in_sync,
          "steps": int(model.g_optimizer.iterations.numpy()),
          "d_loss": float(history.history["d_loss"][-1]),
          "checksum": float(sum(np.abs(w).sum() for w in model.generator.get_weights()))}))
""")


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_mirrored_strategy_on_localhost(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen([sys.executable, str(script)], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-3000:]
        line = [l for l in out.splitlines() if l.startswith("RESULT ")][-1]
        results.append(json.loads(line[len("RESULT "):]))
    assert all(r["replicas"] == 2 and r["steps"] == 3 for r in results)
    assert np.isfinite(results[0]["d_loss"])
    # Both workers hold the same synchronised weights.
    assert np.isclose(results[0]["checksum"], results[1]["checksum"], rtol=1e-6)
