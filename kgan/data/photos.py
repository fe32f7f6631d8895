"""What the photo data sets (``facades``, ``horse2zebra``) share: folders of JPEG files,
decoded once, cached, and fed with the random jitter of pix2pix and CycleGAN.

* **Finding the files**: ``<root>/<name>/`` for ``data_dir``, then ``kgan.data.idx.default_roots``
  (``$KGAN_DATA_DIR``, the ``shared/data`` folder beside the checkout).
* **Decoding once**: the JPEGs are decoded with Pillow into uint8 arrays and cached as
  ``$KGAN_HOME/data/<key>_v<VERSION>_<folder hash>.npz`` (written to a temporary file and
  renamed, so parallel readers never see half a file). The cache records a fingerprint of
  the files (names, sizes, modification times) and is rebuilt when they change. All of it
  is numpy + Pillow: no TensorFlow, so a JAX-only machine reads the same arrays.
* **Bad files**: a missing file, a file that is not a readable image and an image of the
  wrong size each raise an error naming the file.
* **Jitter** (:func:`pipeline`, TensorFlow): pix2pix's and CycleGAN's training augmentation,
  resize to 286x286 (bicubic), random 256x256 crop, random horizontal flip. The images of
  one example (a pix2pix pair) get the same crop and flip. Seeded runs are deterministic
  and still draw new crops every epoch.
"""

import hashlib
from pathlib import Path

import numpy as np

from kgan.zoo.weights import save_npz_atomically

#: Bumped when the cached arrays' content changes (e.g. another decoder).
VERSION = 1
#: pix2pix / CycleGAN jitter: resize to JITTER_SIZE, then crop back to the image size.
JITTER_SIZE = 286


def find_folder(name, data_dir=None):
    """``<root>/<name>`` of the first root holding it, or None."""
    from kgan.data.idx import default_roots

    for root in ([Path(data_dir)] if data_dir else []) + default_roots():
        if (Path(root) / name).is_dir():
            return Path(root) / name
    return None


def searched(name, data_dir=None):
    """The folders looked in, for error messages."""
    from kgan.data.idx import default_roots

    return ", ".join(str(Path(r) / name)
                     for r in ([Path(data_dir)] if data_dir else []) + default_roots())


def _fingerprint(files):
    digest = hashlib.sha256()
    for f in files:
        stat = f.stat()
        digest.update(f"{f.name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _cache_path(key, folder):
    from kgan.zoo.weights import cache_dir

    where = hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:10]
    return cache_dir() / "data" / f"{key}_v{VERSION}_{where}.npz"


def cached(key, folder, files, decode):
    """``decode(files)`` (a dict of arrays), or its cached copy when ``files`` are unchanged.

    The cache is best effort: an unreadable or unwritable cache only costs a new decode.
    """
    fingerprint = _fingerprint(files)
    path = _cache_path(key, folder)
    if path.exists():
        try:
            with np.load(path) as f:
                if str(f["fingerprint"]) == fingerprint:
                    return {k: f[k] for k in f.files if k != "fingerprint"}
        except (OSError, ValueError, KeyError, EOFError):
            pass  # unreadable cache: decode again below
    arrays = decode(files)
    try:
        save_npz_atomically(path, **arrays, fingerprint=np.array(fingerprint))
    except OSError:
        pass
    return arrays


