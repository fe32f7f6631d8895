"""Finding, downloading and verifying zoo weight files.

Weights live in the repository's ``zoo/<name>/`` folder; an entry may also name a URL, which
is downloaded once into ``$KGAN_HOME`` (default ``~/.keras/kgan``). Every file is checked
against the sha256 in the entry's config before Keras reads it, so a truncated or tampered
file is refused with an error naming it, and nothing is ever unpickled.
"""

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
import warnings
from pathlib import Path


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


def save_atomically(model, path):
    """``model.save_weights`` via a temp file in the same folder, then an atomic rename, so
    a run killed mid-save keeps the previous file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name.replace(".weights.h5", ".tmp.weights.h5"))
    model.save_weights(str(tmp))
    os.replace(tmp, path)
    return path


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
    """Loads a ``.weights.h5`` file into ``model``; mismatches raise a ``ValueError``."""
    try:
        with warnings.catch_warnings():
            # Published files hold G and D only; the recipe's optimizers start fresh.
            warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
            model.load_weights(str(path))
    except (ValueError, OSError, KeyError) as err:
        raise ValueError(
            f"Could not load weights from {path} into {model.name}: {err}. The file does "
            "not match this architecture (were builder overrides passed?)."
        ) from err
