"""TFLite (LiteRT) files for phones: float32, float16 or full-integer int8.

``export_tflite`` converts the ``serving_default`` signature with
``tf.lite.TFLiteConverter``: ``quantize="none"`` (float32), ``"float16"`` (weights in
float16, half the size) or ``"int8"`` (full integer: every op runs in int8, calibrated on
``representative_data``, e.g. ``kgan.export.calibration_inputs``, latents drawn like the
model's own). The generator is first given layers the converter can lower
(:mod:`kgan.export.tflite_layers`). The truncated signature is not converted
(``serving_default``, psi = 1, is). int8 files keep float32 inputs/outputs (quantized at the
edges) unless ``uint8_io``, which makes the latent input and image output uint8 for
integer-only accelerators; the image range is pinned to tanh's [-1, 1], so a uint8 output
``q`` is the image ``(q - 128) / 127.5`` and within one level of the pixel value. A
conversion that would leave a float op behind fails instead of shipping a float model
labelled int8, unless the op belongs to a declared per-op float fallback
(``float_upsampling``, :mod:`kgan.export.float_fallback`). The seed signature is not
converted: TFLite has no stateless Philox op, so mobile apps pass latents. Text-to-image
models declare TFLite unsupported (``export_unsupported``).

Image-to-image models write one file per direction (``direction=``,
``<name>_<direction>_<type>.tflite`` for the non-default ones); int8 files are calibrated on
source images of the entry's data set, or a user's folder of pictures. With ``uint8_io``
every filter format (float32, float16, int8) takes and returns uint8 pixels, which
``tools/apply_filter.py`` runs on a PNG or JPEG photo.
"""

import os
import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kgan.export.float_fallback import unmarked_float_tensors, upsampling_layers
from kgan.export.graph import (SERVING_SIGNATURE, exported_images, exported_network,
                               from_uint8, input_specs, padded_images, to_uint8)
from kgan.export.inputs import (check_filter_size, check_inputs, check_model, check_name,
                                int8_settings, refuse_existing)
from kgan.export.int8_ranges import calibrate_and_quantize
from kgan.export.tflite_layers import tflite_friendly
from kgan.translation import DYNAMIC, TranslationGAN, size_multiple

QUANTIZATIONS = ("none", "float16", "int8")