def read_image(path, size):
    """uint8 RGB ``(height, width, 3)`` of an image file whose ``(width, height)`` must be
    ``size``; grey files are converted to RGB (horse2zebra has five)."""
    from PIL import Image

    try:
        with Image.open(path) as picture:
            picture.load()
            pixels = np.asarray(picture.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as err:
        raise ValueError(f"{path} is not a readable image ({err}); replace it with the "
                         "original file (see the folder's SOURCE.md and MD5SUMS).") from None
    if pixels.shape[1::-1] != tuple(size):
        raise ValueError(f"{path} is {pixels.shape[1]}x{pixels.shape[0]} pixels; every "
                         f"image of this data set is {size[0]}x{size[1]}.")
    return pixels


def check_choice(what, value, choices, name):
    if value not in choices:
        raise ValueError(f"Unknown {what} {value!r} for {name}; expected one of "
                         f"{', '.join(map(repr, choices))}.")


# ---------------------------------------------------------------------------- TensorFlow
def jitter(images, seed, size):
    """pix2pix / CycleGAN jitter of float images ``(H, W, C_i)`` in [-1, 1]: resize to
    ``JITTER_SIZE`` (bicubic, clipped back to [-1, 1]), crop ``size`` at a random place,
    flip left-right with probability 1/2; one crop and flip for all of ``images``."""
    import tensorflow as tf

    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    channels = [int(x.shape[-1]) for x in images]
    x = tf.concat(images, axis=-1)
    x = tf.image.resize(x, (JITTER_SIZE, JITTER_SIZE), method="bicubic")
    x = tf.image.stateless_random_crop(x, (*size, sum(channels)), seed=crop_seed)
    x = tf.image.stateless_random_flip_left_right(x, seed=flip_seed)
    x = tf.clip_by_value(x, -1.0, 1.0)
    return tuple(tf.split(x, channels, axis=-1))


def pipeline(arrays, batch_size, shuffle=True, seed=None, repeat=False, augment=False,
             extra=()):
    """``tf.data`` batches of the uint8 image ``arrays`` (a tuple, one example per row in
    each) as float32 in [-1, 1], followed by the ``extra`` arrays (labels) unchanged;
    :func:`jitter` per example when ``augment``; partial batches dropped."""
    import tensorflow as tf

    n = len(arrays[0])
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not (
            1 <= batch_size <= n):
        raise ValueError(f"batch_size must be an integer in [1, {n}]; received "
                         f"{batch_size!r}.")
    count = len(arrays)
    size = tuple(arrays[0].shape[1:3])
    ds = tf.data.Dataset.from_tensor_slices(tuple(arrays) + tuple(extra))
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def scale(*example):
        return tuple(tf.cast(x, tf.float32) / 127.5 - 1.0 for x in example[:count]) + \
            example[count:]

    if augment:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

        def augmented(example, pair_seed):
            scaled = scale(*example)
            return jitter(scaled[:count], pair_seed, size) + scaled[count:]

        ds = tf.data.Dataset.zip((ds, seeds)).map(augmented, num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.batch(batch_size, drop_remainder=True)
    else:
        ds = ds.batch(batch_size, drop_remainder=True).map(
            scale, num_parallel_calls=tf.data.AUTOTUNE)
    if count + len(extra) == 1:  # one array: batches of images, not 1-tuples
        ds = ds.map(lambda *batch: batch[0])
    return ds.prefetch(tf.data.AUTOTUNE)


def random_crops(dataset, size, seed=None):
    """``dataset`` of image batches (or tuples of them) cut to random ``size x size`` crops,
    a new place per batch and per tensor (the two domains of an unpaired batch are cropped
    independently), at the photos' own scale.

    For a fully convolutional network trained on crops to save compute (CycleGAN on 128 px
    crops of 256 px photos on CPUs) and run on whole photos afterwards.
    """
    import tensorflow as tf

    spec = dataset.element_spec
    parts = len(spec) if isinstance(spec, tuple) else 1
    height, width = (spec[0] if isinstance(spec, tuple) else spec).shape[1:3]
    if not (isinstance(size, int) and 1 <= size <= min(height, width)):
        raise ValueError(f"Crop size must be an integer in [1, {min(height, width)}] for "
                         f"{height}x{width} images; received {size!r}.")
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2 * parts)

    def crop(batch, seeds):
        images = batch if isinstance(batch, tuple) else (batch,)
        cropped = tuple(
            tf.image.stateless_random_crop(x, (tf.shape(x)[0], size, size, x.shape[-1]),
                                           seed=seeds[2 * i:2 * i + 2])
            for i, x in enumerate(images))
        return cropped if isinstance(batch, tuple) else cropped[0]

    return tf.data.Dataset.zip((dataset, seeds)).map(crop, num_parallel_calls=tf.data.AUTOTUNE)
