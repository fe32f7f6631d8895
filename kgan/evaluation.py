"""One entry point for scoring any zoo model with the measure that fits its kind.

``kgan eval NAME`` and the cards written by ``tools/train_zoo.py`` both call
:func:`evaluate_model`, so a card's figures are exactly what a user re-measures:

* image-to-image models: L1, SSIM and classifier accuracy against the test targets
  (:func:`kgan.metrics.evaluate_translation`);
* text-to-image models: class and attribute agreement on held-out captions, FID and friends
  (:func:`kgan.metrics.evaluate_text_to_image`);
* audio models: Inception Score, Fréchet distance, label accuracy, nearest-neighbour distance
  and loudness on 300 clips, as many as test clips (:mod:`kgan.audio_metrics`);
* voxel models: class histogram, Fréchet distance and nearest-neighbour IoU on 1,200 shapes,
  as many as test shapes (:mod:`kgan.voxel_metrics`);
* other image generators: FID, KID, IS, precision/recall, class KL
  (:func:`kgan.metrics.evaluate`).

With ``reference=True`` the result also holds what real data scores on the same measures
(``real_floor`` for images, ``real_reference`` for audio), the yardstick a card shows.
"""

from kgan import metrics

_IMAGE_FLOOR_KEYS = ("fid", "kid_mean", "inception_score", "precision", "recall", "class_kl")


def evaluate_model(model, dataset, n=None, reference=False):
    """Scores ``model`` (trained on registered data set ``dataset``) by its kind.

    Args:
        model: a kgan GAN or image translator.
        dataset: the data set name it was trained on (``kgan.zoo.info(name).dataset``).
        n: samples to score (default: each kind's own, see the module docstring).
        reference: also score real data on the same measures.

    Returns:
        dict of scores (JSON-serialisable floats, ints and strings).
    """
    from kgan.translation import ImageTranslator

    modality = getattr(model, "modality", "image")
    if isinstance(model, ImageTranslator):
        return metrics.evaluate_translation(model, dataset, n=n)
    if modality == "audio":
        from kgan import audio_metrics

        scores = metrics.evaluate(model, dataset, n=n)
        if reference:
            scores["real_reference"] = audio_metrics.real_reference()
        return scores
    if modality == "voxels":
        return metrics.evaluate(model, dataset, n=n)
    if getattr(model, "default_captions", ()):
        from kgan.datasets import module

        scores = metrics.evaluate_text_to_image(model, dataset, n=n or 10000)
        floor_dataset = module(dataset).CLASSIFIER_DATASET
        floor_keys = tuple(k for k in _IMAGE_FLOOR_KEYS if k != "inception_score")
    else:
        scores = metrics.evaluate(model, dataset, n=n or 10000)
        floor_dataset, floor_keys = dataset, _IMAGE_FLOOR_KEYS
    if reference:
        floor = metrics.real_floor(floor_dataset, n=n or 10000)
        scores["real_floor"] = {k: floor[k] for k in floor_keys}
    return scores
