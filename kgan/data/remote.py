"""The network fallback of kgan's data sets: ``tensorflow_datasets`` for users who have no
local copy but a network (tests and zoo recipes always read local copies)."""

import socket


def network_reachable(host="storage.googleapis.com", port=443, timeout=3.0):
    """Whether ``host:port`` accepts a connection within ``timeout`` seconds."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_tfds_arrays(name, split, searched):
    """``(images uint8, labels int32)`` of tfds data set ``name``: prepared copies first, a
    download only when the network is reachable; else a ``FileNotFoundError`` naming the
    local folders ``searched`` and how to point kgan at a copy."""
    import tensorflow_datasets as tfds

    where = ", ".join(str(r / name) for r in searched)
    try:  # Already prepared in ~/tensorflow_datasets: no network needed.
        ds = tfds.load(name, split=split, as_supervised=True, batch_size=-1, download=False)
    except Exception:  # noqa: BLE001 - tfds raises several types for "not prepared"
        if not network_reachable():
            raise FileNotFoundError(
                f"No local copy of {name!r} (looked in {where}) and no network for "
                f"tensorflow_datasets. Put its files (IDX .gz files for MNIST-style sets) in "
                f"<dir>/{name}/ and set KGAN_DATA_DIR=<dir> (or pass data_dir=)."
            ) from None
        ds = tfds.load(name, split=split, as_supervised=True, batch_size=-1)
    images, labels = tfds.as_numpy(ds)
    return images.astype("uint8"), labels.astype("int32")
