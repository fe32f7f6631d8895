"""Sample-quality metrics for audio generators (WaveGAN, SpecGAN) on spoken digits.

The image measures (:mod:`kgan.evaluation.measures`) carried over to clips, in the feature
space of the spoken-digit classifier (:mod:`kgan.evaluation.classifiers`,
``classifier_spoken_digits``), which reads the normalised log-magnitude spectrogram of each
clip (:mod:`kgan.modalities.audio`, train-split statistics). Donahue et al. (2019,
"Adversarial Audio Synthesis", arXiv:1802.04208) scored WaveGAN/SpecGAN the same way with an
SC09 classifier:

* **Inception Score** analogue: ``exp(E KL(p(y|x) || p(y)))``, at most 10.
* **Fréchet distance** between Gaussians fitted to the classifier's 128-d features of the
  generated clips and of the test clips (their FID analogue).
* **Label accuracy** of conditional generators: the classifier's accuracy on clips generated
  for requested digits.
* **Nearest-neighbour distance** in feature space from each generated clip to the training
  clips, next to the same figure for the held-out test clips: a generator whose clips sit
  much closer to training clips than real unseen clips do is copying them.
* **RMS** loudness, to catch near-silent output that the classifier alone may not flag.

:func:`score_clips` scores any clips; :func:`real_reference` gives the test clips' own
scores (the ceiling a generator can be compared with); :func:`evaluate` samples a model.
"""

import numpy as np

from kgan.evaluation import classifiers, measures
from kgan.modalities import audio

DATASET = "spoken_digits"


def _check_clips(clips, what):
    clips = np.asarray(clips, dtype="float32")
    if clips.ndim == 2:
        clips = clips[..., None]
    return audio.check_waveforms(clips, what)


def clip_features(clips, model=None, batch_size=250):
    """``(features (n, 128), probabilities (n, 10))`` of ``(n, 16384[, 1])`` clips.

    Args:
        clips: waveforms in [-1, 1].
        model: a spoken-digit classifier; defaults to the published, sha256-verified one.
    """
    from kgan.data.sets import spoken_digits_spectrogram

    clips = _check_clips(clips, "clips")
    model = model or classifiers.load_classifier(DATASET)
    mean, std = spoken_digits_spectrogram.statistics()
    spectrograms = audio.normalize(audio.log_magnitude(clips), mean, std)[..., None]
    return classifiers.predict(classifiers.feature_model(model), spectrograms, batch_size)


def nearest_neighbour_distance(queries, support, batch_size=500):
    """Mean Euclidean distance from each row of ``queries`` to its nearest row of ``support``."""
    queries = np.asarray(queries, "float64")
    support = np.asarray(support, "float64")
    if queries.ndim != 2 or support.ndim != 2 or queries.shape[1] != support.shape[1]:
        raise ValueError(f"Need (n, d) and (m, d) features; got {queries.shape} and "
                         f"{support.shape}.")
    nearest = [np.sqrt(measures.sq_distances(queries[i:i + batch_size], support).min(axis=1))
               for i in range(0, len(queries), batch_size)]
    return float(np.concatenate(nearest).mean())


def _inception_score(probs, splits):
    # Splits of a class-sorted set (the test split is) would each hold one class: shuffle.
    order = np.random.default_rng(0).permutation(len(probs))
    return measures.inception_score(probs[order], splits=splits)


def _rms(clips):
    return float(np.sqrt(np.mean(np.square(clips[..., 0]), axis=1)).mean())


_REFERENCE = {}


def _reference(model):
    """Train and test features of the real clips, computed once per classifier."""
    from kgan.data.sets import spoken_digits

    if id(model) not in _REFERENCE:
        train, _ = spoken_digits.load_arrays("train")
        test, test_labels = spoken_digits.load_arrays("test")
        _REFERENCE[id(model)] = dict(train=clip_features(train, model)[0],
                                     test=clip_features(test, model),
                                     test_labels=test_labels, test_rms=_rms(test))
    return _REFERENCE[id(model)]


def score_clips(clips, labels=None, model=None, splits=10):
    """Scores generated clips against the spoken-digit test and train splits.

    Args:
        clips: ``(n, 16384[, 1])`` waveforms in [-1, 1] (n >= 2).
        labels: the digits the clips were generated for (conditional models), or None.
        model: classifier (default: the published one).
        splits: Inception Score splits.

    Returns:
        dict with ``inception_score``/``inception_score_std``, ``frechet_distance`` (to the
        test clips), ``class_kl``, ``nn_distance_to_train``, ``rms`` and, with ``labels``,
        ``label_accuracy``.
    """
    clips = _check_clips(clips, "clips")
    model = model or classifiers.load_classifier(DATASET)
    ref = _reference(model)
    features, probs = clip_features(clips, model)
    is_mean, is_std = _inception_score(probs, splits)
    scores = dict(
        n=len(clips),
        inception_score=is_mean,
        inception_score_std=is_std,
        frechet_distance=measures.fid_from_features(ref["test"][0], features),
        class_kl=measures.class_kl(probs.argmax(axis=1), probs.shape[1]),
        nn_distance_to_train=nearest_neighbour_distance(features, ref["train"]),
        rms=_rms(clips),
        extractor=model.name,
    )
    if labels is not None:
        scores["label_accuracy"] = measures.label_accuracy(probs, labels)
    return scores


def real_reference(model=None, splits=10):
    """The test clips' own scores: IS, label accuracy, nearest-neighbour distance to the
    train clips and RMS, plus the train-vs-test Fréchet distance (train features, a
    sample-size-matched real floor for :func:`score_clips`' figure)."""
    model = model or classifiers.load_classifier(DATASET)
    ref = _reference(model)
    features, probs = ref["test"]
    is_mean, is_std = _inception_score(probs, splits)
    rng = np.random.default_rng(0)
    train_subset = ref["train"][rng.choice(len(ref["train"]), len(features), replace=False)]
    return dict(
        n=len(features),
        inception_score=is_mean,
        inception_score_std=is_std,
        frechet_distance_train_vs_test=measures.fid_from_features(features, train_subset),
        class_kl=measures.class_kl(probs.argmax(axis=1), probs.shape[1]),
        label_accuracy=measures.label_accuracy(probs, ref["test_labels"]),
        nn_distance_to_train=nearest_neighbour_distance(features, ref["train"]),
        rms=ref["test_rms"],
        extractor=model.name,
    )


def evaluate(gan, n=300, seed=0, model=None):
    """Generates ``n`` clips with ``gan`` (WaveGAN or SpecGAN; labels cycle through the
    digits for conditional ones) and returns :func:`score_clips` of them."""
    labels = np.arange(n) % gan.num_classes if getattr(gan, "num_classes", 0) else None
    clips = gan.generate(n, labels=labels, seed=seed)
    return score_clips(clips, labels=labels, model=model)
