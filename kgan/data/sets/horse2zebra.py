"""``horse2zebra``: the unpaired set of CycleGAN (Zhu et al. 2017), horses (A) and zebras (B).

256x256 ImageNet photos in ``trainA/ trainB/ testA/ testB/`` (``n02381460_*.jpg`` horses,
``n02391049_*.jpg`` zebras), read in byte order of their names; see
``../shared/data/horse2zebra/SOURCE.md``. The local copy holds every second training image
(534 horses, 667 zebras) and the full test split (120, 140); the full set (1,067 / 1,334
train) loads the same way. Five zebra files are grey and are converted to RGB.

Domain ``"A"`` is the horses (label 0), ``"B"`` the zebras (label 1):

* ``kgan.data.load("horse2zebra", split, domain="A")``: batches of one domain, float32
  ``(batch, 256, 256, 3)`` in [-1, 1] (``(images, labels)`` with ``labels=True``), e.g. to
  train the horse-or-zebra classifier that judges translations;
* ``kgan.data.load("horse2zebra", split)``: what ``CycleGAN.fit`` takes, as
  ``sneaker2boot`` gives it: unpaired ``(a_batch, b_batch)`` from two pipelines shuffled
  independently (seeds ``seed`` and ``seed + 1``). The domains differ in size, so, as in the
  CycleGAN authors' code (an epoch is ``max(len(A), len(B))`` images), the smaller domain is
  repeated and an epoch ends with the larger one: 41 steps of batch 16 on the local train
  split.

The train split gets CycleGAN's jitter (resize to 286x286, random 256x256 crop, random
horizontal flip), per image and independently in each domain; test is served as it is.
Local copy first (``data_dir``, ``$KGAN_DATA_DIR``, ``../shared/data``), decoded once and
cached under ``$KGAN_HOME/data`` (``kgan.data.photos``); users with a network and no
local copy get ``tensorflow_datasets``' ``cycle_gan/horse2zebra`` (the full set).
"""

import numpy as np

from kgan.data import photos

NAME = "horse2zebra"
SPLITS = ("train", "test")
DOMAINS = ("A", "B")
DOMAIN_NAMES = {"A": "horse", "B": "zebra"}
#: Class of each domain in ``labels``.
DOMAIN_LABELS = {"A": 0, "B": 1}
IMAGE_SHAPE = (256, 256, 3)
TFDS_NAME = "cycle_gan/horse2zebra"


def check_domain(domain):
    """``"A"`` or ``"B"`` (lower case accepted), else a ValueError."""
    if isinstance(domain, str) and domain.upper() in DOMAINS:
        return domain.upper()
    raise ValueError(f"Unknown domain {domain!r} for {NAME}; expected 'A' (horses) or 'B' "
                     "(zebras), or leave it out for unpaired (a, b) batches.")


def domain_files(folder, split, domain):
    """The JPEG files of ``<folder>/<split><domain>/`` in byte order of their names."""
    where = folder / f"{split}{domain}"
    files = sorted(where.glob("*.jpg"), key=lambda p: p.name.encode()) if where.is_dir() else []
    if not files:
        raise FileNotFoundError(f"{where} holds no .jpg files; expected the {split} "
                                f"{DOMAIN_NAMES[domain]} photos of horse2zebra (see SOURCE.md).")
    return files


def _decode(files):
    return {"images": np.stack([photos.read_image(f, (256, 256)) for f in files])}


def domain_images(split="train", domain="A", data_dir=None):
    """uint8 ``(N, 256, 256, 3)`` photos of one domain and split; TensorFlow-free unless the
    tensorflow_datasets fallback is needed."""
    photos.check_choice("split", split, SPLITS, NAME)
    domain = check_domain(domain)
    folder = photos.find_folder(NAME, data_dir)
    if folder is None:
        return _tfds_images(split, domain, data_dir)
    files = domain_files(folder, split, domain)
    return photos.cached(f"{NAME}_{split}{domain}", folder, files, _decode)["images"]


def _tfds_images(split, domain, data_dir):
    from kgan.data.remote import load_tfds_arrays
    from kgan.data.idx import default_roots

    try:
        images, _ = load_tfds_arrays(TFDS_NAME, f"{split}{domain}", default_roots())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"No local copy of horse2zebra (looked in {photos.searched(NAME, data_dir)}) and "
            f"no network for tensorflow_datasets' {TFDS_NAME}. Put the trainA/ trainB/ "
            "testA/ testB/ folders in <dir>/horse2zebra/ and set KGAN_DATA_DIR=<dir> (or "
            "pass data_dir=).") from None
    return images


def load_arrays(split="train", data_dir=None, domain=None):
    """TensorFlow-free uint8 arrays.

    * ``domain=None``: ``((horses, zebras) (N_a, 256, 256, 3) and (N_b, ...), labels int32
      (N_a,))``, the two-domain layout of ``kgan.data.sets`` (rows unrelated; ``labels`` is
      B's label, 1, for every row of A: the class ``a2b`` outputs should have);
    * ``domain="A"`` or ``"B"``: ``(images (N, 256, 256, 3), labels int32 (N,))``, labels 0
      for horses and 1 for zebras.
    """
    if domain is None:
        a, b = (domain_images(split, d, data_dir) for d in DOMAINS)
        return (a, b), np.full(len(a), DOMAIN_LABELS["B"], "int32")
    domain = check_domain(domain)
    images = domain_images(split, domain, data_dir)
    return images, np.full(len(images), DOMAIN_LABELS[domain], "int32")


def load(split="train", batch_size=1, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False, domain=None, augment=None):
    """The ``tf.data`` pipeline of ``kgan.data.load("horse2zebra", ...)``.

    Args:
        split: ``"train"`` or ``"test"``.
        domain: ``"A"`` / ``"B"``: batches of one domain; None: unpaired ``(a_batch,
            b_batch)`` for ``CycleGAN.fit`` (see the module doc for the epoch length).
        labels: with a domain, yield ``(images, labels)``; without one it must be False.
        augment: CycleGAN's jitter; default: on for ``"train"`` only.
        batch_size, data_dir, shuffle, seed, repeat: as ``kgan.data.load``.
    """
    augment = split == "train" if augment is None else augment
    if domain is not None:
        images, classes = load_arrays(split, data_dir, domain)
        return photos.pipeline((images,), batch_size, shuffle, seed, repeat, augment,
                                extra=(classes,) if labels else ())
    if labels:
        raise ValueError(
            "horse2zebra batches without a domain are unpaired (a_batch, b_batch) images "
            "without class labels (the domain is the label); pass domain='A' or 'B' for "
            "labelled batches of one domain, or labels=False.")
    import tensorflow as tf

    (a, b), _ = load_arrays(split, data_dir)
    longer = int(np.argmax([len(a), len(b)]))
    pipelines = [
        photos.pipeline((x,), batch_size, shuffle,
                         None if seed is None else seed + offset,
                         repeat or offset != longer, augment)
        for offset, x in enumerate((a, b))
    ]
    return tf.data.Dataset.zip(tuple(pipelines))
