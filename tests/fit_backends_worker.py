"""Runs ``model.fit`` under another Keras backend for tests/test_fit_backends.py.

    KERAS_BACKEND=jax python tests/fit_backends_worker.py smoke OUT_DIR
    KERAS_BACKEND=jax python tests/fit_backends_worker.py parity OUT_DIR CASES_JSON
    KERAS_BACKEND=jax python tests/fit_backends_worker.py no_tensorflow OUT_DIR
    KERAS_BACKEND=jax python tests/fit_backends_worker.py standard OUT_DIR
    KERAS_BACKEND=numpy python tests/fit_backends_worker.py unsupported OUT_DIR

``smoke``: ``test_dcgan`` (EMA on) trains through Keras' JAX trainer on numpy arrays and on a
``tf.data`` pipeline, with ``steps_per_execution=2``, kgan's ``BackupAndRestore`` and
``NaNGuard``; writes what the test checks to ``smoke.json``.

``parity``: for each ``[name, config]`` case i, builds NAME, compiles it with CONFIG (compile
overrides), saves its initial weights, trains ``STEPS`` steps with ``fit`` on
:func:`parity_data` with the draws of :func:`replay_draws`, and saves the trained weights
and the logs in ``OUT_DIR/i``. The TensorFlow side of the test replays the same steps from
the same file.

``no_tensorflow``: ``import tensorflow`` fails; ``test_cgan`` trains on numpy arrays with
kgan's callbacks and writes its weights and samples.

``data_parallel`` (with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``): ``STEPS``
steps of ``test_wgan_gp`` on one device and under ``keras.distribution.DataParallel`` over
two; writes both final states to ``data_parallel.npz``.

``translators``: each of :data:`TRANSLATOR_ENTRIES` trains 2 epochs of 2 steps with ``fit``
on numpy ``(source, target)`` arrays; writes its logs, steps, weights and translations of
fixed images to ``OUT_DIR/NAME*``.

``captioned``: each of :data:`TEXT_ENTRIES` trains 2 steps with ``fit`` on a ``tf.data``
pipeline of ``(images, captions, labels)`` batches (as ``kgan.data.load('fashion_captions',
labels=True)`` yields) and generates from a caption; writes its logs and steps to
``captioned.json``.

``standard``: the standard checks of tests/gan_checks.py (fit 2 steps with finite losses
and the family's metric names, generate, the ``.keras`` round trip, fit after loading) for
each of :data:`STANDARD_ENTRIES`; writes ``standard.json``, "ok" or the failure per entry.

``unsupported``: on a backend kgan does not train on, models generate and ``fit`` names the
two backends that work.

The helpers here are imported by the test (TensorFlow side) too.
"""

import contextlib
import json
import os
import sys

STEPS = int(os.environ.get("KGAN_PARITY_STEPS", 3))
BATCH = 16


#: The image-to-image families whose step runs on both backends (the ``translators`` mode).
TRANSLATOR_ENTRIES = ("test_pix2pix", "test_cyclegan", "test_srgan")

#: The text-to-image families (the ``captioned`` mode; their parity cases train on captions).
TEXT_ENTRIES = ("test_text2image", "test_stackgan")

#: Entries whose networks use Dropout: the parity runs switch it off (:func:`no_dropout`).
DROPOUT_ENTRIES = ("test_vanilla_gan", "test_pix2pix")
#: The families no other mode trains on JAX (their layers draw from the backend's RNG, so
#: there is no step-for-step parity case for them). All 16 test entries passed these checks
#: on JAX (5.8 minutes, too long for CI: the others' fit is covered by the modes above).
STANDARD_ENTRIES = ("test_stylegan", "test_wavegan")


def parity_data(model, n=STEPS * BATCH):
    """``(images, labels)`` for ``fit(images, labels)``; for image-to-image families
    (``source_shape``) ``(sources, targets)``, paired or not as the family reads them; for
    text families ``(images, captions)``, their default captions in a fixed order."""
    import numpy as np

    rng = np.random.default_rng(0)
    if hasattr(model, "source_shape"):
        sources = rng.uniform(-1, 1, size=(n, *model.source_shape())).astype("float32")
        targets = rng.uniform(-1, 1, size=(n, *model.image_shape)).astype("float32")
        return sources, targets
    images = rng.uniform(-1, 1, size=(n, *model.image_shape)).astype("float32")
    captions = getattr(model, "default_captions", ())
    if captions:
        return images, np.array([captions[(3 * i) % len(captions)] for i in range(n)], object)
    labels = (np.arange(n) % model.num_classes).astype("int32") if model.conditional else None
    return images, labels


