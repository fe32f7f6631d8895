"""One process of a multi-process JAX run of ``model.fit``, for tests/test_jax_multihost.py.

    KERAS_BACKEND=jax python tests/multihost_worker.py PROCESS_ID NUM_PROCESSES PORT OUT_DIR \
        [VARIANTS]

With ``NUM_PROCESSES`` > 1, every process joins ``jax.distributed`` at ``localhost:PORT``
(process 0 is the coordinator) through :func:`kgan.distribute.initialize_jax_hosts`, which
sets ``keras.distribution.DataParallel`` over the devices of all processes (one CPU device
each here), then trains ``test_wgan_gp`` (seeded alike everywhere) for ``STEPS`` global
batches of ``BATCH`` rows of :func:`fit_backends_worker.parity_data`, for each variant:

``arrays``: numpy arrays; each process passes its share of every global batch
    (:func:`kgan.distribute.process_share`, ``batch_size=BATCH // NUM_PROCESSES``) with
    ``DataParallel(auto_shard_dataset=False)``, as Keras requires for arrays;
``dataset``: every process passes the same global ``tf.data`` pipeline (batches of
    ``BATCH``) and Keras' ``DataParallel(auto_shard_dataset=True)`` shards it.

Each process writes ``OUT_DIR/VARIANT.pPROCESS_ID.npz``: ``state`` (every G, D and optimizer
value, flattened, as ``state_arrays`` orders them), the per-epoch logs and the process
count it saw. ``NUM_PROCESSES`` = 1 is the reference: one process, one device, no
distribution, ``fit`` on the whole arrays with ``batch_size=BATCH``; it writes
``reference.p0.npz``.

A process that raises exits at once with status 1 (``os._exit``): Python's normal exit would
wait at ``jax.distributed``'s shutdown barrier for the others, stuck in the step's
collectives, for 5 minutes. Any variant name but the two above makes the process fail just
after joining (the test's failure case).
"""

import os
import sys
import traceback

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fit_backends_worker as worker  # noqa: E402

VARIANTS = ("arrays", "dataset")
ENTRY = "test_wgan_gp"


def _save(out, name, process_id, model, history, num_processes):
    import numpy as np

    state = np.concatenate([np.ravel(x) for x in worker.state_arrays(model)])
    logs = {f"log_{k}": np.asarray(v, "float32") for k, v in history.history.items()}
    np.savez(os.path.join(out, f"{name}.p{process_id}.npz"), state=state,
             num_processes=num_processes, steps=int(model.g_optimizer.iterations.numpy()),
             **logs)


def reference(out):
    model = worker._load(ENTRY)
    images, _ = worker.parity_data(model)
    history = model.fit(images, batch_size=worker.BATCH, shuffle=False, verbose=0)
    _save(out, "reference", 0, model, history, 1)


def multihost(out, process_id, num_processes, port, variants):
    import jax
    import keras

    from kgan import distribute

    distribute.initialize_jax_hosts(f"localhost:{port}", num_processes, process_id,
                                    auto_shard_dataset=False)
    assert jax.process_count() == num_processes and jax.process_index() == process_id
    assert len(jax.devices()) == num_processes * len(jax.local_devices())
    unknown = set(variants) - set(VARIANTS)
    if unknown:  # after joining: the test's failure case, a process that dies mid-run
        raise ValueError(f"unknown variants {sorted(unknown)}")
    for variant in variants:
        if variant == "dataset":
            import tensorflow as tf

            keras.distribution.set_distribution(
                keras.distribution.DataParallel(auto_shard_dataset=True))
        model = worker._load(ENTRY)  # created under the distribution: replicated variables
        images, _ = worker.parity_data(model)
        if variant == "arrays":
            local = distribute.process_share(images, worker.BATCH)
            history = model.fit(local, batch_size=worker.BATCH // num_processes,
                                shuffle=False, verbose=0)
        elif variant == "dataset":
            dataset = tf.data.Dataset.from_tensor_slices(images).batch(worker.BATCH)
            history = model.fit(dataset, verbose=0)
        _save(out, variant, process_id, model, history, jax.process_count())


def main(argv):
    pid, count, port_arg = (int(a) for a in argv[:3])
    out_dir = os.path.abspath(argv[3])
    chosen = argv[4].split(",") if len(argv) > 4 else VARIANTS
    if count == 1:
        reference(out_dir)
    else:
        multihost(out_dir, pid, count, port_arg, chosen)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except BaseException:
        # Exit now: a normal exit would wait (5 min) at jax.distributed's shutdown barrier
        # for the other processes, which wait for this one in the step's collectives.
        traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
