"""Checks of a written export against Keras: its error, its latency and its size."""

import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kgan.export.graph import (SERVING_SIGNATURE, exported_network, is_text_model,
                               source_shape)
from kgan.export.inputs import calibration_inputs, check_inputs
from kgan.export.tflite import make_interpreter, tflite_runner
from kgan.translation import TranslationGAN
from kgan.validation import check_images


def compare(model, path, n=32, seed=0, direction=None, inputs=None):
    """Compares an export with ``model.generate`` on ``n`` fresh latents (image-to-image
    models: with ``model.translate`` on ``n`` test-split sources of ``direction``).

    Args:
        path: a ``.tflite`` file or a SavedModel version directory.
        direction: image-to-image models: the direction the file (or the SavedModel
            signature compared) translates; None: the default.
        inputs: what to compare on (default: ``calibration_inputs`` of ``n`` and ``seed``;
            for image-to-image models from the test split, at the size of the export, or
            smooth random images for a model whose data set is unknown).

    Returns:
        dict: ``max_abs_error`` and ``mean_abs_error`` (in [-1, 1] image units),
        ``psnr_db``, the PSNR of the export's images against Keras' (both mapped to [0, 1];
        ``inf`` when equal), ``ms_per_image``, the median latency of one-image calls
        (TFLite on one thread), and
        ``compared_on``: ``"latents"``, ``"test images"``, ``"random images"`` or
        ``"inputs"`` (given ones).
    """
    compared_on = "inputs" if inputs is not None else "latents"
    if isinstance(model, TranslationGAN):
        direction = model.check_direction(direction)
        signature = (SERVING_SIGNATURE if direction == model.directions[0] else direction)
        size = _exported_size(path, signature)
        size = None if size == tuple(model.source_shape(direction)[:2]) else size
        if inputs is None:
            try:
                inputs = calibration_inputs(model, n, seed, direction, split="test", size=size)
                compared_on = "test images"
            except ValueError:  # not a zoo entry: its data set is unknown
                inputs = {"source": _smooth_images(n, source_shape(model, direction, size),
                                                   seed)}
                compared_on = "random images"
        inputs = check_inputs(model, inputs, "inputs", direction, size)
        expected = translate_at(model, inputs["source"], direction, size)
    else:
        inputs = check_inputs(model, calibration_inputs(model, n, seed) if inputs is None
                               else inputs, "inputs")
        expected = (model.generate(z=inputs["latent"], text=list(inputs["text"]))
                    if is_text_model(model)
                    else model.generate(z=inputs["latent"], labels=inputs.get("label")))
        signature = SERVING_SIGNATURE
    run = _runner(path, signature)
    ones = [{k: v[i:i + 1] for k, v in inputs.items()} for i in range(len(expected))]
    # A TFLite file runs one image per call, as on a phone: resized to a batch of 32
    # photos, a 256x256 filter's interpreter took over 20 GB.
    actual = (np.concatenate([run(one) for one in ones]) if Path(path).suffix == ".tflite"
              else run(inputs))
    error = np.abs(actual - expected)
    mse = float(np.mean(np.square(error / 2.0)))  # on [0, 1] images
    times = []
    for one in ones[:16]:
        start = time.perf_counter()
        run(one)
        times.append(time.perf_counter() - start)
    return {
        "max_abs_error": float(error.max()),
        "mean_abs_error": float(error.mean()),
        "psnr_db": float("inf") if mse == 0 else 10.0 * float(np.log10(1.0 / mse)),
        "ms_per_image": 1e3 * float(np.median(times)),
        "compared_on": compared_on,
    }


def _smooth_images(n, shape, seed=0):
    """``n`` random float32 images in [-1, 1] with a photo's smoothness (noise upsampled
    4 times), for filters without a known data set."""
    coarse = np.random.default_rng(seed).uniform(
        -1, 1, (n, max(1, shape[0] // 4), max(1, shape[1] // 4), shape[2])).astype("float32")
    return np.clip(tf.image.resize(coarse, shape[:2]).numpy(), -1.0, 1.0)


def translate_at(model, images, direction=None, size=None, batch_size=64):
    """``model.translate(images, direction)`` through the filter built for ``size``
    ``(H, W)`` (what a filter exported with ``size`` computes), float32 in [-1, 1]."""
    if size is None or tuple(size) == tuple(model.source_shape(direction)[:2]):
        return model.translate(images, direction)
    direction = model.check_direction(direction)
    images = np.asarray(images, "float32")
    check_images(images, source_shape(model, direction, size))
    with model.inference_weights():
        network = exported_network(model, direction, size)
        outputs = [keras.ops.convert_to_numpy(network(images[i:i + batch_size], training=False))
                   for i in range(0, len(images), batch_size)]
    return np.clip(np.concatenate(outputs).astype("float32"), -1.0, 1.0)


def _exported_size(path, signature_name=SERVING_SIGNATURE):
    """``(H, W)`` of the ``source`` input of an exported filter (None: a dynamic-size one)."""
    path = Path(path)
    if path.suffix == ".tflite":
        runner = make_interpreter(path.read_bytes()).get_signature_runner(SERVING_SIGNATURE)
        shape = runner.get_input_details()["source"]["shape_signature"]
        if min(shape[1:3]) < 0:
            return None
    else:
        signature = tf.saved_model.load(str(path)).signatures[signature_name]
        shape = signature.structured_input_signature[1]["source"].shape
    return tuple(int(d) for d in shape[1:3])


def _runner(path, signature_name=SERVING_SIGNATURE):
    """A function running an export on an inputs dict, loaded once so timings exclude it."""
    path = Path(path)
    if path.suffix == ".tflite":
        return tflite_runner(path, num_threads=1)
    signature = tf.saved_model.load(str(path)).signatures[signature_name]
    return lambda feed: signature(**{k: tf.constant(v) for k, v in feed.items()})["image"].numpy()


def size_bytes(path):
    """Size of a file, or of everything under a directory (a SavedModel)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
