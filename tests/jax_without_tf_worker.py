"""Runs kgan on Keras' JAX backend where ``import tensorflow`` fails, as on the lent GPU
machines (JAX, no TensorFlow), for tests/test_jax_without_tf.py.

    KERAS_BACKEND=jax python tests/jax_without_tf_worker.py OUT_DIR

Checks ``kgan.data.load``'s numpy batches (``kgan.data.ArrayBatches``), fits ``test_dcgan``
on them with kgan's callbacks and ``save_weights``, runs ``tools/train_zoo.py NAME
--nopublish`` (``kgan.training.train``: NaNGuard, BackupAndRestore, SampleGrid, CSVLogger),
its refusal to publish and ``kgan train`` (conditional ``test_cgan``: labelled batches), and
writes what the test checks to ``OUT_DIR/result.json``.
"""

import json
import os
import sys

sys.modules["tensorflow"] = None  # import tensorflow raises ImportError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _batches(ds, n):
    import numpy as np

    return [np.asarray(ds[i][0] if isinstance(ds[i], tuple) else ds[i]) for i in range(n)]


def check_data(result):
    import keras
    import numpy as np

    import kgan

    ds = kgan.data.load("mnist", batch_size=32, labels=True, seed=3)
    images, labels = ds[0]
    first_pass = _batches(ds, 2)
    second_pass = _batches(ds, 2)  # asking for batch 0 again starts a new (reshuffled) pass
    again = kgan.data.load("mnist", batch_size=32, labels=True, seed=3)
    endless = kgan.data.load("mnist", batch_size=32, seed=3, repeat=True)
    small = kgan.data.from_numpy(np.zeros((10, 4, 4), "uint8"), batch_size=4, shuffle=False)
    result["data"] = {
        "is_py_dataset": isinstance(ds, keras.utils.PyDataset),
        "num_batches": ds.num_batches, "len": len(ds),
        "images": [list(images.shape), str(images.dtype), float(images.min()),
                   float(images.max())],
        "labels": [list(labels.shape), str(labels.dtype)],
        "reshuffled": not np.array_equal(first_pass[0], second_pass[0]),
        "seeded": bool(np.array_equal(np.asarray(again[0][0]), images)),
        "endless_num_batches": endless.num_batches,
        "endless_wraps": list(np.asarray(endless[len(ds)]).shape),
        "small": [small.num_batches, float(np.asarray(small[0]).max())],
    }
    pairs = kgan.data.from_pairs(np.zeros((5, 4, 4, 1), "uint8"),
                                 np.full((5, 4, 4, 1), 255, "uint8"), labels=np.arange(5),
                                 batch_size=2, seed=0)
    source, target, classes = pairs[0]
    result["data"]["pairs"] = [pairs.num_batches, float(source.max()), float(target.min()),
                               str(source.dtype), sorted(map(int, classes)) != []]
    try:
        kgan.callbacks.SampleGrid(log_dir=".")
    except ModuleNotFoundError as err:
        result["data"]["tensorboard_error"] = str(err)
    try:
        kgan.data.load("fashion_captions")
    except ModuleNotFoundError as err:
        result["data"]["captions_error"] = str(err)


def fit_with_callbacks(out, result):
    import numpy as np

    import kgan

    model = kgan.zoo.load("test_dcgan", pretrained=False)
    history = model.fit(kgan.data.load("mnist", batch_size=16, seed=0), epochs=2,
                        steps_per_epoch=2, verbose=0, callbacks=[
                            kgan.callbacks.NaNGuard(),
                            kgan.callbacks.BackupAndRestore(os.path.join(out, "backup"),
                                                            delete_checkpoint=False),
                            kgan.callbacks.SampleGrid(os.path.join(out, "samples"), n=4)])
    model.save_weights(os.path.join(out, "fit.weights.h5"))
    result["fit"] = {"history": history.history,
                     "steps": int(np.asarray(model.g_optimizer.iterations))}


def train_zoo(out, result):
    """``tools/train_zoo.py`` in fresh interpreters (absl keeps parsed flags) without TF."""
    import subprocess

    script = os.path.join(ROOT, "tools", "train_zoo.py")
    for key, extra in (("nopublish", ["--nopublish"]), ("publish", [])):
        argv = [script, "test_dcgan", f"--out={os.path.join(out, 'run')}", "--epochs=1",
                "--steps_per_epoch=2", *extra]
        code = ("import runpy, sys; sys.modules['tensorflow'] = None; "
                f"sys.argv = {argv!r}; runpy.run_path({script!r}, run_name='__main__')")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        result[f"train_zoo_{key}"] = [proc.returncode, proc.stdout[-2000:] + proc.stderr[-2000:]]
    argv = ["kgan", "train", "test_cgan", f"--out={os.path.join(out, 'cli')}", "--epochs=1",
            "--steps_per_epoch=2", "--batch_size=16"]
    code = ("import sys; sys.modules['tensorflow'] = None; from kgan import cli; "
            f"sys.argv = {argv!r}; cli.run()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    result["kgan_train"] = [proc.returncode, proc.stdout[-2000:] + proc.stderr[-2000:]]


def main(out):
    result = {}
    try:
        import tensorflow  # noqa: F401
        result["tensorflow_importable"] = True
    except ImportError:
        result["tensorflow_importable"] = False
    check_data(result)
    fit_with_callbacks(out, result)
    train_zoo(out, result)
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f, default=str)


if __name__ == "__main__":
    main(sys.argv[1])
