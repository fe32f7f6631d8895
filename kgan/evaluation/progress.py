"""Quality during training: a callback that scores the generator after every epoch.

:class:`QualityTracker` runs :func:`kgan.evaluation.evaluate` (FID and friends on the
project's classifier features) at each epoch end, adds the scores to the epoch's logs (so
``CSVLogger``, TensorBoard and the progress bar show them), and keeps the training wall
time with the evaluations left out. With a ``target_fid`` it records the first epoch whose
FID reaches it, and stops training there: ``tools/bench.py --time_to_quality`` measures
how long a recipe takes to reach a quality on this machine.

Example:
    >>> tracker = QualityTracker("mnist", n=2000, target_fid=10.0, name="dcgan_mnist")
    >>> model.fit(kgan.data.load("mnist"), epochs=20, callbacks=[tracker])
    >>> tracker.reached       # {"epoch": 4, "train_seconds": 812.3, "fid": 9.7, ...} or None
"""

import time

import keras

#: Scores added to the epoch logs (as ``fid``, ``kid``, ``precision``, ``recall``).
LOGGED = {"fid": "fid", "kid_mean": "kid", "precision": "precision", "recall": "recall"}


class QualityTracker(keras.callbacks.Callback):
    """Scores the model on ``n`` samples after every epoch.

    Args:
        dataset: the registered data set the model trains on (its test split is the
            reference, as on the zoo's cards).
        n: samples per evaluation (>= 2; 2,000 keeps it to seconds for 28x28 images).
        target_fid: stop training after the first epoch whose FID is at most this
            (None: score every epoch, never stop).
        name: the model's zoo entry; a model built under a mixed precision policy is then
            scored through a float32 copy (:func:`kgan.precision.float32_copy`), the model
            users load. Without it the model is scored as it computes.

    Attributes:
        history: one dict per epoch: ``epoch`` (1-based), ``train_seconds`` (cumulative,
            evaluations excluded), ``eval_seconds`` and the scores.
        reached: the ``history`` row of the first epoch at or under ``target_fid``, or None.
    """

    def __init__(self, dataset, n=2000, target_fid=None, name=None):
        super().__init__()
        if target_fid is not None and not target_fid > 0:
            raise ValueError(f"target_fid must be a positive FID; received {target_fid!r}.")
        self.dataset, self.n, self.target_fid, self.entry = dataset, n, target_fid, name
        self.history, self.reached = [], None
        self._train_seconds, self._epoch_start = 0.0, None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        from kgan import precision
        from kgan.evaluation import evaluate

        self._train_seconds += time.perf_counter() - self._epoch_start
        start = time.perf_counter()
        scored = self.model
        if self.entry and not precision.is_float32(scored):
            scored = precision.float32_copy(scored, self.entry)
        scores = evaluate(scored, self.dataset, n=self.n)
        row = {"epoch": epoch + 1, "train_seconds": round(self._train_seconds, 3),
               "eval_seconds": round(time.perf_counter() - start, 3),
               **{LOGGED[k]: float(scores[k]) for k in LOGGED if k in scores}}
        self.history.append(row)
        if logs is not None:
            logs.update({k: v for k, v in row.items() if k in LOGGED.values()})
        if (self.target_fid is not None and self.reached is None
                and row["fid"] <= self.target_fid):
            self.reached = row
            self.model.stop_training = True
