"""The public face of kgan's measures: ``kgan.metrics.evaluate(model, dataset_name, n=10000)``.

:func:`evaluate` scores any model with the measures that fit its kind (FID, KID, IS,
precision / recall for image generators; caption agreement for text-to-image models; L1 and
SSIM for image-to-image ones; the audio and voxel measures for those generators). It is
:func:`kgan.evaluation.evaluate`; the measures themselves, the feature extractors and the
classifiers are in :mod:`kgan.evaluation`.

Example:
    >>> model = kgan.zoo.load("dcgan_mnist")
    >>> kgan.metrics.evaluate(model, "mnist", n=10000)
    {'fid': ..., 'kid_mean': ..., 'precision': ..., 'extractor': 'classifier_mnist@...', ...}
"""

from kgan.evaluation import evaluate

__all__ = ["evaluate"]
