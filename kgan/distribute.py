"""Choosing a ``tf.distribute`` strategy, and splitting the CPU into logical devices.

kgan's ``train_step`` is written for any strategy (see ``kgan.gan``); users only build the
model inside ``strategy.scope()``. ``split_cpu`` lets tests and laptops check multi-replica
behaviour without GPUs.
"""

import functools

import tensorflow as tf

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
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices)
