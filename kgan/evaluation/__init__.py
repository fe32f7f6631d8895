"""Scoring a model with the measures that fit its kind: the one entry point, :func:`evaluate`.

``kgan.metrics.evaluate``, ``kgan eval NAME`` and the cards written by
``tools/train_zoo.py`` all call :func:`evaluate`, so a card's figures are exactly what a user
re-measures:

* image-to-image models: L1, SSIM and classifier accuracy against the test targets
  (:func:`kgan.evaluation.translation.paired_scores`);
* text-to-image models: class and attribute agreement on held-out captions, FID and friends
  (:mod:`kgan.evaluation.text`);
* audio models: Inception Score, Fréchet distance, label accuracy, nearest-neighbour distance
  and loudness on 300 clips, as many as test clips (:mod:`kgan.evaluation.audio`);
* voxel models: class histogram, Fréchet distance and nearest-neighbour IoU on 1,200 shapes,
  as many as test shapes (:mod:`kgan.evaluation.voxels`);
* other image generators: FID, KID, IS, precision/recall, class KL on 10,000 samples
  (:mod:`kgan.evaluation.images`).

With ``reference=True`` the result also holds what real data scores on the same measures
(``real_floor`` for images, ``real_reference`` for audio), the yardstick a card shows.

Where things live: ``measures`` (FID, KID, IS, precision / recall ... as numpy functions),
``extractors`` (the feature networks), ``classifiers`` (kgan's own feature classifiers;
their training is :mod:`kgan.recipes.classifiers`), and one module per kind above.
"""

from kgan.evaluation import audio, images, text, translation, voxels

_IMAGE_FLOOR_KEYS = ("fid", "kid_mean", "inception_score", "precision", "recall", "class_kl")


def evaluate(model, dataset_name, n=None, reference=False, **options):
    """Scores ``model`` (trained on registered data set ``dataset_name``) by its kind.

    Args:
        model: a kgan GAN or image translator.
        dataset_name: the data set it was trained on (``kgan.zoo.info(name).dataset``).
        n: samples to score (default: each kind's own, see the module docstring).
        reference: also score real data on the same measures.
        **options: settings of the image measures (``extractor``, ``batch_size``, ``seed``,
            ``kid_subsets``, ``kid_subset_size``, ``k``: :func:`kgan.evaluation.images.evaluate`),
            for image and (all but ``extractor``) text-to-image models.

    Returns:
        dict of scores (JSON-serialisable floats, ints and strings).

    Raises:
        ValueError: see the measures of the model's kind.
        TypeError: ``options`` for a kind whose measures take none.
    """
    from kgan.translation import TranslationGAN

    modality = getattr(model, "modality", "image")
    if isinstance(model, TranslationGAN):
        _no_options("image-to-image", options)
        return translation.paired_scores(model, dataset_name, n=n)
    if modality == "audio":
        _no_options("audio", options)
        scores = audio.evaluate(model, n=n or 300)
        if reference:
            scores["real_reference"] = audio.real_reference()
        return scores
    if modality == "voxels":
        _no_options("voxel", options)
        return voxels.evaluate(model, n=n or 1200)
    n = 10000 if n is None else n
    if getattr(model, "default_captions", ()):
        from kgan.data.sets import module

        scores = text.evaluate(model, dataset_name, n=n, **options)
        floor_dataset = module(dataset_name).CLASSIFIER_DATASET
        floor_keys = tuple(k for k in _IMAGE_FLOOR_KEYS if k != "inception_score")
    else:
        scores = images.evaluate(model, dataset_name, n, **options)
        floor_dataset, floor_keys = dataset_name, _IMAGE_FLOOR_KEYS
    if reference:
        floor = images.real_floor(floor_dataset, n=n, **options)
        scores["real_floor"] = {k: floor[k] for k in floor_keys}
    return scores


def _no_options(kind, options):
    if options:
        raise TypeError(f"The {kind} measures take no options; received "
                        f"{', '.join(sorted(options))}.")
