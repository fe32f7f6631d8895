"""kgan.layers: minibatch statistics layers."""

import keras
import numpy as np

from kgan.layers import MinibatchDiscrimination, MinibatchStdDev


def test_minibatch_discrimination_features():
    layer = MinibatchDiscrimination(num_kernels=5, kernel_dim=3)
    same = np.ones((4, 16), "float32")
    out = keras.ops.convert_to_numpy(layer(same))
    assert out.shape == (4, 21)
    # Identical examples are maximally close to each other: closeness 1.
    np.testing.assert_allclose(out[:, 16:], 1.0, rtol=1e-6)
    spread = np.random.default_rng(0).normal(size=(4, 16)).astype("float32") * 100
    assert keras.ops.convert_to_numpy(layer(spread))[:, 16:].max() < 0.5


def test_minibatch_stddev_appends_group_statistic():
    layer = MinibatchStdDev(group_size=2)
    x = np.stack([np.zeros((3, 3, 2)), np.ones((3, 3, 2)) * 2]).astype("float32")
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(out[..., 2], 1.0, rtol=1e-4)  # std of {0, 2} is 1
    assert keras.ops.convert_to_numpy(layer(np.ones((4, 3, 3, 2), "float32")))[..., 2].max() < 1e-3
    # Volumes (3D-GAN) as well: groups {0, 2} and {1, 3} of a batch of 4.
    volumes = np.zeros((4, 2, 2, 2, 1), "float32")
    volumes[2] = 2.0
    out = keras.ops.convert_to_numpy(layer(volumes))
    assert out.shape == (4, 2, 2, 2, 2)
    np.testing.assert_allclose(out[[0, 2], ..., 1], 1.0, rtol=1e-4)
    assert out[[1, 3], ..., 1].max() < 1e-3


def test_layers_serialize():
    for layer in (MinibatchDiscrimination(7, 2), MinibatchStdDev(4)):
        clone = layer.__class__.from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
