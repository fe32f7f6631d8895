"""The standard checks every GAN family must pass (keras-hub's TestCase idea)."""

import numpy as np
import keras

import kgan
from kgan.translation import TranslationGAN


def is_translator(name):
    """Whether zoo entry ``name`` is an image-to-image model (a TranslationGAN)."""
    return isinstance(kgan.zoo.create(name), TranslationGAN)


def tiny_pairs(model, batch_size=8, n=32, seed=0):
    """Random (source, target) float pairs in [-1, 1] for image-to-image models."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    source = rng.uniform(-1, 1, (n, *model.source_shape())).astype("float32")
    target = rng.uniform(-1, 1, (n, *model.image_shape)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((source, target)).batch(batch_size)


def tiny_captioned(model, batch_size=8, n=32, seed=0):
    """Random images in [-1, 1] with the model's default captions, for text models."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (n, *model.image_shape)).astype("float32")
    captions = [model.default_captions[i % len(model.default_captions)] for i in range(n)]
    return tf.data.Dataset.from_tensor_slices((images, captions)).batch(
        batch_size, drop_remainder=True)


def tiny_dataset(model, batch_size=8, n=32, seed=0):
    if isinstance(model, TranslationGAN):
        return tiny_pairs(model, batch_size, n, seed)
    if getattr(model, "default_captions", ()):
        return tiny_captioned(model, batch_size, n, seed)
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % model.num_classes if model.num_classes else None
    if len(model.image_shape) != 3:  # audio: waveforms in [-1, 1]; voxels: occupancy [0, 1]
        import tensorflow as tf

        low, _ = sample_range(model)
        data = rng.uniform(low, 1, size=(n, *model.image_shape)).astype("float32")
        ds = tf.data.Dataset.from_tensor_slices(data if labels is None else (data, labels))
        return ds.batch(batch_size, drop_remainder=True)
    images = rng.integers(0, 256, size=(n, *model.image_shape), dtype="uint8")
    return kgan.data.from_numpy(images, labels, batch_size=batch_size, shuffle=False)


def sample_range(model):
    """The value range of a model's samples: occupancy [0, 1] for voxels, else [-1, 1]."""
    return (0.0, 1.0) if getattr(model, "modality", "image") == "voxels" else (-1.0, 1.0)


def expected_metric_names(model):
    if isinstance(model, TranslationGAN):  # each family reports its own loss terms
        return {"d_loss", "g_loss", "d_real_acc", "d_fake_acc"} | {
            m.name for m in model.metrics}
    names = {"d_loss", "g_loss", "d_real_acc", "d_fake_acc",
             *getattr(model, "extra_metric_names", ())}
    if model.gp_weight:
        names.add("gp")
    if model.r1_weight:
        names.add("r1")
    if getattr(model, "mode_seeking_weight", 0):
        names.add("diversity")
    return names


def check_fit(model, steps=2):
    history = model.fit(tiny_dataset(model), epochs=1, steps_per_epoch=steps, verbose=0)
    assert set(history.history) == expected_metric_names(model)
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{name} is not finite: {values}"
    return history


def check_generate(model):
    if isinstance(model, TranslationGAN):
        return check_translate(model)
    images = model.generate(5, seed=3)
    # Audio families generate waveforms, whatever representation they train on.
    assert images.shape == (5, *getattr(model, "sample_shape", model.image_shape))
    assert images.dtype == np.float32
    low, high = sample_range(model)
    assert images.min() >= low and images.max() <= high
    np.testing.assert_array_equal(images, model.generate(5, seed=3))
    assert not np.array_equal(images, model.generate(5, seed=4))


def check_translate(model):
    """translate(): shape, dtype, range, determinism, a single image as a batch of one."""
    rng = np.random.default_rng(3)
    sources = rng.uniform(-1, 1, (5, *model.source_shape())).astype("float32")
    images = model.translate(sources)
    assert images.shape == (5, *model.image_shape) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, model.translate(sources))
    assert not np.array_equal(images[0], images[1])
    # One image is a batch of one (batch size may change the kernels' rounding only).
    np.testing.assert_allclose(model.translate(sources[0]), images[:1], atol=1e-5)


def sample_outputs(model, seed=1):
    """What a model makes from fixed inputs: samples, or translations of fixed sources."""
    if isinstance(model, TranslationGAN):
        rng = np.random.default_rng(seed)
        return model.translate(rng.uniform(-1, 1, (4, *model.source_shape())).astype("float32"))
    return model.generate(4, seed=seed)


def check_keras_round_trip(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    assert loaded.compiled and loaded.get_compile_config() == model.get_compile_config()
    np.testing.assert_array_equal(sample_outputs(model), sample_outputs(loaded))
    restored = type(model).from_config(model.get_config())
    assert restored.latent_dim == model.latent_dim
    assert restored.num_classes == model.num_classes
    return loaded


def on_one_and_two_replicas(name, train, **compile_kwargs):
    """``train(model)``'s results for a ``name`` model compiled with ``compile_kwargs`` from
    the same initial weights, on one CPU device, then under ``MirroredStrategy`` over two
    logical CPUs (the conftest splits the CPU)."""
    import tensorflow as tf

    initial = kgan.zoo.create(name).get_weights()
    results = []
    for strategy in (tf.distribute.OneDeviceStrategy("/cpu:0"),
                     kgan.distribute.get_strategy("mirrored")):
        with strategy.scope():
            model = kgan.zoo.create(name)
            model.set_weights(initial)
            model.compile(**compile_kwargs)
        results.append(train(model))
    return results


def assert_replicas_agree(one, two, most_within=1e-5, all_within=1e-3, outliers=0.01):
    """Assert that weight lists ``one`` and ``two`` (1 and 2 replicas) trained alike.

    Two replicas add the gradients in another order, and Adam scales every parameter's
    step to about the learning rate whatever the gradient's size: a gradient within
    round-off of zero can change sign and move its weight by up to two learning rates.
    So nearly all weights must agree to ``most_within`` (relative 1e-4), at most an
    ``outliers`` share may differ, and none by more than ``all_within`` (a few Adam steps).
    A real divergence (replicas with other augmentations, batches or statistics) moves
    most weights, which this still catches."""
    total = differing = 0
    for i, (a, b) in enumerate(zip(one, two, strict=True)):
        gap = np.abs(np.asarray(a, "float64") - np.asarray(b, "float64"))
        assert gap.max(initial=0.0) <= all_within, (
            f"weight {i} {np.shape(a)} differs by {gap.max():.2e} > {all_within}")
        differing += int(np.sum(gap > most_within + 1e-4 * np.abs(b)))
        total += gap.size
    assert differing <= outliers * total, (
        f"{differing} of {total} weights differ by more than round-off")
