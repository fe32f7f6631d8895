"""Audio measures (kgan.evaluation.audio) and the spoken-digit classifier they use."""

import numpy as np
import pytest

from kgan.evaluation import audio as audio_measures
from kgan.evaluation import classifiers


def test_nearest_neighbour_distance_hand_computed():
    support = np.array([[0.0, 0.0], [10.0, 0.0]])
    queries = np.array([[3.0, 4.0], [10.0, 1.0]])
    # Nearest: (0, 0) at 5, (10, 0) at 1; batch size does not matter.
    assert audio_measures.nearest_neighbour_distance(queries, support) == pytest.approx(3.0)
    assert audio_measures.nearest_neighbour_distance(queries, support, batch_size=1) == \
        pytest.approx(3.0)
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        audio_measures.nearest_neighbour_distance(queries, support[:, :1])


def test_clip_features_with_a_small_untrained_classifier():
    cfg = classifiers.classifier_cfg("spoken_digits")
    model = classifiers.build_classifier(cfg.image_shape, cfg.num_classes,
                                         blocks=((4,), (4,), (4,), (4,)), feature_dim=8)
    clips = np.random.default_rng(0).uniform(-0.5, 0.5, (3, 16384)).astype("float32")
    features, probs = audio_measures.clip_features(clips, model)
    assert features.shape == (3, 8) and probs.shape == (3, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError):
        audio_measures.clip_features(np.zeros((3, 100), "float32"), model)


@pytest.mark.slow
def test_published_classifier_scores_real_and_degenerate_clips():
    from kgan.data.sets import spoken_digits

    cfg = classifiers.classifier_cfg("spoken_digits")
    model = classifiers.load_classifier("spoken_digits")     # sha256-verified
    real = audio_measures.real_reference(model)
    card_accuracy = cfg.card["test_accuracy"]
    assert real["label_accuracy"] == pytest.approx(card_accuracy, abs=1e-5)
    assert real["label_accuracy"] >= cfg.target_accuracy
    assert real["inception_score"] > 8.0 and real["class_kl"] < 0.05

    test, labels = spoken_digits.load_arrays("test")
    same = audio_measures.score_clips(test, labels=labels, model=model)
    assert same["frechet_distance"] == pytest.approx(0.0, abs=1e-3)
    assert same["label_accuracy"] == pytest.approx(card_accuracy, abs=1e-5)
    assert same["nn_distance_to_train"] == pytest.approx(real["nn_distance_to_train"])

    # Copies of training clips sit at distance 0 from the train set; noise scores badly.
    train, _ = spoken_digits.load_arrays("train")
    copies = audio_measures.score_clips(train[:100], model=model)
    assert copies["nn_distance_to_train"] == pytest.approx(0.0, abs=1e-3)
    noise = np.random.default_rng(0).normal(0, 0.1, (100, 16384)).astype("float32").clip(-1, 1)
    bad = audio_measures.score_clips(noise, labels=np.arange(100) % 10, model=model)
    assert bad["frechet_distance"] > 10 * max(real["frechet_distance_train_vs_test"], 1.0)
    assert bad["label_accuracy"] < 0.3
