"""kgan.export.outlier_finetune: the penalty's values, fine-tuning a filter with fit on both
backends, and what it refuses."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from kgan import zoo
from kgan.export.outlier_finetune import finetune_for_int8, outlier_penalty


def test_penalty_counts_only_values_beyond_the_threshold():
    x = np.zeros((2, 10, 10, 3), "float32")
    x[:, :, :, 1] = np.tile([1.0, -1.0], 50).reshape(10, 10)  # |z| = 1 everywhere
    assert np.allclose(keras.ops.convert_to_numpy(outlier_penalty(x, threshold=0.5)),
                       0.25 / 3, atol=1e-4)  # 0.5 ** 2 in one channel of three
    assert np.allclose(keras.ops.convert_to_numpy(outlier_penalty(x)), 0.0)
    spike = np.zeros((1, 10, 10, 1), "float32")
    spike[0, 3, 4, 0] = 1.0  # mean 0.01, variance 0.0099: z = 9.95 at the spike, 0.1 elsewhere
    z = 0.99 / np.sqrt(0.0099 + 1e-5)
    expected = (z - 6.0) ** 2 / 100
    assert np.allclose(keras.ops.convert_to_numpy(outlier_penalty(spike)), expected, rtol=1e-3)


@pytest.fixture
def generator():
    return zoo.load("test_cyclegan", pretrained=False, compile=False).generator_ab


def test_finetune_trains_the_network_in_place(generator):
    images = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    before = [w.copy() for w in generator.get_weights()]
    history = finetune_for_int8(generator, images, steps=2, steps_per_epoch=1,
                                learning_rate=1e-2, verbose=0)
    assert {"distill_loss", "outliers_loss", "loss"} <= set(history.history)
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert history.history["distill_loss"][0] == pytest.approx(0.0, abs=1e-6)  # a copy at first
    assert history.history["distill_loss"][1] > 0.0
    assert any(not np.allclose(a, b) for a, b in zip(before, generator.get_weights()))


def test_finetune_refuses_what_it_cannot_use(generator):
    with pytest.raises(ValueError, match=r"images must be \(N, \*\(28, 28, 1\)\)"):
        finetune_for_int8(generator, np.zeros((4, 32, 32, 1), "float32"), steps=2,
                          steps_per_epoch=1)
    with pytest.raises(ValueError, match="multiple of steps_per_epoch"):
        finetune_for_int8(generator, np.zeros((4, 28, 28, 1), "float32"), steps=3,
                          steps_per_epoch=2)
    plain = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(1, 3)])
    with pytest.raises(ValueError, match="no GroupNormalization"):
        finetune_for_int8(plain, np.zeros((4, 28, 28, 1), "float32"), steps=1,
                          steps_per_epoch=1)


@pytest.mark.slow
def test_tool_runs_an_entry_recipe_on_jax_and_writes_a_publishable_run(tmp_path):
    """tools/int8_finetune.py under KERAS_BACKEND=jax: fit's JAX trainer, the callbacks, and
    a run folder tools/train_cyclegan.py --notrain publishes (the TF fit is tested above)."""
    pytest.importorskip("jax")
    model = zoo.load("test_cyclegan", pretrained=False, compile=False)
    start = tmp_path / "start" / "test_cyclegan.weights.h5"
    start.parent.mkdir()
    model.save_weights(start)
    (start.parent / "run.json").write_text(json.dumps({"wall_seconds": 10.0, "steps": 7}))
    out = tmp_path / "int8"
    tool = Path(__file__).parents[1] / "tools" / "int8_finetune.py"
    subprocess.run([sys.executable, str(tool), "test_cyclegan", "--weights", str(start),
                    "--out", str(out)], check=True, timeout=300,
                   env={**os.environ, "KERAS_BACKEND": "jax"})
    run = json.loads((out / "run.json").read_text())
    assert run["steps"] == 7 and run["wall_seconds"] > 10.0
    assert run["int8_finetune"]["steps"] == 2 and run["int8_finetune"]["direction"] == "a2b"
    assert run["int8_finetune"]["keras_backend"] == "jax"
    assert len((out / "history.csv").read_text().splitlines()) == 3  # header, 2 epochs
    tuned = zoo.load("test_cyclegan", pretrained=False, compile=False)
    tuned.load_weights(out / "test_cyclegan.weights.h5")
    changed = [not np.allclose(a, b) for a, b in
               zip(model.generator_ab.get_weights(), tuned.generator_ab.get_weights())]
    assert any(changed)
    for a, b in zip(model.generator_ba.get_weights(), tuned.generator_ba.get_weights()):
        np.testing.assert_array_equal(a, b)  # only the filter's direction is tuned
