"""``model.fit`` across several JAX processes (hosts), simulated as processes on localhost.

tests/multihost_worker.py is started twice with ``KERAS_BACKEND=jax``, one CPU device per
process; the processes join ``jax.distributed`` (CPU collectives over gloo) through
:func:`kgan.distribute.initialize_jax_hosts` and train ``test_wgan_gp`` under
``keras.distribution.DataParallel`` over both processes' devices for 3 global batches of 16:

* ``arrays``: each process passes its half of every global batch
  (:func:`kgan.distribute.process_share`, ``auto_shard_dataset=False``);
* ``dataset``: each process passes the whole ``tf.data`` pipeline and Keras shards it.

A third, single process trains the same 3 batches on one device without a distribution.

* ``test_two_processes_match_one``: both processes hold identical weights, generator,
  discriminator and both optimizers (a replicated value is one value), and these match the
  single process's to ``atol=2e-5, rtol=1e-4``: the step computes the same global-batch
  losses, BatchNorm moments and gradients, only each reduction is split into two partial
  sums and an all-reduce, so float32 summation order differs (measured: 2.1e-6). Feeding the
  processes the wrong rows (interleaved instead of halves: the same rows of each global
  batch, in another order, so latents and gradient-penalty interpolations pair with other
  images) moves weights by up to 0.13, far outside the tolerance. The logged losses match.
* ``test_process_share``: a process's share of arrays is its part of every global batch.
* ``test_dead_process_fails_fast``: when one process dies after joining, the others are
  killed and the test fails with the dead one's output instead of waiting in
  ``jax.distributed`` (the worker exits with ``os._exit`` on an exception; see there).
"""

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "multihost_worker.py"
NUM_PROCESSES = 2
TIMEOUT = 480  # seconds for all processes of one run together (35 to 90 s on 2 busy cores)

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                reason="jax is not installed")


class WorkerError(AssertionError):
    """A worker process failed or the run timed out; the message holds their output."""


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _tail(path, n=3000):
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-n:]


def _run_processes(arg_lists, out, timeout=TIMEOUT):
    """Runs one worker per argument list, all at once; returns when all exit with 0.

    Raises :class:`WorkerError` with the failed worker's output as soon as one exits with
    another code (the others would wait for it in a collective), or with everybody's output
    after ``timeout`` seconds. Every worker still running is killed on the way out.
    """
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT),
           "JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    # One CPU device per process: conftest's compile flags stay, a device count goes.
    env["XLA_FLAGS"] = " ".join(flag for flag in env.get("XLA_FLAGS", "").split()
                                if "device_count" not in flag)
    procs, logs = [], []
    try:
        for i, args in enumerate(arg_lists):
            log = out / f"worker{i}.log"
            with open(log, "w") as f:
                procs.append(subprocess.Popen([sys.executable, str(WORKER), *map(str, args)],
                                              env=env, stdout=f, stderr=subprocess.STDOUT))
            logs.append(log)
        deadline = time.monotonic() + timeout
        while True:
            codes = [p.poll() for p in procs]
            for i, code in enumerate(codes):
                if code not in (None, 0):
                    raise WorkerError(f"worker {i} ({arg_lists[i][:2]}) exited with {code}:\n"
                                      + _tail(logs[i]))
            if all(code == 0 for code in codes):
                return
            if time.monotonic() > deadline:
                raise WorkerError(f"timed out after {timeout} s:\n" + "\n".join(
                    f"--- worker {i}:\n{_tail(log)}" for i, log in enumerate(logs)))
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    _run_processes([[0, 1, 0, tmp_path]], tmp_path)  # the one-process reference
    port = _free_port()
    started = time.monotonic()
    _run_processes([[i, NUM_PROCESSES, port, tmp_path] for i in range(NUM_PROCESSES)],
                   tmp_path)
    print(f"{NUM_PROCESSES} processes: {time.monotonic() - started:.0f} s")
    reference = np.load(tmp_path / "reference.p0.npz")
    assert int(reference["steps"]) == 3
    log_keys = sorted(k for k in reference.files if k.startswith("log_"))
    assert log_keys
    for variant in ("arrays", "dataset"):
        runs = [np.load(tmp_path / f"{variant}.p{i}.npz") for i in range(NUM_PROCESSES)]
        for run in runs:
            assert int(run["num_processes"]) == NUM_PROCESSES
            assert int(run["steps"]) == 3
        # Every process reads its own copy of the replicated variables: all the same.
        for run in runs[1:]:
            np.testing.assert_array_equal(run["state"], runs[0]["state"])
        got, want = runs[0]["state"], reference["state"]
        assert got.shape == want.shape
        print(f"{variant}: max |w_2proc - w_1proc| = {np.abs(got - want).max():.2e}")
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-4, err_msg=variant)
        assert sorted(k for k in runs[0].files if k.startswith("log_")) == log_keys
        for key in log_keys:
            np.testing.assert_allclose(runs[0][key], reference[key], rtol=1e-4, atol=1e-5,
                                       err_msg=f"{variant} {key}")


def test_dead_process_fails_fast(tmp_path):
    """Process 1 joins the run, then dies (an unknown variant); process 0 would wait for it
    in the first step's collectives (and a Python exit at jax.distributed's shutdown
    barrier, 5 minutes): it is killed and the error shows process 1's traceback."""
    port = _free_port()
    started = time.monotonic()
    with pytest.raises(WorkerError, match=r"(?s)worker 1 .* exited with 1:.*unknown variants"):
        _run_processes([[0, 2, port, tmp_path, "arrays"], [1, 2, port, tmp_path, "bogus"]],
                       tmp_path, timeout=240)
    elapsed = time.monotonic() - started
    print(f"failure reported after {elapsed:.0f} s")
    assert elapsed < 200  # well before the shutdown barrier's 300 s


def test_process_share():
    from kgan import distribute

    x = np.arange(12 * 3).reshape(12, 3)  # 2 global batches of 6, over 3 processes
    shares = [distribute.process_share(x, 6, num_processes=3, process_id=i) for i in range(3)]
    np.testing.assert_array_equal(shares[1], x[[2, 3, 8, 9]])
    # Process i's local batch k (2 rows) is rows 2i, 2i+1 of global batch k.
    np.testing.assert_array_equal(np.concatenate([s.reshape(2, 2, 3) for s in shares], 1),
                                  x.reshape(2, 6, 3))
    with pytest.raises(ValueError, match="whole global batches"):
        distribute.process_share(x[:10], 6, num_processes=3, process_id=0)
