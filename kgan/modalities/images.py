"""Turning batches of generated samples (images, audio, voxels) into PNG pictures."""

from pathlib import Path

import numpy as np


def class_rows(num_classes, n):
    """Labels for an ``n``-sample grid of a conditional model with one row per class:
    ``ceil(n / num_classes)`` samples of class 0, then of class 1, ... (truncated to n)."""
    cols = int(np.ceil(n / num_classes))
    return np.repeat(np.arange(num_classes), cols)[:n].astype("int32")


def sample_images(model, n, seed):
    """``n`` samples from fixed latents, with ``(images, rows)`` ready for :func:`save_grid`:
    conditional models get one row per class, text models one row per default caption
    (one per class), others a square-ish grid."""
    captions = getattr(model, "default_captions", ())
    if captions:
        texts = [captions[i] for i in class_rows(len(captions), n)]
        return model.generate(n, text=texts, seed=seed), len(captions)
    if model.num_classes:
        labels = class_rows(model.num_classes, n)
        return model.generate(n, labels=labels, seed=seed), model.num_classes
    return model.generate(n, seed=seed), None


def image_grid(images, rows=None):
    """Tiles ``(N, H, W, C)`` images in [-1, 1] into one uint8 array.

    ``rows`` defaults to a square-ish layout. One pixel of grey separates the cells (and
    fills the cells left over), so the result is ``(rows*(H+1)+1, cols*(W+1)+1, C)``.
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


def sample_picture(samples, rows=None):
    """One uint8 picture of a batch of samples of any modality: a grid of images
    ``(N, H, W, C)`` in [-1, 1], isometric views of voxel grids ``(N, D, D, D, 1)``
    (:func:`kgan.modalities.voxels.voxel_grid_picture`), or per clip of audio ``(N, L, 1)`` its
    waveform above its spectrogram (:func:`kgan.modalities.audio.audio_figure`)."""
    if np.ndim(samples) == 5:
        from kgan.modalities.voxels import voxel_grid_picture

        return voxel_grid_picture(samples, rows)
    if np.ndim(samples) == 3:
        from kgan.modalities.audio import audio_figure

        return audio_figure(samples, rows)
    return image_grid(samples, rows)


def save_grid(path, images, rows=None, scale=2):
    """Writes :func:`sample_picture` as a PNG and returns its path; image grids are upscaled
    ``scale`` times (nearest). So training callbacks and the zoo's sample grids work for
    every modality."""
    from PIL import Image

    grid = sample_picture(images, rows)
    if grid.shape[-1] == 1:
        grid = grid[..., 0]
    picture = Image.fromarray(grid)
    if scale > 1 and np.ndim(images) == 4:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path


def save_captioned_grid(path, images, captions, cols=8, scale=3, width=None):
    """Writes a PNG of images in [-1, 1] with each one's caption printed under it.

    Cells are ``scale`` times the image size; captions are wrapped to the cell width (at
    least ``width`` pixels, default 3 x 28 = 84) in PIL's default font. Returns the path.
    """
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    images = np.asarray(images, "float32")
    if images.ndim != 4 or len(images) != len(captions):
        raise ValueError(f"save_captioned_grid takes (N, H, W, C) images and N captions; "
                         f"received {images.shape} and {len(captions)} captions.")
    n, h, w, c = images.shape
    cell_w = max(w * scale, width or 84)
    font = ImageFont.load_default()
    chars = max(8, cell_w // 6)
    wrapped = [textwrap.wrap(str(t), chars)[:4] or [""] for t in captions]
    text_h = 11 * max(len(lines) for lines in wrapped) + 4
    cols = min(cols, n)
    rows = int(np.ceil(n / cols))
    canvas = Image.new("RGB", (cols * (cell_w + 4) + 4, rows * (h * scale + text_h + 4) + 4),
                       "white")
    draw = ImageDraw.Draw(canvas)
    pixels = np.clip((images + 1.0) * 127.5, 0, 255).round().astype("uint8")
    for i in range(n):
        r, k = divmod(i, cols)
        x0, y0 = 4 + k * (cell_w + 4), 4 + r * (h * scale + text_h + 4)
        tile = Image.fromarray(pixels[i, ..., 0] if c == 1 else pixels[i]).convert("RGB")
        tile = tile.resize((w * scale, h * scale), Image.NEAREST)
        canvas.paste(tile, (x0 + (cell_w - w * scale) // 2, y0))
        for j, line in enumerate(wrapped[i]):
            draw.text((x0, y0 + h * scale + 2 + 11 * j), line, fill="black", font=font)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path