def export_tflite(model, out_dir, quantize="none", representative_data=None, uint8_io=False,
                  overwrite=False, name=None, direction=None, size=None,
                  percentile=None, float_upsampling=None):
    """Converts the generator to ``out_dir/<name>_<quantize>[_uint8].tflite``.

    Image-to-image models export one filter per file: ``source`` -> ``image``, the default
    direction as ``<name>_<quantize>...``, any other as ``<name>_<direction>_<quantize>...``,
    and a filter built for another input size as ``<name>[_<direction>]_<H>x<W>_...``.
    Their ``uint8_io`` files take and return uint8 pixels (RGB or grey) in every format:
    float32 / float16 files convert in the graph (pixel p <-> p / 127.5 - 1; the tensors
    carry no quantization parameters), int8 files quantize at the edges with the file's
    own ``(scale, zero_point)``, for images about ``(2/255, 127)`` in and ``(2/255, 128)``
    out, so there too a pixel is within one level of its value.

    Args:
        model: a ``kgan.GAN``.
        out_dir: directory of the file.
        quantize: ``"none"`` (float32), ``"float16"`` or ``"int8"``.
        representative_data: for ``"int8"`` only, and required there: calibration inputs
            ``{"latent": (n, latent_dim)[, "label": (n,)]}`` such as
            ``calibration_inputs(model)``.
        uint8_io: uint8 latent (source image) input and image output; int8 only for
            latent models, any ``quantize`` for image-to-image models.
        direction: image-to-image models: which direction to export (None: the default).
        size: image-to-image models: ``(H, W)`` (or ``"HxW"``) of the filter's fixed input
            when not the model's own; sides must be multiples of the generator's
            downsampling (``kgan.translation.size_multiple``). ``representative_data``
            is then at that size (``calibration_inputs(..., size=size)``). ``"dynamic"``
            (float32 / float16): any height and width; the file reflect-pads each image
            to that multiple and crops the output back (interpreters size it per call).
        overwrite: replace an existing file (otherwise FileExistsError).
        name: file name stem; defaults to ``model.name``.
        percentile: int8 only, in (50, 100]: each large activation's range is the mean
            per-image ``100 - percentile`` .. ``percentile`` percentiles on
            ``representative_data`` (:mod:`kgan.export.int8_ranges`); 100 keeps TFLite's
            min/max ranges. None: as the zoo entry declares for ``direction``, else
            ``DEFAULT_PERCENTILE`` (99.99).
        float_upsampling: int8 image filters only: keep the generator's upsampling stages
            (each transposed convolution or upsampling and the norm and activation after
            it) float32, a measured per-op fallback (:mod:`kgan.export.float_fallback`);
            None: as the zoo entry declares for ``direction``, else False. The entry's
            declarations: its recipe's ``"int8_export"`` (``kgan.export.inputs``).

    Returns:
        ``Path`` of the ``.tflite`` file.

    Raises:
        FileExistsError: the file exists and ``overwrite`` is False.
        ValueError: an unknown ``quantize``, int8 without (or with malformed)
            ``representative_data``, or ``representative_data`` / ``uint8_io`` without int8.
        RuntimeError: the int8 model would keep float tensors inside, other than in the
            ``float_upsampling`` stages (not written).
    """
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}; received {quantize!r}.")
    check_model(model, f"tflite-{quantize}")
    size = check_filter_size(model, size, dynamic=True)
    if size == DYNAMIC and quantize == "int8":
        raise ValueError("int8 filters have one fixed input size (their integer kernels are "
                         "planned for it): pass size='HxW'. size='dynamic' is for float32 "
                         "and float16 files.")
    if quantize == "int8" and representative_data is None:
        raise ValueError(
            "int8 quantization needs representative_data to calibrate the value ranges, "
            "e.g. kgan.export.calibration_inputs(model).")
    translator = isinstance(model, TranslationGAN)
    if quantize != "int8" and (representative_data is not None or (uint8_io and not translator)):
        raise ValueError("representative_data and uint8_io only apply to quantize='int8'.")
    if representative_data is not None:
        representative_data = check_inputs(model, representative_data, "representative_data",
                                            direction, size)
    stem = check_name(name or model.name)
    if translator:
        direction = model.check_direction(direction)
        if direction != model.directions[0]:
            stem = f"{stem}_{direction}"
        if size is not None:
            stem = f"{stem}_{size if size == DYNAMIC else f'{size[0]}x{size[1]}'}"
    elif direction is not None:
        raise ValueError(f"direction applies to image-to-image models; {model.name} generates "
                         f"from latents (received direction={direction!r}).")
    percentile, float_upsampling = int8_settings(model, quantize, direction, percentile,
                                                 float_upsampling)
    suffix = "_uint8" if uint8_io else ""
    path = Path(out_dir) / f"{stem}_{_file_tag(quantize)}{suffix}.tflite"
    refuse_existing(path, overwrite)
    content = _convert(model, quantize, representative_data, uint8_io, direction, size,
                       percentile, float_upsampling)
    if quantize == "int8":
        _check_integer_only(content)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.part")
    staging.write_bytes(content)
    os.replace(staging, path)
    return path


def _file_tag(quantize):
    return "float32" if quantize == "none" else quantize


def _convert(model, quantize, representative_data, uint8_io, direction=None, size=None,
             percentile=100.0, float_upsampling=False):
    """SavedModel in a temp dir -> TFLiteConverter (the route Keras' own LiteRT export takes).

    Float filters with ``uint8_io`` convert pixels in the graph (``pixels``); int8 files get
    uint8 edges from the converter (``_configure``)."""
    pixels = uint8_io and quantize != "int8" and isinstance(model, TranslationGAN)

    def serve(*inputs):
        if pixels:
            inputs = (from_uint8(inputs[0]),)
        if size == DYNAMIC:
            image = padded_images(lambda x: exported_images(model, x, generator=generator),
                                  inputs[0], multiple)
        else:
            image = exported_images(model, *inputs, generator=generator)
        if quantize == "int8":  # pin the output scale to tanh's range, see the module doc
            image = tf.quantization.fake_quant_with_min_max_args(image, -1.0, 1.0)
        return {"image": to_uint8(image) if pixels else image}

    with tempfile.TemporaryDirectory() as tmp, model.inference_weights():
        network = exported_network(model, direction, size)
        multiple = size_multiple(exported_network(model, direction)) if size == DYNAMIC else 1
        generator = tflite_friendly(
            network, int8=quantize == "int8", calibration=_network_inputs(representative_data),
            float_layers=upsampling_layers(network) if float_upsampling else ())
        archive = keras.export.ExportArchive()
        archive.track(generator)
        archive.add_endpoint(SERVING_SIGNATURE, tf.function(serve),
                             input_signature=input_specs(model, direction, size, pixels))
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, [SERVING_SIGNATURE])
        _configure(converter, quantize, representative_data, uint8_io)
        with warnings.catch_warnings():  # calibration runs the deprecated tf.lite.Interpreter
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            if quantize == "int8" and (percentile < 100.0 or float_upsampling):
                edges = tf.uint8 if uint8_io else tf.float32
                return calibrate_and_quantize(converter, representative_data,
                                              SERVING_SIGNATURE, percentile, edges, edges)
            return converter.convert()


