"""Differentiable augmentation for data-efficient GAN training: DiffAugment and ADA.

With few training images the discriminator D memorises them and its feedback to the
generator G turns useless. Augmenting only the real images does not help: G then learns to
draw augmented images (the augmentations "leak"). DiffAugment instead applies the same kind
of random transform to real *and* generated images right before D, in D's update and in G's
update, and every transform is differentiable, so G's gradients flow back through it.

ADA adapts the strength: each transform is applied to each image with probability ``p``,
and ``p`` follows an overfitting heuristic, ``r_t = E[sign(D(real))]`` (near 1 when D is
sure of every real image): ``p`` rises while ``r_t`` is above a target (0.6) and falls
below it. This module's ADA uses DiffAugment's transforms, not ADA's full 18-transform
pipeline.

The transforms (following ``DiffAugment_tf.py`` of mit-han-lab/data-efficient-gans):

* ``color``: brightness (+U[-0.5, 0.5)), saturation (x U[0, 2) around each pixel's channel
  mean), contrast (x U[0.5, 1.5) around each image's mean);
* ``translation``: an integer shift of up to 1/8 of the height and of the width, with zeros
  (mid-grey in [-1, 1]) filling the vacated pixels;
* ``cutout``: zeros over a square of half the image size centred at a random pixel.

Images are NHWC floats in [-1, 1]. Every transform is a pure ``keras.ops`` function of the
images and of uniform draws in [0, 1), one per image (:data:`PARAM_COLUMNS`), so the same
code runs on TensorFlow and JAX: :func:`draw_params` draws them with ``keras.random``
(an int seed or a ``keras.random.SeedGenerator``); ``kgan.GAN``'s training step draws them
from a stateless RNG keyed on ``(seed, step)``, as it does the latents.

References:
    Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for Data-Efficient GAN
    Training", arXiv:2006.10738 (DiffAugment).
    Karras, Aittala, Hellsten, Laine, Lehtinen & Aila 2020, "Training Generative Adversarial
    Networks with Limited Data", arXiv:2006.06676 (ADA).

Example:
    >>> model = kgan.zoo.load("test_dcgan", pretrained=False, compile=False)
    >>> model.compile(augment="color,translation,cutout")      # or augment="ada"
    >>> kgan.augment.diff_augment(images, "translation,cutout", seed=0)
"""

import keras
from keras import ops

#: DiffAugment's transform groups, in their usual order.
OPS = ("color", "translation", "cutout")
#: ``GAN.compile(augment=ADA)``: all of :data:`OPS`, each transform applied with probability p.
ADA = "ada"
#: ADA's defaults (Karras et al. 2020): the target of r_t = E[sign(D(real))], and the
#: thousands of images over which p can move from 0 to 1.
ADA_TARGET = 0.6
ADA_KIMG = 500

#: Uniform draws per image, one column each: the transforms' magnitudes and positions, then
#: ADA's gates (transform t applies to an image when its ``p_t`` draw is below p).
PARAM_COLUMNS = ("brightness", "saturation", "contrast", "translation_h", "translation_w",
                 "cutout_h", "cutout_w", "p_brightness", "p_saturation", "p_contrast",
                 "p_translation", "p_cutout")
NUM_PARAMS = len(PARAM_COLUMNS)
_COLUMN = {name: i for i, name in enumerate(PARAM_COLUMNS)}


# ---------------------------------------------------------------------- policy
def parse_policy(augment):
    """Normalises ``GAN.compile``'s ``augment`` argument.

    Args:
        augment: None (or ""), a comma-separated subset of :data:`OPS` (or a list of them),
            or ``"ada"``.

    Returns:
        ``(policy, ops, adaptive)``: the canonical string (None when off), the op names
        in order, and whether p adapts (ADA).

    Raises:
        ValueError: an unknown or repeated name, naming the valid choices.
    """
    if augment is None or augment == "":
        return None, (), False
    names = augment.split(",") if isinstance(augment, str) else list(augment)
    names = [str(n).strip() for n in names]
    choices = f"one of None, 'ada' or a comma-separated subset of {', '.join(OPS)}"
    if names == [ADA]:
        return ADA, OPS, True
    for name in names:
        if name not in OPS:
            hint = (" ('ada' cannot be combined with other names)" if name == ADA else "")
            raise ValueError(f"Unknown augmentation {name!r} in augment={augment!r}{hint}; "
                             f"expected {choices}.")
    if len(set(names)) != len(names):
        raise ValueError(f"augment={augment!r} repeats an op; expected {choices}.")
    return ",".join(names), tuple(names), False


# ---------------------------------------------------------------------- transforms
def _per_image(u, x):
    """Draws ``(B,)`` -> ``(B, 1, 1, 1)`` in the images' dtype."""
    return ops.reshape(ops.cast(u, x.dtype), (-1, 1, 1, 1))


def _uniform_int(u, low, high):
    """Integers uniform in [low, high) from uniform draws in [0, 1)."""
    n = high - low
    return ops.minimum(ops.cast(ops.floor(ops.cast(u, "float32") * n), "int32"), n - 1) + low


def _fraction(size, ratio):
    """``round(size * ratio)``, as DiffAugment computes its shift and cutout sizes."""
    return int(size * ratio + 0.5)


def brightness(x, u):
    """Adds ``u - 0.5`` (in [-0.5, 0.5)) to every pixel of each image."""
    return x + (_per_image(u, x) - 0.5)


def saturation(x, u):
    """Scales each pixel's deviation from its channel mean by ``2u`` (0: grey, 2: vivid).
    The identity on one-channel images."""
    mean = ops.mean(x, axis=3, keepdims=True)
    return (x - mean) * (2.0 * _per_image(u, x)) + mean


