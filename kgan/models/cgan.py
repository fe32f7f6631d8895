"""Conditional GAN (Mirza & Osindero 2014, "Conditional Generative Adversarial Nets").

Both players see the class label: G draws ``G(z, y)`` and D judges ``D(x, y)``, so a user
asks for a chosen class with ``generate(labels=...)``. The networks are the DCGAN ones with
the label embedded into G's input and into D's input and projection head.
"""

import keras

from kgan.models.common import register_family_entries
from kgan.models.dcgan import DCGAN


@keras.saving.register_keras_serializable(package="kgan")
class CGAN(DCGAN):
    """Class-conditional DCGAN. ``generate(n, labels=[...])`` picks the classes.

    Example:
        >>> model = kgan.zoo.load("cgan_mnist")
        >>> sevens = model.generate(labels=[7] * 16, seed=0)
    """

    @classmethod
    def build(cls, image_shape, latent_dim=100, width=64, num_classes=10, **kwargs):
        if num_classes < 2:
            raise ValueError(f"A conditional GAN needs num_classes >= 2; received {num_classes}.")
        return super().build(image_shape, latent_dim, width, num_classes, **kwargs)


register_family_entries(
    CGAN,
    family="cgan",
    paper="Mirza & Osindero 2014, arXiv:1411.1784",
    entries={
        "cgan_mnist": dict(
            weights="cgan_mnist.weights.h5",
            sha256="66d2a4411453c724cc771142a2f44c10182e09f523ce65d3f9118711b2915494",
            dataset="mnist", epochs=50),
        "cgan_fashion_mnist": dict(
            weights="cgan_fashion_mnist.weights.h5",
            sha256="bf2b00a5a65d9d9a06e902d470a935d42160eb4475ffced7e36e4dc01ea353fe",
            dataset="fashion_mnist", epochs=60),
    },
    model_kwargs=dict(latent_dim=100, width=64),
    test_kwargs=dict(latent_dim=8, width=4),
    recipe=dict(batch_size=128, compile=dict(loss="non_saturating", ema_decay=0.999)),
    conditional=True,
)