def replay_draws(model, steps=STEPS, batch=BATCH):
    """Replaces the backend's RNG of the training step with fixed numpy tables.

    ``model._random(kind, batch, tail, stream, fold)`` (latents, interpolation coefficients,
    augmentation parameters) returns row ``step`` of a table drawn by numpy from
    ``(kind, stream, fold)``: both backends then see the same numbers.
    """
    import numpy as np
    from keras import ops

    def table_random(kind, _batch, tail, stream, fold=None):
        rng = np.random.default_rng([int(kind == "normal"), int(stream), int(fold or 0)])
        shape = (steps, batch, *tail)
        values = (rng.standard_normal(shape) if kind == "normal"
                  else rng.uniform(size=shape)).astype("float32")
        return ops.take(ops.convert_to_tensor(values), model._step_counter(), axis=0)

    model._random = table_random


@contextlib.contextmanager
def no_dropout():
    """Dropout masks come from each backend's own RNG: the parity runs switch it off."""
    import keras

    call = keras.layers.Dropout.call
    keras.layers.Dropout.call = lambda self, inputs, training=False: inputs
    try:
        yield
    finally:
        keras.layers.Dropout.call = call


def _load(name, config=None):
    import keras

    from kgan import zoo

    keras.utils.set_random_seed(0)
    model = zoo.load(name, pretrained=False)
    if config:
        model.compile_from_config({**model.get_compile_config(), **config})
    model.build_optimizers()
    return model


def state_arrays(model):
    """Every value a training step changes, by position: G, D (CycleGAN's second pair and
    image pools too), both optimizers."""
    import numpy as np

    parts = [getattr(model, name) for name in ("generator", "discriminator", "generator_ba",
                                               "discriminator_a", "pool_a", "pool_b")
             if getattr(model, name, None) is not None]
    variables = ([v for part in parts for v in part.weights]
                 + model.d_optimizer.variables + model.g_optimizer.variables)
    return [np.array(v.numpy()) for v in variables]


def smoke(out):
    import numpy as np
    import tensorflow as tf

    from kgan import callbacks
    from kgan.zoo import weights as zoo_weights

    model = _load("test_dcgan", {"ema_decay": 0.9, "steps_per_execution": 2})
    start = state_arrays(model)
    images, _ = parity_data(model, 64)
    result = {"backend": __import__("keras").backend.backend(),
              "train_step": type(model).train_step.__qualname__}
    history = model.fit(images, batch_size=16, steps_per_epoch=2, epochs=1, verbose=0)
    result["numpy_history"] = history.history
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(16, drop_remainder=True)
    backup_dir = os.path.join(out, "backup")
    history = model.fit(dataset.repeat(), steps_per_epoch=2, epochs=2, verbose=0,
                        callbacks=[callbacks.NaNGuard(),
                                   callbacks.BackupAndRestore(backup_dir, save_freq=1,
                                                              delete_checkpoint=False)])
    result["dataset_history"] = history.history
    result["iterations"] = [int(model.d_optimizer.iterations.numpy()),
                            int(model.g_optimizer.iterations.numpy())]
    end = state_arrays(model)
    d_count = len(model.generator.weights) + len(model.discriminator.weights)
    d_opt = slice(d_count, d_count + len(model.d_optimizer.variables))
    g_opt = slice(d_opt.stop, None)
    changed = [not np.array_equal(a, b) for a, b in zip(start, end)]
    result["changed"] = {"networks": sum(changed[:d_count]), "d_optimizer": sum(changed[d_opt]),
                         "g_optimizer": sum(changed[g_opt])}
    ema = model.g_optimizer._model_variables_moving_average
    result["ema_moved"] = sum(not np.allclose(e.numpy(), 0) for e in ema)
    result["ema_count"] = len(ema)
    metadata = json.load(open(os.path.join(backup_dir, "training_metadata.json")))
    restored = _load("test_dcgan", {"ema_decay": 0.9})
    zoo_weights.load_into(restored, os.path.join(backup_dir, metadata["weights"]))
    result["backup_step"] = metadata["step"]
    result["backup_max_diff"] = max(float(np.abs(a - b).max())
                                    for a, b in zip(end, state_arrays(restored)))
    z = np.random.default_rng(1).normal(size=(4, model.latent_dim)).astype("float32")
    result["generate_diff"] = float(np.abs(model.generate(z=z) - restored.generate(z=z)).max())
    with open(os.path.join(out, "smoke.json"), "w") as f:
        json.dump(result, f)


def parity(out, cases):
    for i, (name, config) in enumerate(cases):
        folder = os.path.join(out, str(i))
        os.makedirs(folder, exist_ok=True)
        with no_dropout() if name in DROPOUT_ENTRIES else contextlib.nullcontext():
            model = _load(name, config)
            model.save_weights(os.path.join(folder, "init.weights.h5"))
            replay_draws(model)
            images, labels = parity_data(model)
            history = model.fit(images, labels, batch_size=BATCH, shuffle=False, epochs=1,
                                verbose=0)
        model.save_weights(os.path.join(folder, "trained.weights.h5"))
        with open(os.path.join(folder, "history.json"), "w") as f:
            json.dump({"history": history.history,
                       "steps": int(model.g_optimizer.iterations.numpy())}, f)


