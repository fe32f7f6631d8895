"""The computation every export shares: which network leaves, the images it draws, pixels.

Only the generator leaves: a served or mobile GAN draws images, it does not train, so the
discriminator and optimizer state stay behind, and models trained with an EMA of the
generator weights are exported with those averaged weights (``GAN.inference_weights``).
Image-to-image models export the filter of one direction. The signature names and inputs
and the seed latents of ``generate_from_seed`` live here because the SavedModel and the
TFLite exports both build them.
"""

import numpy as np
import tensorflow as tf

from kgan.translation import DYNAMIC, TranslationGAN, check_size, resize_filter

SERVING_SIGNATURE = "serving_default"
SEED_SIGNATURE = "generate_from_seed"
TRUNCATED_SIGNATURE = "truncated"


def seed_latents(seeds, latent_dim):
    """The latents the ``generate_from_seed`` signature uses: one N(0, I) row per seed.

    ``model.generate(z=seed_latents([42], model.latent_dim))`` is the served image of seed 42.
    """
    seeds = tf.convert_to_tensor(np.asarray(seeds, dtype="int64").reshape(-1))
    return stateless_latents(seeds, int(latent_dim)).numpy()


def stateless_latents(seeds, latent_dim):
    """:func:`seed_latents` in the graph: int64 ``seeds`` -> float32 ``(n, latent_dim)``."""
    return tf.map_fn(
        lambda s: tf.random.stateless_normal(
            [latent_dim], seed=tf.stack([s, tf.zeros_like(s)]), alg="philox"),
        seeds, fn_output_signature=tf.float32)


def source_shape(model, direction=None, size=None):
    """``(H, W, C)`` a translator's filter takes: its own, at ``size`` ``(H, W)``, or
    ``(None, None, C)`` for :data:`kgan.translation.DYNAMIC`."""
    shape = model.source_shape(direction)
    if size == DYNAMIC:
        return (None, None, shape[-1])
    return shape if size is None else (*check_size(size), shape[-1])


def input_specs(model, direction=None, size=None, pixels=False):
    """The signature inputs; a translator's ``source`` is uint8 pixels when ``pixels``."""
    if isinstance(model, TranslationGAN):
        shape = [None, *source_shape(model, direction, size)]
        return [tf.TensorSpec(shape, tf.uint8 if pixels else tf.float32, name="source")]
    specs = [tf.TensorSpec([None, model.latent_dim], tf.float32, name="latent")]
    if model.conditional:
        specs.append(tf.TensorSpec([None], tf.int32, name="label"))
    return specs


def exported_network(model, direction=None, size=None):
    """The model that is exported: the generator, or a translator's filter (built for
    ``size`` ``(H, W)`` inputs when given; call it under ``model.inference_weights()``)."""
    if isinstance(model, TranslationGAN):
        return resize_filter(model.filter_model(model.check_direction(direction)), size)
    return model.generator


def exported_images(model, latent, label=None, generator=None):
    """The generator's images (a translator's outputs for source images ``latent``),
    clipped to [-1, 1] like ``GAN.generate`` / ``translate``."""
    generator = generator or model.generator
    conditional = model.conditional and not isinstance(model, TranslationGAN)
    x = generator([latent, label] if conditional else latent, training=False)
    x = tf.clip_by_value(tf.cast(x, tf.float32), -1.0, 1.0)
    if hasattr(model, "output_transform"):  # SpecGAN: spectrograms -> Griffin-Lim waveforms
        x = model.output_transform(x)
    return x


def padded_images(images_of, source, multiple):
    """``images_of`` a dynamic-size filter's ``source`` batch: reflect-padded at the bottom
    and right to sides that are multiples of ``multiple`` (the network's downsampling), run,
    and the output cropped back to the source's size times the network's scale. Each side
    must exceed its padding (a reflection cannot be longer than the image)."""
    height, width = tf.shape(source)[1], tf.shape(source)[2]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    padded = tf.pad(source, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], "REFLECT")
    # The reshape is a no-op that tells the converter the channels (its convolutions need them).
    padded = tf.reshape(padded, [-1, height + pad_h, width + pad_w, source.shape[-1]])
    image = images_of(padded)
    scale = tf.shape(image)[1] // (height + pad_h)
    return image[:, :height * scale, :width * scale]


def to_uint8(image):
    """Images in [-1, 1] -> uint8 pixels ``round((image + 1) * 127.5)``."""
    return tf.cast(tf.round((image + 1.0) * 127.5), tf.uint8)


def from_uint8(pixels):
    """uint8 pixels -> float32 images in [-1, 1]."""
    return tf.cast(pixels, tf.float32) / 127.5 - 1.0


def is_text_model(model):
    """Text-to-image models (``kgan.models.text_conditioning.TextConditioned``): they take
    captions, not labels."""
    return getattr(model, "text_encoder", None) is not None
