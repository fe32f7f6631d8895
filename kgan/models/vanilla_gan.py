"""The original GAN (Goodfellow et al. 2014, "Generative Adversarial Nets") with MLPs.

Fully connected generator and discriminator on flattened images. ``loss="minimax"`` trains
with the paper's saturating objective log(1 - D(G(z))); the default is the non-saturating
-log D(G(z)) the paper recommends in practice. ``minibatch_discrimination=True`` adds the
layer of Salimans et al. 2016 to the discriminator against mode collapse.
"""

import math

import keras
from keras import layers

from kgan.latent import LatentGAN
from kgan.layers import BatchNormalization, MinibatchDiscrimination, maybe_spectral_norm
from kgan.models.common import SYNC_BN, register_family_entries


def mlp_generator(image_shape, latent_dim, widths=(256, 512, 1024), name="generator"):
    z = keras.Input((latent_dim,), name="latent")
    x = z
    for units in widths:
        x = layers.Dense(units, use_bias=False)(x)
        x = BatchNormalization(synchronized=SYNC_BN)(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Dense(math.prod(image_shape))(x)
    x = layers.Activation("tanh", dtype="float32")(x)
    out = layers.Reshape(image_shape, name="image", dtype="float32")(x)
    return keras.Model(z, out, name=name)


def mlp_discriminator(image_shape, widths=(512, 256), minibatch_discrimination=False,
                      spectral_norm=False, dropout=0.3, name="discriminator"):
    image = keras.Input(image_shape, name="image")
    x = layers.Flatten()(image)
    for units in widths:
        x = maybe_spectral_norm(layers.Dense(units), spectral_norm)(x)
        x = layers.LeakyReLU(0.2)(x)
        x = layers.Dropout(dropout)(x)
    if minibatch_discrimination:
        x = MinibatchDiscrimination(num_kernels=50, kernel_dim=5)(x)
    logits = maybe_spectral_norm(layers.Dense(1), spectral_norm)(x)
    logits = layers.Activation("linear", dtype="float32", name="logits")(logits)
    return keras.Model(image, logits, name=name)


@keras.saving.register_keras_serializable(package="kgan")
class VanillaGAN(LatentGAN):
    """MLP GAN of Goodfellow et al. 2014."""

    @classmethod
    def build(cls, image_shape, latent_dim=100, generator_widths=(256, 512, 1024),
              discriminator_widths=(512, 256), minibatch_discrimination=True,
              spectral_norm=False, num_classes=0, seed=0, name=None):
        if num_classes:
            raise ValueError("VanillaGAN is unconditional; use CGAN for class labels.")
        return cls(
            mlp_generator(image_shape, latent_dim, generator_widths),
            mlp_discriminator(image_shape, discriminator_widths, minibatch_discrimination,
                              spectral_norm),
            latent_dim=latent_dim, seed=seed, name=name or "vanillagan",
        )


register_family_entries(
    VanillaGAN,
    family="vanilla_gan",
    paper="Goodfellow et al. 2014, arXiv:1406.2661",
    entries={
        "vanilla_gan_mnist": dict(
            weights="vanilla_gan_mnist.weights.h5",
            sha256="fdc47006ac511eefc212dd337725941194d80cc7243176880799730328681e6d",
            dataset="mnist", epochs=120),
    },
    model_kwargs=dict(latent_dim=100),
    test_kwargs=dict(latent_dim=8, generator_widths=(16,), discriminator_widths=(16,)),
    recipe=dict(batch_size=128, compile=dict(loss="non_saturating", ema_decay=0.999)),
)