def no_tensorflow(out):
    import numpy as np

    import kgan

    result = {"tensorflow_importable": True}
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        result["tensorflow_importable"] = False
    model = _load("test_cgan")
    images, labels = parity_data(model, 32)
    history = model.fit(images, labels, batch_size=16, epochs=2, verbose=0, callbacks=[
        kgan.callbacks.NaNGuard(),
        kgan.callbacks.BackupAndRestore(os.path.join(out, "backup"), save_freq=1,
                                        delete_checkpoint=False),
        kgan.callbacks.SampleGrid(os.path.join(out, "samples"), n=4)])
    model.save_weights(os.path.join(out, "trained.weights.h5"))
    z = np.random.default_rng(1).normal(size=(4, model.latent_dim)).astype("float32")
    np.savez(os.path.join(out, "generated.npz"), z=z,
             images=model.generate(z=z, labels=np.arange(4)))
    result["history"] = history.history
    result["steps"] = int(model.g_optimizer.iterations.numpy())
    with open(os.path.join(out, "no_tensorflow.json"), "w") as f:
        json.dump(result, f)


def data_parallel(out):
    import jax
    import keras
    import numpy as np

    states = {}
    for devices in (1, 2):
        if devices == 2:
            keras.distribution.set_distribution(
                keras.distribution.DataParallel(devices=jax.devices()[:2]))
        model = _load("test_wgan_gp")
        images, _ = parity_data(model)
        model.fit(images, batch_size=BATCH, shuffle=False, verbose=0)
        states[f"devices_{devices}"] = np.concatenate(
            [np.ravel(x) for x in state_arrays(model)])
    np.savez(os.path.join(out, "data_parallel.npz"), device_count=len(jax.devices()),
             **states)


def translators(out):
    import numpy as np

    result = {}
    for name in TRANSLATOR_ENTRIES:
        model = _load(name)
        sources, targets = parity_data(model, BATCH)  # 2 steps of BATCH // 2 per epoch
        history = model.fit(sources, targets, batch_size=BATCH // 2, epochs=2, verbose=0)
        model.save_weights(os.path.join(out, f"{name}.weights.h5"))
        probe = sources[:4]
        np.savez(os.path.join(out, f"{name}.npz"), source=probe,
                 **{d or "default": model.translate(probe, d) for d in model.directions})
        result[name] = {"history": history.history,
                        "steps": int(model.g_optimizer.iterations.numpy())}
    with open(os.path.join(out, "translators.json"), "w") as f:
        json.dump(result, f)


def captioned(out):
    import numpy as np
    import tensorflow as tf

    result = {}
    for name in TEXT_ENTRIES:
        model = _load(name)
        images, captions = parity_data(model, 2 * BATCH)
        labels = np.arange(len(images), dtype="int32") % 10
        dataset = tf.data.Dataset.from_tensor_slices((images, captions, labels)).batch(BATCH)
        history = model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)
        result[name] = {"history": history.history,
                        "steps": int(model.g_optimizer.iterations.numpy()),
                        "generated": list(model.generate(2, text="a light bag", seed=0).shape)}
    with open(os.path.join(out, "captioned.json"), "w") as f:
        json.dump(result, f)


def standard(out):
    import pathlib
    import traceback

    import kgan
    from gan_checks import check_fit, check_generate, check_keras_round_trip

    result = {}
    for name in STANDARD_ENTRIES:
        try:
            model = kgan.zoo.load(name, pretrained=False)
            check_fit(model)
            check_generate(model)
            folder = pathlib.Path(out, name)
            folder.mkdir()
            check_fit(check_keras_round_trip(model, folder))
            result[name] = "ok"
        except Exception:  # noqa: BLE001 - the test reports each entry's failure
            result[name] = traceback.format_exc(limit=4)
    with open(os.path.join(out, "standard.json"), "w") as f:
        json.dump(result, f)


def unsupported(out):
    import numpy as np

    import kgan

    model = kgan.zoo.load("test_dcgan", pretrained=False)
    result = {"generated": list(model.generate(2, seed=0).shape)}
    try:
        model.fit(np.zeros((4, *model.image_shape), "float32"), batch_size=2)
    except RuntimeError as err:
        result["error"] = str(err)
    with open(os.path.join(out, "unsupported.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "jax")
    mode, out = sys.argv[1], os.path.abspath(sys.argv[2])
    if mode == "no_tensorflow":
        sys.modules["tensorflow"] = None  # import tensorflow raises ImportError
        no_tensorflow(out)
    elif mode == "unsupported":
        unsupported(out)
    elif mode == "data_parallel":
        data_parallel(out)
    elif mode == "smoke":
        smoke(out)
    elif mode == "translators":
        translators(out)
    elif mode == "captioned":
        captioned(out)
    elif mode == "standard":
        standard(out)
    else:
        parity(out, json.loads(sys.argv[3]))
