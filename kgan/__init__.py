"""kgan: a Keras 3 / TensorFlow GAN model zoo.

Every GAN is a ``keras.Model`` (:class:`kgan.GAN`) trained with plain ``fit``, of one of two
kinds: :class:`kgan.LatentGAN` (noise to samples, ``generate``) or :class:`kgan.TranslationGAN`
(image to image, ``translate``). The zoo publishes trained weights
(``kgan.zoo.load("dcgan_mnist")``).
"""

import importlib

__version__ = "0.1.0"

# Everything imported eagerly here runs without TensorFlow (models, losses, the zoo), so
# the same builders, weights and `fit` work under Keras' JAX backend (kgan.trainers.jax).
from kgan import augment, callbacks, layers, losses, precision, zoo  # noqa: E402
from kgan.gan import GAN  # noqa: E402
from kgan.latent import LatentGAN  # noqa: E402
from kgan.translation import TranslationGAN  # noqa: E402
from kgan import models  # noqa: E402  (registers the zoo entries)

#: Submodules imported on first attribute access (PEP 562): they import TensorFlow
#: (tf.data, tf.distribute, SavedModel/TFLite, the metrics' classifiers), which
#: ``import kgan`` must not require.
_LAZY_SUBMODULES = ("data", "distribute", "evaluation", "export", "metrics", "training")

__all__ = ["GAN", "LatentGAN", "TranslationGAN", "augment", "callbacks", "layers", "losses",
           "models", "precision", "zoo", *_LAZY_SUBMODULES]


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f"kgan.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'kgan' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
