"""``from_folder``: users' own pictures from a folder, as batches of float32 images in [-1, 1]."""

from pathlib import Path

from kgan.data.batches import to_signed_unit
from kgan.data.loading import require_tensorflow


#: Image files ``from_folder`` reads (what ``keras.utils.image_dataset_from_directory`` decodes).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def from_folder(path, image_size, channels=3, batch_size=128, shuffle=True, seed=None):
    """Users' own images from a folder (searched recursively), resized to ``image_size``.

    Args:
        path: folder of PNG / JPEG / BMP / GIF files (sub-folders included).
        image_size: ``(height, width)``, or one int for square images.
        channels: 1 (grayscale), 3 (RGB) or 4 (RGBA); images are converted to it.
        batch_size, shuffle, seed: as in :func:`from_numpy` (partial batches dropped).

    Returns:
        A ``tf.data.Dataset`` of float32 ``(batch, H, W, channels)`` batches in [-1, 1].
    """
    require_tensorflow("kgan.data.from_folder")
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"Image folder {path} does not exist.")
    if channels not in (1, 3, 4):
        raise ValueError(f"channels must be 1, 3 or 4; received {channels!r}.")
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(f"image_size must be a positive int or (height, width); received "
                         f"{image_size!r}.")
    count = sum(1 for f in path.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    if count < batch_size:
        raise ValueError(f"{path} holds {count} images ({', '.join(IMAGE_SUFFIXES)}), fewer "
                         f"than one batch of {batch_size}: add images or lower batch_size.")
    import keras
    import tensorflow as tf

    color_mode = {1: "grayscale", 3: "rgb", 4: "rgba"}[channels]
    ds = keras.utils.image_dataset_from_directory(
        path, labels=None, color_mode=color_mode, batch_size=batch_size,
        image_size=size, shuffle=shuffle, seed=seed, verbose=False,
    )
    ds = ds.unbatch().batch(batch_size, drop_remainder=True)
    return ds.map(to_signed_unit, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
