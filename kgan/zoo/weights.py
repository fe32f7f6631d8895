"""Finding, downloading and verifying zoo weight files.

Weights live in the repository's ``zoo/<name>/`` folder; an entry may also name a URL, which
is downloaded once into ``$KGAN_HOME`` (default ``~/.keras/kgan``). Every file is checked
against the sha256 in the entry's config before Keras reads it, so a truncated or tampered
file is refused with an error naming it, and nothing is ever unpickled. Users' own weight
files get the checks that need no hash: an HDF5 signature, the model's structure and shapes,
finite values; a load that fails leaves the model as it was.

Everything written here goes to a temporary file in the same folder, flushed to disk, then
``os.replace``-d over the target, so a process killed mid-write keeps the previous file.
"""

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
import warnings
from pathlib import Path

import numpy as np

#: The first bytes of every HDF5 file (``.weights.h5``).
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def zoo_dir():
    """``$KGAN_ZOO_DIR`` or the ``zoo/`` folder of the kgan checkout."""
    return Path(os.environ.get("KGAN_ZOO_DIR", Path(__file__).resolve().parents[2] / "zoo"))


def read_card(name):
    """``zoo/<name>/card.json`` as a dict (empty when the entry is not published yet)."""
    path = zoo_dir() / name / "card.json"
    return json.loads(path.read_text()) if path.exists() else {}


def cache_dir():
    return Path(os.environ.get("KGAN_HOME", Path.home() / ".keras" / "kgan"))


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path, expected):
    """Raises a ``ValueError`` naming the file when its sha256 is not ``expected``."""
    actual = sha256_of(path)
    if actual != expected:
        raise ValueError(
            f"Weight file {path} is corrupt or was modified: sha256 {actual}, expected "
            f"{expected}. Delete it and load again to re-fetch it, or restore it from git."
        )


def resolve(cfg):
    """Local path of an entry's verified weight file, downloading it when needed."""
    local = cfg.entry_dir / cfg.weights
    if local.exists():
        verify(local, cfg.sha256)
        return local
    cached = cache_dir() / cfg.name / cfg.weights
    if cached.exists():
        verify(cached, cfg.sha256)
        return cached
    if not cfg.url:
        raise FileNotFoundError(
            f"Weights of zoo entry {cfg.name!r} not found at {local} and the entry has no "
            "download URL. Set KGAN_ZOO_DIR to a folder holding <name>/<weights file>."
        )
    download(cfg.url, cached, cfg.sha256)
    return cached


