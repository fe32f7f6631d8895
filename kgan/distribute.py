"""Choosing a ``tf.distribute`` strategy, and splitting the CPU into logical devices.

kgan's ``train_step`` is written for any strategy (see ``kgan.gan``); users only build the
model inside ``strategy.scope()``. ``split_cpu`` lets tests and laptops check multi-replica
behaviour without GPUs.
"""

import contextlib
import functools

try:
    import tensorflow as tf
except ImportError:  # JAX-only machines: only the one-device strategy below
    tf = None

STRATEGIES = ("default", "mirrored", "multi_worker", "auto")


def split_cpu(num_devices=2):
    """Splits the first CPU into ``num_devices`` logical devices; call before TF runs ops."""
    cpus = tf.config.list_physical_devices("CPU")
    logical = tf.config.get_logical_device_configuration(cpus[0])
    if logical and len(logical) == num_devices:
        return
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)])


@functools.lru_cache(maxsize=None)
def get_strategy(name="auto"):
    """Returns a strategy by name, the same object on every call.

    Reusing one object matters: several MirroredStrategy objects over the same devices in
    one process allocate the same collective keys, and their all-reduces can collide.

    Args:
        name: ``"default"`` (one device), ``"mirrored"`` (all local GPUs, else all logical
            CPUs), ``"multi_worker"`` (``MultiWorkerMirroredStrategy`` configured from
            ``TF_CONFIG``), or ``"auto"``: mirrored when several GPUs are visible.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}.")
    import keras

    if keras.backend.backend() != "tensorflow":
        if name in ("default", "auto"):
            return OneDevice()
        raise ValueError(
            f"strategy={name!r} is a tf.distribute strategy, for the TensorFlow backend; on "
            f"the {keras.backend.backend()} backend use 'default' (one device), or set "
            "keras.distribution.set_distribution(keras.distribution.DataParallel()).")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices)


class OneDevice:
    """The strategy of the non-TensorFlow backends: ``scope()`` does nothing and one replica
    sees each batch (Keras' own ``keras.distribution`` spreads batches on JAX)."""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()
