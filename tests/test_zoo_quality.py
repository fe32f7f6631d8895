"""The published zoo weights: they load, sample well, and match their cards.

Cheap versions of the cards' measurements (2,000 samples instead of 10,000), against the
bars of the zoo issue: generated class histogram close to uniform (KL < 0.05), conditional
label accuracy >= 95 % of what the project's classifier reaches on real test images, and a
classifier-feature FID within a stated factor of the real train-vs-test floor.
"""

import numpy as np
import pytest

import kgan
from kgan import metrics
from kgan.evaluation import classifiers
from kgan.evaluation.images import real_floor

PUBLISHED = ["vanilla_gan_mnist", "dcgan_mnist", "dcgan_fashion_mnist", "cgan_mnist",
             "cgan_fashion_mnist", "wgan_gp_fashion_mnist", "progan_fashion_mnist_32"]
N = 2000
#: FID (classifier features, n=2000) may be at most this many times the real floor.
FID_FACTOR = 40.0


@pytest.fixture(scope="module")
def floors():
    return {d: real_floor(d, n=N)["fid"]
            for d in ("mnist", "fashion_mnist", "fashion_mnist_32")}


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_entry_quality(name, floors):
    cfg = kgan.zoo.info(name)
    assert cfg.weights and cfg.sha256
    card = cfg.card
    assert card["sha256"] == cfg.sha256 and card["metrics"]["n"] == 10000
    model = kgan.zoo.load(name)
    scores = metrics.evaluate(model, cfg.dataset, n=N, kid_subsets=10)
    assert scores["class_kl"] < 0.05, scores
    assert scores["fid"] < FID_FACTOR * floors[cfg.dataset], (scores["fid"], floors)
    # The 2,000-sample figure agrees with the card's 10,000-sample one.
    assert scores["class_kl"] < card["metrics"]["class_kl"] + 0.02
    if model.num_classes:
        classifier_card = classifiers.classifier_cfg(cfg.dataset).card
        assert scores["label_accuracy"] >= 0.95 * classifier_card["test_accuracy"], scores


def test_published_cards_are_complete():
    for name in PUBLISHED:
        card = kgan.zoo.info(name).card
        for key in ("family", "dataset", "recipe", "training", "paper", "license", "sha256",
                    "metrics", "samples"):
            assert key in card, (name, key)
        assert card["training"]["hardware"] and card["training"]["wall_seconds"] > 0
        assert card["metrics"]["real_floor"]["fid"] > 0


def test_fine_tuning_continues_from_the_trained_weights():
    model = kgan.zoo.load("cgan_mnist")
    before = model.generate(8, seed=0)
    history = model.fit(kgan.data.load("mnist", batch_size=64, labels=True), epochs=1,
                        steps_per_epoch=3, verbose=0)
    assert np.isfinite(history.history["g_loss"][-1])
    after = model.generate(8, seed=0)
    # Three small steps move the samples a little, not back to noise.
    assert 0 < np.abs(after - before).mean() < 0.2
