"""Choosing a ``tf.distribute`` strategy, and splitting the CPU into logical devices.

kgan's ``train_step`` is written for any strategy (see ``kgan.gan``); users only build the
model inside ``strategy.scope()``. ``split_cpu`` lets tests and laptops check multi-replica
behaviour without GPUs. On JAX, ``initialize_jax_hosts`` and ``process_share`` run ``fit`` over
several hosts with Keras' own ``keras.distribution.DataParallel``.
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


def initialize_jax_hosts(coordinator=None, num_processes=None, process_id=None,
                         auto_shard_dataset=True):
    """Joins this process to a multi-process JAX run and sets Keras' ``DataParallel`` over
    the devices of every process; call it on each host before building the model.

    Wraps ``keras.distribution.initialize`` (``jax.distributed.initialize``; arguments left
    out come from ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` / ``_NUM_PROCESSES`` / ``_PROCESS_ID``)
    and ``keras.distribution.set_distribution``. The step then sees the global batch, as on
    one host. With ``auto_shard_dataset=True`` (Keras' default) ``fit`` takes the *global*
    ``tf.data`` pipeline on every process and Keras gives each its share; for arrays or
    a ``PyDataset`` pass ``False`` and feed each process its share (:func:`process_share`).

    Args:
        coordinator: ``"host:port"`` of process 0 (the coordinator).
        num_processes: the number of processes (hosts).
        process_id: this process, ``0 .. num_processes - 1``.
        auto_shard_dataset: passed to ``keras.distribution.DataParallel``.

    Returns:
        The ``keras.distribution.DataParallel`` that was set.
    """
    import keras

    if keras.backend.backend() != "jax":
        raise ValueError("initialize_jax_hosts is for KERAS_BACKEND=jax; on TensorFlow use "
                         "get_strategy('multi_worker') with TF_CONFIG.")
    keras.distribution.initialize(coordinator, num_processes, process_id)
    distribution = keras.distribution.DataParallel(auto_shard_dataset=auto_shard_dataset)
    keras.distribution.set_distribution(distribution)
    return distribution


def process_share(x, global_batch_size, num_processes=None, process_id=None):
    """This process's rows of ``x`` (an array of whole global batches): the
    ``process_id``-th of ``num_processes`` equal parts of every global batch, the rows that
    Keras' ``DataParallel`` places on this process's devices. ``fit(process_share(x, B),
    batch_size=B // num_processes)`` on every process trains like ``fit(x, batch_size=B)``
    on one. ``num_processes`` / ``process_id`` default to JAX's."""
    if num_processes is None or process_id is None:
        import jax

        num_processes, process_id = jax.process_count(), jax.process_index()
    if len(x) % global_batch_size or global_batch_size % num_processes:
        raise ValueError(f"{len(x)} rows are not whole global batches of {global_batch_size}"
                         f" split evenly over {num_processes} processes.")
    local = global_batch_size // num_processes
    shares = x.reshape(len(x) // global_batch_size, num_processes, local, *x.shape[1:])
    return shares[:, process_id].reshape(-1, *x.shape[1:])
