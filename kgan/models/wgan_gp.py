"""WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs").

The critic estimates the Wasserstein-1 distance; a gradient penalty (lambda = 10) on random
interpolates keeps it 1-Lipschitz. As in the paper: 5 critic steps per generator step, Adam
with learning rate 1e-4 and betas (0, 0.9), and no BatchNorm in the critic (the penalty is
per example, BatchNorm would couple the examples).
"""

import keras

from kgan.models._common import register_family_entries
from kgan.models.dcgan import DCGAN, dcgan_discriminator, dcgan_generator


@keras.saving.register_keras_serializable(package="kgan")
class WGANGP(DCGAN):
    """Wasserstein GAN with gradient penalty on the DCGAN architecture, critic without BN."""

    compile_defaults = dict(
        DCGAN.compile_defaults, loss="wasserstein", learning_rate=1e-4, beta_1=0.0,
        beta_2=0.9, d_steps=5, gp_weight=10.0,
    )

    @classmethod
    def build(cls, image_shape, latent_dim=128, width=64, num_classes=0, seed=0, name=None):
        return cls(
            dcgan_generator(image_shape, latent_dim, width, num_classes),
            dcgan_discriminator(image_shape, width, num_classes, batch_norm=False),
            latent_dim=latent_dim, num_classes=num_classes, seed=seed, name=name or "wgangp",
        )


register_family_entries(
    WGANGP,
    family="wgan_gp",
    paper="Gulrajani et al. 2017, arXiv:1704.00028",
    entries={
        "wgan_gp_fashion_mnist": dict(
            weights="wgan_gp_fashion_mnist.weights.h5",
            sha256="2865a18e9ba1c6a5fae425892652280ef5660075b9ca4bdacb64857f519184f9",
            dataset="fashion_mnist", epochs=50),
    },
    model_kwargs=dict(latent_dim=128, width=64),
    test_kwargs=dict(latent_dim=8, width=4),
    recipe=dict(batch_size=64, compile=dict(ema_decay=0.999)),
)
