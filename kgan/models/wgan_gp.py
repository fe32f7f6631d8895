"""WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs").

The critic estimates the Wasserstein-1 distance; a gradient penalty (lambda = 10) on random
interpolates keeps it 1-Lipschitz. As in the paper: 5 critic steps per generator step, Adam
with learning rate 1e-4 and betas (0, 0.9), and no BatchNorm in the critic (the penalty is
per example, BatchNorm would couple the examples).

``arch="resnet"`` builds the paper's CIFAR-10 ResNet instead (their ``gan_cifar_resnet.py``):
128 channels in both networks, 3 up residual blocks with BatchNorm in G, the critic's
residual blocks without normalization and with mean pooling; they trained it with Adam
learning rate 2e-4 (``compile(learning_rate=2e-4)``, the ``wgan_gp_cifar10`` recipe).
"""

import keras

from kgan.models.common import register_family_entries
from kgan.models.dcgan import DCGAN, dcgan_discriminator, dcgan_generator
from kgan.models.sngan import resnet_discriminator, resnet_generator

#: Architectures of ``WGANGP.build``.
ARCHS = ("dcgan", "resnet")


@keras.saving.register_keras_serializable(package="kgan")
class WGANGP(DCGAN):
    """Wasserstein GAN with gradient penalty on the DCGAN architecture, critic without BN."""

    compile_defaults = dict(
        DCGAN.compile_defaults, loss="wasserstein", learning_rate=1e-4, beta_1=0.0,
        beta_2=0.9, d_steps=5, gp_weight=10.0,
    )

    @classmethod
    def build(cls, image_shape, latent_dim=128, width=64, num_classes=0, seed=0, name=None,
              arch="dcgan"):
        """``arch``: ``"dcgan"`` (the DCGAN networks, critic without BatchNorm; the published
        weights' architecture) or ``"resnet"`` (Gulrajani et al.'s CIFAR-10 ResNet, ``width``
        channels in both networks; square power-of-two images >= 32)."""
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(map(repr, ARCHS))}; "
                             f"received {arch!r}.")
        if arch == "resnet":
            generator = resnet_generator(image_shape, latent_dim, width, num_classes)
            critic = resnet_discriminator(image_shape, width, num_classes, spectral_norm=False,
                                          pooling="mean")
        else:
            generator = dcgan_generator(image_shape, latent_dim, width, num_classes)
            critic = dcgan_discriminator(image_shape, width, num_classes, batch_norm=False)
        return cls(generator, critic, latent_dim=latent_dim, num_classes=num_classes,
                   seed=seed, name=name or "wgangp")

    def compile(self, d_optimizer=None, g_optimizer=None, learning_rate=None, **kwargs):
        """``GAN.compile``, plus ``learning_rate`` of the default Adam(beta_1=0, beta_2=0.9)
        optimizers (1e-4; Gulrajani et al. used 2e-4 for their CIFAR-10 ResNet)."""
        if learning_rate is not None:
            ema = kwargs.get("ema_decay")
            ema = self.compile_defaults["ema_decay"] if ema is None else ema

            def adam(ema_decay):
                return keras.optimizers.Adam(
                    learning_rate, beta_1=self.compile_defaults["beta_1"],
                    beta_2=self.compile_defaults["beta_2"], use_ema=ema_decay > 0,
                    ema_momentum=ema_decay or 0.99)

            d_optimizer = d_optimizer or adam(0.0)
            g_optimizer = g_optimizer or adam(ema)
        super().compile(d_optimizer, g_optimizer, **kwargs)


register_family_entries(
    WGANGP,
    family="wgan_gp",
    paper="Gulrajani et al. 2017, arXiv:1704.00028",
    entries={
        "wgan_gp_fashion_mnist": dict(
            weights="wgan_gp_fashion_mnist.weights.h5",
            sha256="2865a18e9ba1c6a5fae425892652280ef5660075b9ca4bdacb64857f519184f9",
            dataset="fashion_mnist", epochs=50),
        # Gulrajani et al.'s CIFAR-10 ResNet: 100k generator updates at batch 64 (one epoch
        # is 781 batches), Adam(2e-4, 0, 0.9).
        "wgan_gp_cifar10": dict(
            dataset="cifar10", epochs=128,
            model_kwargs=dict(width=128, arch="resnet"),
            compile=dict(learning_rate=2e-4, ema_decay=0.999)),
    },
    model_kwargs=dict(latent_dim=128, width=64),
    test_kwargs=dict(latent_dim=8, width=4),
    recipe=dict(batch_size=64, compile=dict(ema_decay=0.999)),
)
