"""kgan.evaluation.progress.QualityTracker: scores after every epoch, logs them, stops at a
target FID, scores a mixed-precision model through its float32 copy."""

import keras
import numpy as np
import pytest

import kgan
from kgan import precision
from kgan.evaluation.progress import QualityTracker


def digits(n=64):
    images, _ = kgan.data.load_arrays("mnist", "train")
    return images[:n].astype("float32") / 127.5 - 1.0


def test_scores_every_epoch_into_the_logs():
    model = kgan.zoo.load("test_dcgan", pretrained=False)
    tracker = QualityTracker("mnist", n=40)
    csv = []
    logger = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: csv.append(dict(logs)))
    model.fit(digits(), batch_size=32, epochs=2, callbacks=[tracker, logger], verbose=0)
    assert [row["epoch"] for row in tracker.history] == [1, 2] and tracker.reached is None
    first, second = tracker.history
    assert second["train_seconds"] > first["train_seconds"] > 0 and first["eval_seconds"] > 0
    assert np.isfinite(first["fid"]) and first["fid"] > 0 and "kid" in first
    assert csv[0]["fid"] == first["fid"]  # later callbacks see the scores


def test_stops_at_the_target_and_scores_a_bfloat16_model_in_float32(monkeypatch):
    scored = []
    real_evaluate = kgan.evaluation.evaluate

    def spy(model, dataset, n=None, **options):
        scored.append(precision.is_float32(model))
        return real_evaluate(model, dataset, n=n, **options)

    monkeypatch.setattr(kgan.evaluation, "evaluate", spy)
    with precision.scope("bfloat16"):
        model = kgan.zoo.load("test_dcgan", pretrained=False)
    tracker = QualityTracker("mnist", n=40, target_fid=1e9, name="test_dcgan")
    model.fit(digits(), batch_size=32, epochs=3, callbacks=[tracker], verbose=0)
    assert tracker.reached == tracker.history[0] and len(tracker.history) == 1
    assert scored == [True]


def test_bad_target():
    with pytest.raises(ValueError, match="target_fid must be a positive FID; received -1"):
        QualityTracker("mnist", target_fid=-1)
