"""DiffAugment / ADA (kgan.augment) and GAN.compile(augment=...)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
import kgan.distribute
from kgan import augment
from kgan.callbacks import BackupAndRestore
from gan_checks import assert_replicas_agree, on_one_and_two_replicas

POLICIES = ["color", "translation", "cutout", "color,translation,cutout", "ada"]


def _images(n=16, shape=(12, 12, 3), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype("float32")


def _params(n=16, seed=1):
    return augment.draw_params(n, seed=seed)


def _fit(model, tiny_images, steps=2, **kwargs):
    images, labels = tiny_images
    ds = kgan.data.from_numpy(images, labels if model.conditional else None, batch_size=16,
                              shuffle=False)
    return model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, **kwargs)


def _model(augment_policy=None, name="test_dcgan", **compile_kwargs):
    model = kgan.zoo.load(name, pretrained=False, compile=False)
    model.compile(augment=augment_policy, **compile_kwargs)
    return model


# ---------------------------------------------------------------------- the ops
@pytest.mark.parametrize("policy", POLICIES)
def test_ops_keep_shape_and_dtype_and_are_differentiable(policy):
    x = tf.constant(_images())
    params = _params()
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = augment.apply(x, policy, params, p=1.0 if policy == "ada" else None)
        loss = tf.reduce_sum(tf.square(y))
    grad = tape.gradient(loss, x).numpy()
    assert y.shape == x.shape and y.dtype == x.dtype
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0


def test_translation_and_cutout_change_images_and_stay_in_range():
    x = _images()
    for fn in (augment.translation, augment.cutout):
        u = np.linspace(0, 0.35, 16).astype("float32")  # translation: shifts -2 and -1
        y = keras.ops.convert_to_numpy(fn(x, u, u[::-1]))
        assert y.min() >= -1 and y.max() <= 1
        assert np.all(np.any(y != x, axis=(1, 2, 3))), fn.__name__  # every image changed
        # Pixels move (translation) or are zeroed (mid-grey), never invented.
        assert np.all(np.isin(y, np.append(x, 0)))
        if fn is augment.cutout:
            assert np.all(y[y != x] == 0)


def test_translation_shifts_by_whole_pixels_up_to_an_eighth():
    x = _images(2, (16, 16, 1))
    # u = 0 -> shift -2 (16 / 8); u -> 1 -> shift +2.
    y = keras.ops.convert_to_numpy(
        augment.translation(x, np.array([0.0, 0.9999], "float32"), np.array([0.5, 0.5])))
    np.testing.assert_array_equal(y[0, 2:], x[0, :-2])   # out[i] = x[i - 2]
    np.testing.assert_array_equal(y[0, :2], 0)
    np.testing.assert_array_equal(y[1, :-2], x[1, 2:])   # out[i] = x[i + 2]


def test_cutout_zeroes_half_size_square():
    x = np.ones((1, 16, 16, 3), "float32")
    y = keras.ops.convert_to_numpy(augment.cutout(x, np.array([0.5]), np.array([0.5])))
    assert (y[0, ..., 0] == 0).sum() == 8 * 8


def test_color_is_never_the_identity():
    x = _images()
    y = keras.ops.convert_to_numpy(augment.apply(x, "color", _params()))
    assert np.all(np.any(np.abs(y - x) > 1e-4, axis=(1, 2, 3)))
    u = np.full(16, 0.75, "float32")
    np.testing.assert_allclose(augment.brightness(x, u), x + 0.25, atol=1e-6)
    contrast = keras.ops.convert_to_numpy(augment.contrast(x, u))
    np.testing.assert_allclose(contrast.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), atol=1e-5)
    gray = _images(shape=(8, 8, 1))  # saturation acts across channels only
    np.testing.assert_allclose(augment.saturation(gray, u), gray, atol=1e-6)


def test_ada_gates_each_transform_with_probability_p():
    x = _images(64)
    params = _params(64)
    np.testing.assert_array_equal(augment.apply(x, "ada", params, p=0.0), x)
    np.testing.assert_allclose(augment.apply(x, "ada", params, p=1.0),
                               augment.apply(x, "color,translation,cutout", params), atol=1e-6)
    half = keras.ops.convert_to_numpy(augment.apply(x, "cutout", params, p=0.5))
    assert 10 < np.sum(np.any(half != x, axis=(1, 2, 3))) < 54


def test_ada_adjust_moves_p_toward_the_target():
    up = augment.ada_adjust(0.5, 0.9, batch_size=1000, target=0.6, kimg=10)   # overfitting
    down = augment.ada_adjust(0.5, 0.2, batch_size=1000, target=0.6, kimg=10)
    assert np.isclose(float(up), 0.6) and np.isclose(float(down), 0.4)
    assert float(augment.ada_adjust(0.0, -1.0, 64)) == 0.0
    assert float(augment.ada_adjust(1.0, 1.0, 64)) == 1.0


def test_parse_policy():
    assert augment.parse_policy(None) == (None, (), False)
    assert augment.parse_policy(" cutout, color") == ("cutout,color", ("cutout", "color"), False)
    assert augment.parse_policy(["translation"])[0] == "translation"
    assert augment.parse_policy("ada") == ("ada", augment.OPS, True)


# ---------------------------------------------------------------------- GAN.compile / fit
def test_augment_none_keeps_training_bit_identical(tiny_images):
    initial = kgan.zoo.create("test_dcgan").get_weights()
    results = []
    for kwargs in ({"augment": None}, {"augment": "ada", "ada_kimg": 1e12}):
        model = kgan.zoo.load("test_dcgan", pretrained=False, compile=False)
        model.set_weights(initial)
        model.compile(**kwargs)
        _fit(model, tiny_images)
        results.append(model.generator.get_weights() + model.discriminator.get_weights())
    # ADA with p stuck at 0 draws its augmentations but applies none: the latents and every
    # update stay exactly those of augment=None (the default). That augment=None matches
    # the code before augmentation existed was checked against it (test_dcgan,
    # test_wgan_gp, simultaneous test_cgan: bit-identical weights after 2 steps).
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("policy", POLICIES)
def test_fit_two_steps_with_each_policy(policy, tiny_images):
    model = _model(policy)
    history = _fit(model, tiny_images).history
    assert all(np.isfinite(v[-1]) for v in history.values())
    assert ("ada_p" in history) == (policy == "ada")
    assert model.get_compile_config()["augment"] == policy


@pytest.mark.parametrize("name,kwargs", [("test_cgan", {"update": "simultaneous"}),
                                         ("test_wgan_gp", {})])
def test_ada_with_conditional_simultaneous_and_gradient_penalty(name, kwargs, tiny_images):
    model = _model("ada", name, ada_kimg=1, **kwargs)   # p moves 16/1000 per D update
    history = _fit(model, tiny_images).history
    assert all(np.isfinite(v[-1]) for v in history.values())
    assert 0 <= history["ada_p"][-1] <= 1
    assert history["ada_p"][-1] == float(model.ada_p.numpy())


@pytest.mark.parametrize("kwargs,match", [
    ({"augment": "colour"}, "'colour'.*color, translation, cutout"),
    ({"augment": "color,ada"}, "'ada'"),
    ({"augment": "cutout,cutout"}, "repeats"),
    ({"augment": "ada", "ada_target": 0.0}, r"ada_target must be in \(0, 1\).*0\.0"),
    ({"augment": "ada", "ada_target": 1.5}, r"ada_target must be in \(0, 1\).*1\.5"),
    ({"augment": "ada", "ada_kimg": 0}, "ada_kimg"),
    ({"augment": "color", "ada_target": 0.5}, "augment='ada'"),
])
def test_bad_augment_arguments_raise_at_compile(kwargs, match):
    model = kgan.zoo.load("test_dcgan", pretrained=False, compile=False)
    with pytest.raises(ValueError, match=match):
        model.compile(**kwargs)


def test_augment_needs_images_and_the_base_training_step():
    with pytest.raises(ValueError, match="transforms images"):
        kgan.zoo.create("test_wavegan").compile(augment="color")
    with pytest.raises(ValueError, match="does not support"):
        kgan.zoo.create("test_pix2pix").compile(augment="color")


# ---------------------------------------------------------------------- p's state
def test_p_survives_save_weights_and_keras_round_trip(tmp_path):
    model = _model("ada", ada_target=0.7)
    model.ada_p.assign(0.37)
    model.save_weights(str(tmp_path / "m.weights.h5"))
    fresh = _model("ada")
    fresh.load_weights(str(tmp_path / "m.weights.h5"))
    assert np.isclose(float(fresh.ada_p.numpy()), 0.37)

    model.save(str(tmp_path / "m.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "m.keras"))
    assert (loaded.augment, loaded.ada_target) == ("ada", 0.7)
    assert np.isclose(float(loaded.ada_p.numpy()), 0.37)

    plain = _model()   # a model without p skips the file's; a file without p leaves p alone
    plain.load_weights(str(tmp_path / "m.weights.h5"))
    plain.save_weights(str(tmp_path / "plain.weights.h5"))
    fresh.load_weights(str(tmp_path / "plain.weights.h5"))
    assert np.isclose(float(fresh.ada_p.numpy()), 0.37)


def test_backup_and_restore_resumes_p(tmp_path, tiny_images):
    model = _model("ada", ada_kimg=1)
    model.ada_p.assign(0.5)
    _fit(model, tiny_images, callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)])
    p = float(model.ada_p.numpy())  # 0.5 moved by a few steps (up and down may cancel)
    assert 0.4 < p < 0.6

    resumed = _model("ada", ada_kimg=1)
    assert float(resumed.ada_p.numpy()) == 0.0  # a fresh model's p: the restore must set it
    backup = BackupAndRestore(tmp_path, delete_checkpoint=False)
    _fit(resumed, tiny_images, callbacks=[backup])   # epoch 1 is done: restores, trains nothing
    assert backup.restored is not None
    assert float(resumed.ada_p.numpy()) == p


def test_ada_gives_the_same_p_and_weights_on_one_and_two_replicas(tiny_images):
    def train(model):
        model.ada_p.assign(0.5)
        _fit(model, tiny_images, steps=3)
        return (float(model.ada_p.numpy()),
                model.generator.get_weights() + model.discriminator.get_weights())

    results = on_one_and_two_replicas("test_dcgan", train, augment="ada", ada_kimg=1)
    (p1, w1), (p2, w2) = results
    assert p1 == p2 != 0.5
    assert_replicas_agree(w1, w2)
