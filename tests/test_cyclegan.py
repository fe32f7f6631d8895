"""CycleGAN and its data set sneaker2boot: training, pools, schedule, translation, zoo."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from gan_checks import assert_replicas_agree
from kgan.data.sets import sneaker2boot
from kgan.evaluation.classifiers import to_signed_unit
from kgan.evaluation.translation import domain_transfer_scores
from kgan.layers import ImagePool
from kgan.models.cyclegan import METRIC_NAMES, CycleGAN
from kgan.schedules import LinearDecay


def pairs(n=16, batch_size=8, seed=0):
    """Unpaired (a, b) batches of random pixels for the tiny model."""
    rng = np.random.default_rng(seed)
    a, b = (rng.uniform(-1, 1, (n, 28, 28, 1)).astype("float32") for _ in range(2))
    return tf.data.Dataset.from_tensor_slices((a, b)).batch(batch_size, drop_remainder=True)


@pytest.fixture
def tiny():
    return kgan.zoo.load("test_cyclegan", pretrained=False)


# ---------------------------------------------------------------------------- data
def test_sneaker2boot_domains_and_splits():
    a, b = sneaker2boot.domains("train")
    ta, tb = sneaker2boot.domains("test")
    assert (a.shape, b.shape, ta.shape, tb.shape) == (
        (6000, 28, 28, 1), (6000, 28, 28, 1), (1000, 28, 28, 1), (1000, 28, 28, 1))
    (a_test, b_test), labels = kgan.data.load_arrays("sneaker2boot", "test")
    np.testing.assert_array_equal(a_test, ta)
    np.testing.assert_array_equal(b_test, tb)
    assert a_test.dtype == np.uint8 and set(labels.tolist()) == {9} and len(labels) == 1000
    # Train and test hold different images.
    train_keys = {x.tobytes() for x in a[:2000]}
    assert not any(x.tobytes() in train_keys for x in ta)


def test_sneaker2boot_batches_are_unpaired_and_seeded():
    def first(seed):
        a, b = next(iter(kgan.data.load("sneaker2boot", "test", batch_size=8, seed=seed)))
        return a.numpy(), b.numpy()

    a, b = first(0)
    assert a.shape == b.shape == (8, 28, 28, 1) and a.dtype == np.float32
    assert -1 <= a.min() and a.max() <= 1
    np.testing.assert_array_equal(a, first(0)[0])
    assert not np.array_equal(a, first(1)[0])
    # The two domains are shuffled with different seeds: B's order is not A's.
    ta, tb = (to_signed_unit(x) for x in sneaker2boot.domains("test"))
    def index(x, pool):
        return [int(np.argmin(np.abs(pool - y).sum((1, 2, 3)))) for y in x]

    assert index(a, ta) != index(b, tb)
    with pytest.raises(ValueError, match="labels=False"):
        kgan.data.load("sneaker2boot", labels=True)
    with pytest.raises(ValueError, match="split 'val'"):
        sneaker2boot.domains("val")


# ---------------------------------------------------------------------------- training
def test_fit_two_steps(tiny):
    assert tiny.compiled and tiny.loss_name == "least_squares"
    assert (tiny.cycle_weight, tiny.identity_weight) == (10.0, 0.5)
    history = tiny.fit(kgan.data.load("sneaker2boot", batch_size=8, seed=0),
                       steps_per_epoch=2, verbose=0)
    assert set(history.history) == set(METRIC_NAMES)
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), name
    assert int(tiny.g_optimizer.iterations.numpy()) == 2
    assert int(tiny.d_optimizer.iterations.numpy()) == 2


def test_bad_training_data(tiny):
    a = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    with pytest.raises(ValueError, match=r"unpaired batches \(a_batch, b_batch\)"):
        tiny.fit(kgan.data.load("fashion_mnist", batch_size=8), steps_per_epoch=1, verbose=0)
    with pytest.raises(ValueError, match=r"expected \(batch, 28, 28, 1\)"):
        tiny.fit(a, np.zeros((8, 32, 32, 1), "float32"), verbose=0)


@pytest.mark.slow
def test_one_and_two_replicas_train_alike():
    """The pool sees the global batch with the same randomness on every replica, and
    instance norm has no batch statistics, so 2 replicas train like one device."""
    initial = kgan.zoo.create("test_cyclegan").get_weights()

    def train(strategy):
        with strategy.scope():
            model = kgan.zoo.create("test_cyclegan")
            model.set_weights(initial)
            model.compile()
        model.fit(pairs(n=24), epochs=1, verbose=0)  # 3 steps of 8
        return model

    one = train(tf.distribute.OneDeviceStrategy("/cpu:0"))
    two = train(kgan.distribute.get_strategy("mirrored"))
    assert two.distribute_strategy.num_replicas_in_sync == 2
    assert int(one.pool_a.count.numpy()) == int(two.pool_a.count.numpy()) == 24
    assert_replicas_agree(one.get_weights(), two.get_weights())


# ---------------------------------------------------------------------------- pool
def test_image_pool_fills_then_swaps_half():
    pool = ImagePool(4)
    pool.build((None, 1, 1, 1))
    seed = tf.constant([0, 0])

    def batch(*values):
        return tf.constant(np.array(values, "float32").reshape(-1, 1, 1, 1))

    def flat(x):
        return sorted(np.asarray(x).ravel().tolist())

    # Filling: images are stored and returned as they are; those that do not fit are
    # returned unstored.
    np.testing.assert_array_equal(pool(batch(1, 2, 3), seed), batch(1, 2, 3))
    np.testing.assert_array_equal(pool(batch(4, 5), seed), batch(4, 5))
    assert flat(pool.images) == [1, 2, 3, 4] and int(pool.count.numpy()) == 4
    # Full: each image is swapped with a stored one with probability 1/2, which conserves
    # the images; swapped ones take distinct slots, even when the batch exceeds the pool.
    swaps = []
    for step in range(20):
        before = flat(pool.images)
        new = np.arange(6) + 10.0 * (step + 1)
        out = pool(batch(*new), tf.constant([0, step + 1]))
        assert sorted(flat(out) + flat(pool.images)) == sorted(before + new.tolist())
        swaps.append(int(np.sum(np.asarray(out).ravel() != new)))
    assert max(swaps) <= 4 and 1.5 < np.mean(swaps) < 3.5
    # Same seed, same state: same answer.
    again = ImagePool(4)
    again.build((None, 1, 1, 1))
    again.set_weights(pool.get_weights())
    state = pool.get_weights()
    first = np.asarray(pool(batch(7, 8), seed))
    np.testing.assert_array_equal(first, again(batch(7, 8), seed))
    np.testing.assert_array_equal(pool.images.numpy(), again.images.numpy())
    assert not np.array_equal(state[0], pool.images.numpy())


def test_image_pool_of_size_zero_passes_images_through():
    pool = ImagePool(0)
    pool.build((None, 2, 2, 1))
    x = tf.ones((3, 2, 2, 1))
    assert pool(x, tf.constant([0, 0])) is x and not pool.weights
    with pytest.raises(ValueError, match="integer >= 0"):
        ImagePool(-1)


# ---------------------------------------------------------------------------- schedule
def test_linear_decay_schedule():
    schedule = LinearDecay(2e-4, hold_steps=10, decay_steps=20)
    rates = [float(schedule(s)) for s in (0, 10, 20, 30, 40)]
    np.testing.assert_allclose(rates, [2e-4, 2e-4, 1e-4, 0.0, 0.0], atol=1e-12)
    assert LinearDecay.from_config(schedule.get_config()).get_config() == schedule.get_config()
    with pytest.raises(ValueError, match="decay_steps >= 1"):
        LinearDecay(1e-3, 0, 0)


def test_compile_with_decay_trains_and_round_trips(tiny, tmp_path):
    tiny.compile(hold_steps=1, decay_steps=2, identity_weight=0.0)
    history = tiny.fit(pairs(n=24), verbose=0)  # 3 steps: the rate reaches 0
    assert history.history["identity_loss"] == [0.0]  # the identity term is off
    for optimizer in (tiny.g_optimizer, tiny.d_optimizer):
        assert float(optimizer.learning_rate) == 0.0
    tiny.save(tmp_path / "decay.keras")
    loaded = keras.saving.load_model(tmp_path / "decay.keras")
    assert isinstance(loaded.g_optimizer._learning_rate, LinearDecay)
    assert float(loaded.g_optimizer.learning_rate) == 0.0  # the schedule at step 3
    assert loaded.get_compile_config() == tiny.get_compile_config()
    with pytest.raises(ValueError, match="LinearDecay"):
        tiny.compile(g_optimizer="adam", decay_steps=5)
    with pytest.raises(ValueError, match="cycle_weight must be >= 0"):
        tiny.compile(cycle_weight=-1)
    with pytest.raises(ValueError, match="EMA"):
        tiny.compile(g_optimizer=keras.optimizers.Adam(use_ema=True))


# ---------------------------------------------------------------------------- inference
def test_translate_both_directions_and_bad_input(tiny):
    images = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype("float32")
    a2b = tiny.translate(images)
    np.testing.assert_array_equal(a2b, tiny.translate(images, direction="a2b"))
    b2a = tiny.translate(images, direction="b2a")
    assert a2b.shape == b2a.shape == (3, 28, 28, 1) and a2b.dtype == np.float32
    assert not np.allclose(a2b, b2a)
    assert tiny.filter_model("b2a") is tiny.generator_ba
    assert tiny.filter_model("a2b") is tiny.generator_ab is tiny.generator
    assert tiny.discriminator is tiny.discriminator_b
    assert tiny.source_shape("b2a") == (28, 28, 1)
    with pytest.raises(ValueError, match="Unknown direction 'x2y'.*'a2b', 'b2a'"):
        tiny.translate(images, direction="x2y")
    with pytest.raises(ValueError, match=r"expected \(batch, 28, 28, 1\)"):
        tiny.translate(np.zeros((2, 32, 32, 1), "float32"))
    with pytest.raises(ValueError, match="wants 1 channel"):
        tiny.translate(np.zeros((2, 28, 28, 3), "float32"))
    assert not hasattr(tiny, "generate")  # a TranslationGAN: translate() instead


def test_bad_construction():
    with pytest.raises(ValueError, match="divisible by 4"):
        CycleGAN.build((30, 30, 1))
    tiny = CycleGAN.build((28, 28, 1), width=2, n_blocks=1, d_width=2)
    other = CycleGAN.build((32, 32, 1), width=2, n_blocks=1, d_width=2)
    networks = {name: getattr(tiny, name) for name in CycleGAN.networks}
    with pytest.raises(ValueError, match="discriminator_a takes images of shape"):
        CycleGAN(**{**networks, "discriminator_a": other.discriminator_a})
    with pytest.raises(TypeError, match="positional"):  # four same-shaped networks: by name
        CycleGAN(*networks.values())
    with pytest.raises(ValueError, match="Unrecognized keyword arguments.*latent_dim"):
        CycleGAN(**networks, latent_dim=8)


def test_weight_files_keep_their_layout(tiny, tmp_path):
    """Keras keys weights by attribute path: the renamed networks keep the names files have
    always used (generator, discriminator, generator_ba, discriminator_a), so the published
    weights and earlier .keras files load."""
    import h5py

    path = tmp_path / "tiny.weights.h5"
    tiny.save_weights(str(path))
    with h5py.File(path) as f:
        assert {"generator", "discriminator", "generator_ba", "discriminator_a"} <= set(f)
        assert not {"generator_ab", "discriminator_b"} & set(f)


def test_keras_round_trip_keeps_all_four_networks_and_pools(tiny, tmp_path):
    tiny.fit(pairs(), verbose=0)
    path = tmp_path / "cyclegan.keras"
    tiny.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is CycleGAN and loaded.compiled
    assert loaded.get_compile_config() == tiny.get_compile_config()
    images = np.random.default_rng(1).uniform(-1, 1, (2, 28, 28, 1)).astype("float32")
    for direction in ("a2b", "b2a"):
        np.testing.assert_array_equal(tiny.translate(images, direction),
                                      loaded.translate(images, direction))
    for x, y in zip(tiny.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(x, y)
    assert int(loaded.pool_b.count.numpy()) == 16
    # The optimizer state comes back too (training resumes from step 2).
    assert int(loaded.g_optimizer.iterations.numpy()) == 2
    for x, y in zip(tiny.g_optimizer.variables, loaded.g_optimizer.variables):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    # Weights files hold the four networks and the pools too.
    tiny.save_weights(tmp_path / "w.weights.h5")
    fresh = kgan.zoo.load("test_cyclegan", pretrained=False)
    fresh.load_weights(tmp_path / "w.weights.h5")
    for x, y in zip(tiny.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------------------- zoo
def test_published_entry_loads_and_translates():
    cfg = kgan.zoo.info("cyclegan_sneaker2boot")
    assert cfg.weights and cfg.sha256 and cfg.card["sha256"] == cfg.sha256
    model = kgan.zoo.load("cyclegan_sneaker2boot")
    a, b = (to_signed_unit(x[:64]) for x in sneaker2boot.domains("test"))
    scores = domain_transfer_scores(model, a, b)
    card = cfg.card["metrics"]
    # 64 test images per domain against the card's 1,000: loose agreement.
    for key in ("a2b_target_share", "b2a_target_share"):
        assert scores[key] > card[key] - 0.15, (key, scores, card)
        assert scores[key] > card[key.replace("a2b_target_share", "a_called_b_untranslated")
                                  .replace("b2a_target_share", "b_called_a_untranslated")] + 0.3
    for key in ("cycle_l1_a", "cycle_l1_b"):
        assert scores[key] < card[key] + 0.05, (key, scores, card)
