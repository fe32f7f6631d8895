"""``facades``: the paired set of pix2pix (Isola et al. 2017), label maps -> facade photos.

The CMP Facade Database (Tyleček & Šára 2013) as the pix2pix authors' ``facades.tar.gz``
unpacks: 400 train, 100 val and 106 test pairs, each a 512x256 JPEG ``<split>/<i>.jpg``
(i = 1..N) holding the **photo on the left** (x 0-255) and its colour-coded **label map on
the right** (x 256-511); see ``../shared/data/facades/SOURCE.md``.

pix2pix translates label map -> photo (``--direction BtoA`` in the authors' code), so a
batch is ``(source, target) = (label maps, photos)``, both float32 ``(N, 256, 256, 3)`` in
[-1, 1], as in ``edges2fashion``. The train split gets pix2pix's random jitter (resize to
286x286, random 256x256 crop, random horizontal flip; the same crop and flip for both
images of a pair); val and test are served as they are.

Local copy first (``data_dir``, ``$KGAN_DATA_DIR``, ``../shared/data``), decoded once and
cached under ``$KGAN_HOME/data`` (``kgan.data.photos``); users with a network and no
local copy get the authors' archive.

Example:
    >>> ds = kgan.data.load("facades", "train", batch_size=1, seed=0)
    >>> label_map, photo = next(iter(ds))     # float32 (1, 256, 256, 3) each, in [-1, 1]
"""

import numpy as np

from kgan.data import photos

NAME = "facades"
#: ``kgan.evaluation.translation.paired_scores`` adds the nearest-training-photo baseline.
NEAREST_BASELINE = True
SPLITS = ("train", "val", "test")
#: Pairs per split in the published set.
SIZES = {"train": 400, "val": 100, "test": 106}
IMAGE_SHAPE = (256, 256, 3)
#: Where users with a network and no local copy get the set (the pix2pix authors' archive).
URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"


def split_files(folder, split):
    """``<folder>/<split>/1.jpg ... N.jpg`` in number order; a gap raises an error naming
    the first missing file."""
    where = folder / split
    numbers = sorted(int(p.stem) for p in where.glob("*.jpg") if p.stem.isdigit()) \
        if where.is_dir() else []
    if not numbers:
        raise FileNotFoundError(f"{where} holds no <number>.jpg files; expected the "
                                f"{SIZES[split]} {split} pairs of facades (see SOURCE.md).")
    missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
    if missing:
        raise FileNotFoundError(f"{where / f'{missing[0]}.jpg'} is missing ({len(missing)} of "
                                f"1..{numbers[-1]}.jpg missing in {where}).")
    return [where / f"{i}.jpg" for i in numbers]


def decode_pairs(files):
    """``{"label_maps", "photos"}`` uint8 ``(N, 256, 256, 3)`` from side-by-side JPEGs."""
    pairs = np.stack([photos.read_image(f, (512, 256)) for f in files])
    return {"label_maps": pairs[:, :, 256:], "photos": pairs[:, :, :256]}


def _folder(data_dir):
    folder = photos.find_folder(NAME, data_dir)
    if folder is None:
        folder = _download(data_dir)
    return folder


def _download(data_dir):
    """The authors' archive, for users without a local copy; fails fast offline."""
    from kgan.data.remote import network_reachable
    from kgan.zoo.weights import cache_dir

    host = URL.split("/")[2]
    if not network_reachable(host, 80):
        raise FileNotFoundError(
            f"No local copy of facades (looked in {photos.searched(NAME, data_dir)}) and no "
            f"network to fetch {URL}. Unpack that archive into <dir>/ (giving <dir>/facades/"
            "train ...) and set KGAN_DATA_DIR=<dir> (or pass data_dir=).")
    import tarfile

    import keras

    root = cache_dir() / "data" / "downloads"
    archive = keras.utils.get_file("facades.tar.gz", URL, cache_dir=str(root.parent),
                                   cache_subdir=root.name)
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return root / NAME


def load_arrays(split="train", data_dir=None):
    """``((label_maps, photos) uint8 (N, 256, 256, 3) each, numbers int32 (N,))``:
    pix2pix's (source, target) pairs and each pair's file number; TensorFlow-free."""
    photos.check_choice("split", split, SPLITS, NAME)
    folder = _folder(data_dir)
    files = split_files(folder, split)
    arrays = photos.cached(f"{NAME}_{split}", folder, files, decode_pairs)
    numbers = np.array([int(f.stem) for f in files], "int32")
    return (arrays["label_maps"], arrays["photos"]), numbers


def load(split="train", batch_size=1, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False, augment=None):
    """Batches of ``(label maps, photos)`` float32 ``(batch, 256, 256, 3)`` in [-1, 1].

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        labels: must be False (facades has no classes).
        augment: pix2pix's jitter; default: on for ``"train"`` only.
        batch_size, data_dir, shuffle, seed, repeat: as ``kgan.data.load``.
    """
    if labels:
        raise ValueError("facades pairs carry no class labels; load it with labels=False.")
    (label_maps, pictures), _ = load_arrays(split, data_dir)
    augment = split == "train" if augment is None else augment
    return photos.pipeline((label_maps, pictures), batch_size, shuffle, seed, repeat, augment)
