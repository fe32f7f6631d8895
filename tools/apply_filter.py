"""Runs an image-to-image TFLite filter exported by kgan on a PNG (or JPEG) file.

    python tools/apply_filter.py pix2pix_edges2fashion_int8_uint8.tflite sketch.png out.png
    python tools/apply_filter.py FILTER.tflite drawing.png out.png --invert   # black on white
    python tools/apply_filter.py FILTER.tflite photo.jpg out.png --noresize   # refuse resizing

Write the filter with ``python tools/export.py NAME --tflite [--quantize int8 --uint8_io]``
(CycleGAN's other direction: ``--direction b2a``). This script is self-contained on purpose:
it needs numpy, Pillow and a TFLite interpreter (``ai-edge-litert``, else ``tflite-runtime``,
else TensorFlow's), not kgan, so it runs as it is on a Raspberry Pi or in an app's tooling.

How the picture is prepared for the filter's input ``(1, H, W, C)``:

* **channels**: converted with Pillow to grey (``L``, ITU-R 601 luma) for C=1 or to ``RGB``
  for C=3 (grey pictures are repeated to three channels); an alpha channel is dropped;
* **size**: resized to W x H with bilinear filtering (aspect ratio not kept: crop or pad
  beforehand to keep it); ``--noresize`` makes a size mismatch an error instead;
* ``--invert``: pixels become 255 - p, e.g. for a black-on-white drawing fed to
  ``pix2pix_edges2fashion``, which was trained on white edges on black;
* **values**: pixels p in [0, 255] map to p / 127.5 - 1 in [-1, 1], then, for a uint8 / int8
  input, to integers with the file's own scale and zero point; the input type is read from
  the file, so float32, float16 and int8 filters (with or without ``--uint8_io``) all work.

The output (dequantized the same way) is written as 8-bit grey or RGB at the filter's size;
``--scale N`` enlarges it N times (nearest neighbour) for viewing.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SIGNATURE = "serving_default"


def load_interpreter(path):
    """A TFLite interpreter with tensors allocated, from the first runtime installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            import tensorflow as tf

            Interpreter = tf.lite.Interpreter
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No TFLite file at {path}.")
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    return interpreter


def filter_io(interpreter):
    """``(input_detail, output_detail)`` of a one-image-in, one-image-out filter."""
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1 or len(inputs[0]["shape"]) != 4:
        raise ValueError(
            f"Not an image filter: expected one (1, H, W, C) input and one output, found "
            f"{[tuple(d['shape']) for d in inputs]} -> {[tuple(d['shape']) for d in outputs]}. "
            "Export an image-to-image model (pix2pix, CycleGAN, SRGAN) with tools/export.py.")
    return inputs[0], outputs[0]


def read_image(path, height, width, channels, resize=True, invert=False):
    """A picture as uint8 ``(height, width, channels)``, prepared as the module doc says."""
    if channels not in (1, 3):
        raise ValueError(f"Filters with {channels} input channels are not supported; "
                         "expected 1 (grey) or 3 (RGB).")
    picture = Image.open(path)
    picture = picture.convert("L" if channels == 1 else "RGB")
    if picture.size != (width, height):
        if not resize:
            raise ValueError(
                f"{path} is {picture.width}x{picture.height} pixels but the filter takes "
                f"{width}x{height}: resize it, or drop --noresize to resize bilinearly.")
        picture = picture.resize((width, height), Image.BILINEAR)
    pixels = np.asarray(picture, dtype="uint8").reshape(height, width, channels)
    return 255 - pixels if invert else pixels


def _to_input(pixels, detail):
    values = pixels.astype("float32")[None] / 127.5 - 1.0
    dtype = detail["dtype"]
    scale, zero_point = detail["quantization"]
    if np.issubdtype(dtype, np.integer):
        limits = np.iinfo(dtype)
        values = np.clip(np.round(values / scale + zero_point), limits.min, limits.max)
    return values.astype(dtype)


def _to_pixels(values, detail):
    scale, zero_point = detail["quantization"]
    if np.issubdtype(detail["dtype"], np.integer):
        values = (values.astype("float32") - zero_point) * scale
    return np.clip(np.round((values.astype("float32") + 1.0) * 127.5), 0, 255).astype("uint8")


def apply_filter(interpreter, pixels):
    """Runs the filter on uint8 ``(H, W, C)`` pixels; returns the output as uint8 pixels."""
    source, output = filter_io(interpreter)
    expected = tuple(int(d) for d in source["shape"][1:])
    if pixels.shape != expected:
        raise ValueError(f"Pixels of shape {pixels.shape} do not fit the filter's input "
                         f"{expected}; prepare them with read_image().")
    interpreter.set_tensor(source["index"], _to_input(pixels, source))
    interpreter.invoke()
    return _to_pixels(interpreter.get_tensor(output["index"])[0], output)


def write_image(path, pixels, scale=1):
    picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("filter", help="the .tflite file")
    parser.add_argument("input", help="the picture to filter (PNG, JPEG, ...)")
    parser.add_argument("output", help="where to write the filtered PNG")
    parser.add_argument("--noresize", action="store_true",
                        help="refuse pictures of another size instead of resizing them")
    parser.add_argument("--invert", action="store_true", help="use 255 - pixel as input")
    parser.add_argument("--scale", type=int, default=1, help="enlarge the output N times")
    args = parser.parse_args(argv)
    try:
        interpreter = load_interpreter(args.filter)
        source, _ = filter_io(interpreter)
        _, height, width, channels = (int(d) for d in source["shape"])
        pixels = read_image(args.input, height, width, channels, not args.noresize,
                            args.invert)
        write_image(args.output, apply_filter(interpreter, pixels), max(1, args.scale))
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"apply_filter: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