def contrast(x, u):
    """Scales each image's deviation from its mean by ``u + 0.5`` (in [0.5, 1.5))."""
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    return (x - mean) * (_per_image(u, x) + 0.5) + mean


def _translate_axis(x, shift, axis):
    """``out[i] = x[i + shift]`` along ``axis`` (1 or 2), zero where ``i + shift`` is outside."""
    size = x.shape[axis]
    source = ops.arange(size, dtype="int32")[None, :] + ops.reshape(shift, (-1, 1))
    inside = ops.logical_and(source >= 0, source < size)
    shape = (-1, size, 1, 1) if axis == 1 else (-1, 1, size, 1)
    out = ops.take_along_axis(x, ops.reshape(ops.clip(source, 0, size - 1), shape), axis=axis)
    return out * ops.reshape(ops.cast(inside, x.dtype), shape)


def translation(x, u_h, u_w, ratio=0.125):
    """Shifts each image by whole pixels, uniform in [-s, s] with ``s = round(ratio * size)``
    per axis, filling the vacated pixels with zeros (DiffAugment's ``rand_translation``)."""
    for axis, u in ((1, u_h), (2, u_w)):
        s = _fraction(x.shape[axis], ratio)
        x = _translate_axis(x, _uniform_int(u, -s, s + 1), axis)
    return x


def _band(u, size, length):
    """``(B, size)`` booleans: a run of ``length`` indices centred at a uniform index
    (DiffAugment's offsets: the run may stick out of the image)."""
    start = _uniform_int(u, 0, size + 1 - length % 2) - length // 2
    index = ops.arange(size, dtype="int32")[None, :]
    start = ops.reshape(start, (-1, 1))
    return ops.logical_and(index >= start, index < start + length)


def cutout(x, u_h, u_w, ratio=0.5):
    """Zeroes a ``round(ratio * H) x round(ratio * W)`` rectangle at a random position
    (DiffAugment's ``rand_cutout``)."""
    rows = _band(u_h, x.shape[1], _fraction(x.shape[1], ratio))
    cols = _band(u_w, x.shape[2], _fraction(x.shape[2], ratio))
    hole = ops.logical_and(rows[:, :, None], cols[:, None, :])
    return x * ops.cast(ops.logical_not(hole), x.dtype)[..., None]


#: Each op's transforms: (name, function, the draws it takes); ADA gates each by name.
_TRANSFORMS = {
    "color": (("brightness", brightness, ("brightness",)),
              ("saturation", saturation, ("saturation",)),
              ("contrast", contrast, ("contrast",))),
    "translation": (("translation", translation, ("translation_h", "translation_w")),),
    "cutout": (("cutout", cutout, ("cutout_h", "cutout_w")),),
}


# ---------------------------------------------------------------------- policies
def draw_params(batch_size, seed=None):
    """Uniform draws ``(batch_size, NUM_PARAMS)`` in [0, 1) for :func:`apply`.

    Args:
        seed: an int, a ``keras.random.SeedGenerator`` (advanced by the call) or None.
    """
    return keras.random.uniform((batch_size, NUM_PARAMS), seed=seed)


def apply(images, policy, params, p=None):
    """Augments NHWC images with the ops of ``policy``, a pure function of ``params``.

    Args:
        images: ``(B, H, W, C)`` floats (in [-1, 1] for the magnitudes to make sense).
        policy: anything :func:`parse_policy` takes, e.g. ``"color,cutout"`` or ``"ada"``.
        params: ``(B, NUM_PARAMS)`` uniform draws in [0, 1) (:func:`draw_params`).
        p: None applies every transform to every image (DiffAugment); a probability
            (float or scalar tensor) applies each transform to each image with probability
            ``p`` (ADA).

    Returns:
        The augmented images, same shape and dtype, differentiable w.r.t. ``images``.
    """
    _, names, _ = parse_policy(policy)
    x = images
    for name in names:
        for transform, fn, columns in _TRANSFORMS[name]:
            y = fn(x, *(params[:, _COLUMN[c]] for c in columns))
            if p is not None:
                gate = params[:, _COLUMN["p_" + transform]] < ops.cast(p, params.dtype)
                y = ops.where(ops.reshape(gate, (-1, 1, 1, 1)), y, x)
            x = y
    return x


def diff_augment(images, policy="color,translation,cutout", seed=None, p=None):
    """DiffAugment in one call: draws the parameters with ``seed`` and applies ``policy``."""
    return apply(images, policy, draw_params(ops.shape(images)[0], seed), p)


def ada_adjust(p, real_sign_mean, batch_size, target=ADA_TARGET, kimg=ADA_KIMG):
    """ADA's update of p after a discriminator update (Karras et al. 2020, section 3.1).

    ``p + sign(r_t - target) * batch_size / (kimg * 1000)``, clipped to [0, 1], where
    ``r_t = real_sign_mean = E[sign(D(real))]`` over the (global) batch of
    ``batch_size`` reals: p can cross [0, 1] in ``kimg`` thousand images.
    """
    r_t = ops.cast(real_sign_mean, "float32")
    rate = ops.cast(batch_size, "float32") / (float(kimg) * 1000.0)
    return ops.clip(ops.cast(p, "float32") + ops.sign(r_t - float(target)) * rate, 0.0, 1.0)


__all__ = ["ADA", "ADA_KIMG", "ADA_TARGET", "NUM_PARAMS", "OPS", "PARAM_COLUMNS",
           "ada_adjust", "apply", "brightness", "contrast", "cutout", "diff_augment",
           "draw_params", "parse_policy", "saturation", "translation"]
