"""Shared test setup: two logical CPUs (for 1-vs-2-replica tests) and quiet TF logs.

The CPU split must happen before TensorFlow runs any op, so it lives here, imported by
pytest before any test module.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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
