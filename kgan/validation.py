"""Checks of user input that raise a ``ValueError`` naming what was received and expected."""

import numpy as np


def check_images(images, expected_shape, static=False):
    """Checks a batch of images: shape ``(B, *expected_shape)`` and values in [-1, 1]."""
    shape = tuple(images.shape)
    if len(shape) != len(expected_shape) + 1 or tuple(shape[1:]) != tuple(expected_shape):
        hint = ""
        if len(shape) == len(expected_shape) and tuple(shape[1:]) == tuple(expected_shape[:-1]):
            hint = " Add a channel axis (images[..., None])."
        elif len(shape) == len(expected_shape) + 1 and shape[1:-1] == tuple(expected_shape[:-1]):
            hint = f" The model wants {expected_shape[-1]} channel(s), not {shape[-1]}."
        raise ValueError(
            f"Images of shape {shape} do not fit this model: expected "
            f"(batch, {', '.join(str(d) for d in expected_shape)}).{hint}"
        )
    if static:
        return
    values = np.asarray(images)
    if not np.issubdtype(values.dtype, np.floating):
        raise ValueError(
            f"Images must be floats in [-1, 1]; received dtype {values.dtype}. Scale uint8 "
            "pixels with x / 127.5 - 1 (kgan.data.from_numpy does this)."
        )
    if values.size and (values.min() < -1.0001 or values.max() > 1.0001):
        raise ValueError(
            f"Images must be scaled to [-1, 1]; received values in "
            f"[{values.min():.3g}, {values.max():.3g}]. Use x / 127.5 - 1 for [0, 255] pixels."
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("Images contain NaN or Inf values.")


def check_labels(labels, n, num_classes, required):
    """Returns labels as int32 ``(n,)`` in ``[0, num_classes)``; cycles classes if omitted."""
    if labels is None:
        if required:
            raise ValueError(f"labels are required: integers in [0, {num_classes}).")
        return (np.arange(n) % num_classes).astype("int32")
    values = np.asarray(labels)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 0:
        values = np.full((n if n is not None else 1,), values)
    if values.ndim != 1:
        raise ValueError(
            f"labels must be a 1-D array of class indices; received shape {values.shape}."
        )
    if n is not None and len(values) != n:
        raise ValueError(f"Got {len(values)} labels for {n} samples; give one label per sample.")
    if not np.issubdtype(values.dtype, np.integer):
        if not np.issubdtype(values.dtype, np.floating) or np.any(values != np.round(values)):
            raise ValueError(
                f"labels must be integer class indices; received dtype {values.dtype}.")
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}); received values in "
            f"[{values.min()}, {values.max()}]."
        )
    return values.astype("int32")


def check_latents(z, n, latent_dim, seed):
    """Returns latents float32 ``(n, latent_dim)``, drawn from N(0, I) when ``z`` is None."""
    if z is None:
        n = 64 if n is None else n
        if int(n) != n or n < 1:
            raise ValueError(f"n must be a positive integer; received {n!r}.")
        rng = np.random.default_rng(seed)
        return rng.standard_normal((int(n), latent_dim)).astype("float32")
    z = np.asarray(z)
    if not (np.issubdtype(z.dtype, np.floating) or np.issubdtype(z.dtype, np.integer)):
        raise ValueError(f"Latents must be numbers; received dtype {z.dtype}.")
    z = z.astype("float32")
    if not np.all(np.isfinite(z)):
        raise ValueError("Latents contain NaN or Inf values.")
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(
            f"Latents must have shape (n, {latent_dim}); received shape {z.shape}."
        )
    if n is not None and n != len(z):
        raise ValueError(f"n={n} does not match the {len(z)} latents given in z.")
    if len(z) == 0:
        raise ValueError("z holds no latents: give at least one row.")
    return z
