"""Turning batches of generated images into PNG grids."""

from pathlib import Path

import numpy as np


def image_grid(images, rows=None):
    """Tiles ``(N, H, W, C)`` images in [-1, 1] into one uint8 ``(rows*H, cols*W, C)`` array.

    ``rows`` defaults to a square-ish layout; cells left over are black. One pixel of grey
    separates the cells so neighbouring samples stay distinguishable.
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4:
        raise ValueError(f"image_grid expects (N, H, W, C) images; received {images.shape}.")
    n, h, w, c = images.shape
    rows = rows or int(np.ceil(np.sqrt(n)))
    cols = int(np.ceil(n / rows))
    pixels = np.clip((images + 1.0) * 127.5, 0, 255).round().astype("uint8")
    grid = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1, c), 64, dtype="uint8")
    for i in range(n):
        r, col = divmod(i, cols)
        grid[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + col * (w + 1): 1 + col * (w + 1) + w] = pixels[i]
    return grid


def save_grid(path, images, rows=None, scale=2):
    """Writes an image grid PNG (upscaled ``scale`` times, nearest) and returns its path."""
    from PIL import Image

    grid = image_grid(images, rows)
    if grid.shape[-1] == 1:
        grid = grid[..., 0]
    picture = Image.fromarray(grid)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path