def download(url, dest, sha256):
    """Downloads ``url`` to ``dest`` via a temp file, renaming only once the hash matches."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as src:
            shutil.copyfileobj(src, out)
        verify(tmp, sha256)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return dest


def save_atomically(model, path, dtype="float32"):
    """``model.save_weights`` via a temp file in the same folder, then an atomic rename, so
    a run killed mid-save keeps the previous file. Non-finite weights are refused.

    ``dtype="float16"`` stores the float32 arrays at half the size (:func:`store_as`)."""
    path = Path(path)
    check_finite(model.weights, f"{model.name}'s weights", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name.replace(".weights.h5", ".tmp.weights.h5"))
    try:
        model.save_weights(str(tmp))
        if dtype != "float32":
            store_as(tmp, dtype)
        fsync(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def store_as(path, dtype):
    """Rewrites a ``.weights.h5`` file with its float32 arrays stored as ``dtype``.

    Keras casts each stored array to its variable's dtype on load, so a float16 file loads
    into the same float32 model at half the size: what keeps a 57 M-parameter entry
    (pix2pix_facades) small enough for the repository. Weights round to float16's 11
    significant bits (relative error below 5e-4); values outside its range are refused.
    Large constant arrays (a CycleGAN's empty history pools: 79 MB of zeros at 256x256) are
    stored gzip-compressed, which h5py undoes on load. HDF5 does not give back the space of
    deleted arrays, so the file is copied, not edited.
    """
    import h5py

    path = Path(path)
    copy = path.with_name(path.name + ".part")

    def convert(source, target):
        target.attrs.update(source.attrs)
        for key, item in source.items():
            if isinstance(item, h5py.Group):
                convert(item, target.create_group(key))
                continue
            data = item[()]
            if data.dtype == np.float32:
                if np.abs(data).max(initial=0.0) > np.finfo(dtype).max:
                    raise ValueError(f"{path}: {item.name} holds values beyond {dtype}'s "
                                     f"range; publish this entry with float32 weights.")
                data = data.astype(dtype)
            # A compressed array carries a few KB of chunk index: only large ones gain.
            constant = data.size >= 2**15 and np.all(data == data.flat[0])
            target.create_dataset(key, data=data, compression="gzip" if constant else None
                                  ).attrs.update(item.attrs)

    try:
        with h5py.File(path, "r") as source, h5py.File(copy, "w") as target:
            convert(source, target)
        os.replace(copy, path)
    finally:
        if copy.exists():
            copy.unlink()


def write_text_atomically(path, text):
    """Writes ``text`` to ``path`` via a flushed temp file and ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def save_npz_atomically(path, compressed=False, **arrays):
    """``np.savez[_compressed](path, **arrays)`` via a temp file in the same folder and
    ``os.replace``: parallel readers of a cache never see half a file."""
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.part")
    try:
        with os.fdopen(fd, "wb") as f:
            (np.savez_compressed if compressed else np.savez)(f, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_finite(variables, what, path):
    """Raises a ``ValueError`` when any variable holds NaN or Inf (nothing is written)."""
    bad = nonfinite(variables)
    if bad:
        raise ValueError(
            f"Refusing to write {path}: {what} hold NaN or Inf values ({', '.join(bad[:3])}"
            f"{' ...' if len(bad) > 3 else ''}). Training diverged; keep the last good file "
            "and restart from it with a lower learning rate."
        )


def nonfinite(variables):
    """Paths of the floating-point variables holding NaN or Inf."""
    return [v.path for v in variables
            if np.issubdtype(np.dtype(v.dtype), np.floating)
            and not np.all(np.isfinite(_to_numpy(v)))]


def _to_numpy(variable):
    return np.asarray(variable.numpy())


class EntryFiles:
    """Mixin for zoo configs with a ``name``: their folder and published card."""

    @property
    def entry_dir(self):
        return zoo_dir() / self.name

    @property
    def card(self):
        """The entry's ``card.json`` as a dict (empty when not published yet)."""
        return read_card(self.name)


def load_into(model, path):
    """Loads a ``.weights.h5`` file into ``model``, all or nothing.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not an HDF5 file (e.g. truncated or another format), a structure or
            shapes that do not match ``model``, or NaN / Inf values. The model keeps the
            weights it had.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No weight file at {path}.")
    with open(path, "rb") as f:
        if f.read(len(_HDF5_SIGNATURE)) != _HDF5_SIGNATURE:
            raise ValueError(
                f"{path} is not a Keras .weights.h5 file (no HDF5 signature); it is another "
                "format or was overwritten. Pass a file written by model.save_weights()."
            )
    variables = state_variables(model)
    before = [_to_numpy(v) for v in variables]
    try:
        with warnings.catch_warnings():
            # Published files hold G and D only; the recipe's optimizers start fresh.
            warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
            model.load_weights(str(path))
    except (ValueError, OSError, KeyError) as err:
        _assign(variables, before)
        raise ValueError(
            f"Could not load weights from {path} into {model.name}: "
            f"{str(err).splitlines()[0]} The file is truncated or corrupt, or does not match "
            "this architecture (were builder overrides passed?)."
        ) from err
    if nonfinite(model.weights):
        _assign(variables, before)
        raise ValueError(f"{path} holds NaN or Inf weights: it is corrupt or was saved from a "
                         "diverged run. Use an earlier file.")


def _assign(variables, values):
    for v, value in zip(variables, values):
        v.assign(value)


def state_variables(model):
    """The model's state and its optimizers' (GANs have two), without duplicates."""
    found, seen = [], set()
    optimizers = [getattr(model, n, None) for n in ("optimizer", "d_optimizer", "g_optimizer")]
    for v in [*model.variables, *(v for o in optimizers if o is not None for v in o.variables)]:
        if id(v) not in seen:
            seen.add(id(v))
            found.append(v)
    return found
