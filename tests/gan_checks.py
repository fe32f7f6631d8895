"""The standard checks every GAN family must pass (keras-hub's TestCase idea)."""

import numpy as np
import keras

import kgan


def tiny_dataset(model, batch_size=8, n=32, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % model.num_classes if model.num_classes else None
    if len(model.image_shape) != 3:  # audio: float waveforms in [-1, 1]
        import tensorflow as tf

        data = rng.uniform(-1, 1, size=(n, *model.image_shape)).astype("float32")
        ds = tf.data.Dataset.from_tensor_slices(data if labels is None else (data, labels))
        return ds.batch(batch_size, drop_remainder=True)
    images = rng.integers(0, 256, size=(n, *model.image_shape), dtype="uint8")
    return kgan.data.from_numpy(images, labels, batch_size=batch_size, shuffle=False)


def expected_metric_names(model):
    names = {"d_loss", "g_loss", "d_real_acc", "d_fake_acc"}
    if model.gp_weight:
        names.add("gp")
    if model.r1_weight:
        names.add("r1")
    return names


def check_fit(model, steps=2):
    history = model.fit(tiny_dataset(model), epochs=1, steps_per_epoch=steps, verbose=0)
    assert set(history.history) == expected_metric_names(model)
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{name} is not finite: {values}"
    return history


def check_generate(model):
    images = model.generate(5, seed=3)
    # Audio families generate waveforms, whatever representation they train on.
    assert images.shape == (5, *getattr(model, "sample_shape", model.image_shape))
    assert images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, model.generate(5, seed=3))
    assert not np.array_equal(images, model.generate(5, seed=4))


def check_keras_round_trip(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    assert loaded.compiled and loaded.get_compile_config() == model.get_compile_config()
    np.testing.assert_array_equal(model.generate(4, seed=1), loaded.generate(4, seed=1))
    restored = type(model).from_config(model.get_config())
    assert restored.latent_dim == model.latent_dim
    assert restored.num_classes == model.num_classes
    return loaded