def _network_inputs(representative_data):
    """The calibration images a one-input network (an image filter) reads, else None."""
    if representative_data is None or len(representative_data) != 1:
        return None
    return next(iter(representative_data.values()))


def _configure(converter, quantize, representative_data, uint8_io):
    if quantize == "none":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
        return
    n = len(next(iter(representative_data.values())))
    converter.representative_dataset = lambda: (
        {k: v[i:i + 1] for k, v in representative_data.items()} for i in range(n))
    # Builtin int8 kernels only: an op without one fails the conversion instead of
    # silently staying float.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if uint8_io:
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8


def _check_integer_only(content):
    """Raises unless every float tensor of an int8 model is one of its inputs/outputs or
    belongs to its declared float fallback."""
    floats = unmarked_float_tensors(content)
    if floats:
        raise RuntimeError(
            f"int8 conversion left {len(floats)} float tensors inside the model (e.g. "
            f"{floats[:3]}); refusing to write a float model labelled int8.")


def make_interpreter(content, num_threads=None):
    """A LiteRT interpreter (``tf.lite.Interpreter`` when ai-edge-litert is missing), its
    tensors allocated unless an input's size is dynamic (a signature runner allocates them
    for each call's shapes)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_content=content, num_threads=num_threads)
    if all(min(d["shape_signature"][1:], default=1) > 0
           for d in interpreter.get_input_details()):
        interpreter.allocate_tensors()
    return interpreter


def run_tflite(path, inputs, num_threads=1):
    """Runs a kgan ``.tflite`` file; returns float32 images in [-1, 1].

    ``inputs`` holds float latents (and int labels), or ``source`` images of a filter,
    whatever the file's types: uint8/int8
    inputs are quantized and outputs dequantized with the file's own parameters.
    """
    return tflite_runner(path, num_threads)(inputs)


def tflite_runner(path, num_threads):
    """:func:`run_tflite` as a function of the inputs, the file loaded once."""
    runner = make_interpreter(Path(path).read_bytes(), num_threads).get_signature_runner(
        SERVING_SIGNATURE)
    inputs, output = runner.get_input_details(), runner.get_output_details()["image"]
    return lambda feed: dequantize_output(
        runner(**{k: quantize_input(np.asarray(v), inputs[k]) for k, v in feed.items()})["image"],
        output)


def quantize_input(values, detail):
    """Float values as the tensor's type: quantized with its ``(scale, zero_point)``; a
    uint8 tensor without them takes pixels (a float filter's ``uint8_io``)."""
    dtype = detail["dtype"]
    scale, zero_point = detail["quantization"]
    if dtype == np.uint8 and not scale:
        values = np.clip(np.round((values + 1.0) * 127.5), 0, 255)
    elif np.issubdtype(dtype, np.integer) and scale:
        limits = np.iinfo(dtype)
        values = np.clip(np.round(values / scale + zero_point), limits.min, limits.max)
    return values.astype(dtype)


def dequantize_output(values, detail):
    """A tensor's values as float32 images in [-1, 1] (:func:`quantize_input` undone)."""
    scale, zero_point = detail["quantization"]
    if detail["dtype"] == np.uint8 and not scale:
        return values.astype("float32") / 127.5 - 1.0
    if scale:
        values = (values.astype("float32") - zero_point) * scale
    return values.astype("float32")
