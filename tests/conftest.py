"""Shared test setup: two logical CPUs (for 1-vs-2-replica tests), quiet TF logs and
quick XLA compiles.

The CPU split must happen before TensorFlow runs any op, so it lives here, imported by
pytest before any test module. The tests' JAX subprocesses inherit the environment: there
XLA compiles every train step of every family once and runs it a few steps, so LLVM's
optimisation passes cost more than they save (the 17 parity cases: 163 s -> 94 s on 2
cores, weights after 3 steps within 2e-6 of the optimised build's).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import pytest  # noqa: E402

from kgan import distribute  # noqa: E402

distribute.split_cpu(2)


@pytest.fixture
def tiny_images():
    """64 MNIST-shaped uint8 images with labels, deterministic."""
    import numpy as np

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, 28, 28, 1), dtype="uint8")
    labels = np.arange(64) % 10
    return images, labels
