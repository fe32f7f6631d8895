"""Runs an image-to-image TFLite filter exported by kgan on a photo (PNG or JPEG).

    python tools/apply_filter.py cyclegan_horse2zebra_int8_uint8.tflite horse.jpg zebra.png
    python tools/apply_filter.py pix2pix_facades_float16.tflite labels.png facade.jpg
    python tools/apply_filter.py srgan_photos_x4_float32.tflite small.jpg big.png --tile
    python tools/apply_filter.py pix2pix_edges2fashion_int8_uint8.tflite sketch.png out.png --invert
    python tools/apply_filter.py FILTER.tflite photo.jpg out.png --noresize   # refuse resizing
    python tools/apply_filter.py pix2pix_facades_dynamic_float32.tflite labels.png out.png

Write the filter with ``python tools/export.py NAME --tflite [--quantize float16|int8]
[--uint8_io] [--size HxW|dynamic]`` (CycleGAN's other direction: ``--direction b2a``). This script
is self-contained on purpose: it needs numpy, Pillow and a TFLite interpreter
(``ai-edge-litert``, else ``tflite-runtime``, else TensorFlow's), not kgan, so it runs as it
is on a Raspberry Pi or in an app's tooling.

How the photo is prepared for the filter's input ``(1, H, W, C)``:

* **reading**: any picture Pillow reads (PNG, JPEG, ...), turned upright by its EXIF
  orientation (phone photos);
* **channels**: converted with Pillow to ``RGB`` for colour filters (grey photos repeated to
  three channels, an alpha channel dropped, palettes expanded) or to grey (``L``, ITU-R 601
  luma) for C=1; a conversion is reported on the output;
* **size**: a dynamic-size filter (``--size dynamic``, float32 / float16) takes the photo
  as it is; for a fixed-size one it is resized to W x H with bilinear filtering (aspect
  ratio not kept: crop or pad
  beforehand to keep it), and reported; ``--noresize`` makes a size mismatch an error
  instead. ``--tile`` instead runs the filter on overlapping W x H tiles of the photo at its
  own resolution (the kgan generators are fully convolutional; best for super-resolution,
  whose filters have no per-image normalisation);
* ``--invert``: pixels become 255 - p, e.g. for a black-on-white drawing fed to
  ``pix2pix_edges2fashion``, which was trained on white edges on black;
* **values**: pixels p in [0, 255] map to p / 127.5 - 1 in [-1, 1], then, for a uint8 / int8
  input, to integers with the file's own scale and zero point (a uint8 input without them
  takes the pixels themselves); the input type is read from the file, so float32, float16
  and int8 filters (with or without ``--uint8_io``) all work.

The output (dequantized the same way) keeps the **photo's resolution** (times the filter's
scale, x4 for super-resolution): a resized input is resized back (bilinear). Grey 28x28 /
32x32 garment filters keep writing the filter's own size (``--output_size filter``, their
default). The file type follows the output's extension: ``.png``, or ``.jpg`` / ``.jpeg``
(quality 95); ``--scale N`` enlarges the result N times (nearest neighbour) for viewing.

Errors (a missing or unreadable photo, a file that is not a kgan filter, an unknown output
type, ...) print one line naming the file and exit with status 2; nothing is written then,
and an existing output is only replaced, in one step, by a complete new file.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

SIGNATURE = "serving_default"
#: Output types by extension.
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
#: Describes Pillow modes in messages.
_MODE_NAMES = {"L": "grayscale", "LA": "grayscale with alpha", "RGBA": "RGBA (with alpha)",
               "P": "palette", "PA": "palette with alpha", "1": "black-and-white",
               "CMYK": "CMYK", "I": "32-bit grey", "I;16": "16-bit grey", "F": "float grey",
               "YCbCr": "YCbCr", "LAB": "Lab", "HSV": "HSV", "RGB": "RGB"}


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            import tensorflow as tf

            Interpreter = tf.lite.Interpreter
    return Interpreter


def load_interpreter(path):
    """A TFLite interpreter from the first runtime installed, its tensors allocated unless
    the filter's input size is dynamic (:func:`apply_filter` sizes those per photo)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No TFLite file at {path}.")
    try:
        interpreter = _interpreter_class()(model_path=str(path))
        if not is_dynamic(interpreter.get_input_details()[0]):
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path} is not a TFLite model ({first}); export a filter with "
                         "tools/export.py NAME --tflite.") from None
    return interpreter


def is_dynamic(detail):
    """Whether a filter input takes any height and width (``--size dynamic`` exports)."""
    return min(detail.get("shape_signature", detail["shape"])[1:3]) < 0


def filter_io(interpreter, path="the filter"):
    """``(input_detail, output_detail)`` of a one-image-in, one-image-out kgan filter."""
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1 or len(inputs[0]["shape"]) != 4 \
            or len(outputs[0]["shape"]) != 4:
        raise ValueError(
            f"{path} is not a kgan image filter: expected one (1, H, W, C) input and one "
            f"image output, found {[tuple(d['shape']) for d in inputs]} -> "
            f"{[tuple(d['shape']) for d in outputs]}. Export an image-to-image model "
            "(pix2pix, CycleGAN, SRGAN) with tools/export.py.")
    signatures = interpreter.get_signature_list() if hasattr(
        interpreter, "get_signature_list") else {}
    signature = signatures.get(SIGNATURE)
    if signatures and (signature is None or signature.get("inputs") != ["source"]
                       or signature.get("outputs") != ["image"]):
        raise ValueError(
            f"{path} is not a kgan image filter: its signatures are {signatures}, not "
            f"{SIGNATURE}(source) -> image. Export one with tools/export.py.")
    return inputs[0], outputs[0]


def open_photo(path):
    """The picture at ``path``, loaded and turned upright (EXIF orientation)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No picture at {path}.")
    try:
        with Image.open(path) as picture:
            picture.load()
            return ImageOps.exif_transpose(picture)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ValueError(f"{path} is not a readable image ({err}); give a PNG or JPEG "
                         "file.") from None


def convert(picture, channels, path="the photo"):
    """``(picture in L or RGB, note or None)``: the channels the filter takes."""
    if channels not in (1, 3):
        raise ValueError(f"Filters with {channels} input channels are not supported; "
                         "expected 1 (grey) or 3 (RGB).")
    mode = "L" if channels == 1 else "RGB"
    if picture.mode == mode:
        return picture, None
    if picture.mode in ("P", "PA"):  # palette: expand first so transparency is honoured
        picture = picture.convert("RGBA")
    what = _MODE_NAMES.get(picture.mode, picture.mode)
    note = (f"{path} is {what}; converted to "
            + ("grey for this 1-channel filter" if channels == 1 else "RGB"))
    if "A" in picture.mode:
        note += " (alpha dropped)"
    return picture.convert(mode), note


def _pixels(picture, channels, invert=False):
    pixels = np.asarray(picture, dtype="uint8").reshape(picture.height, picture.width, channels)
    return 255 - pixels if invert else pixels


def read_image(path, height, width, channels, resize=True, invert=False):
    """A picture as uint8 ``(height, width, channels)``, prepared as the module doc says."""
    picture, _ = convert(open_photo(path), channels, path)
    if picture.size != (width, height):
        if not resize:
            raise ValueError(
                f"{path} is {picture.width}x{picture.height} pixels but the filter takes "
                f"{width}x{height}: resize it, or drop --noresize to resize bilinearly.")
        picture = picture.resize((width, height), Image.BILINEAR)
    return _pixels(picture, channels, invert)


def _to_input(pixels, detail):
    dtype = detail["dtype"]
    scale, zero_point = detail["quantization"]
    if dtype == np.uint8 and not scale:  # a float filter's uint8 I/O: the pixels themselves
        return pixels[None].astype(np.uint8)
    values = pixels.astype("float32")[None] / 127.5 - 1.0
    if np.issubdtype(dtype, np.integer):
        limits = np.iinfo(dtype)
        values = np.clip(np.round(values / scale + zero_point), limits.min, limits.max)
    return values.astype(dtype)


def _to_pixels(values, detail):
    scale, zero_point = detail["quantization"]
    if detail["dtype"] == np.uint8 and not scale:
        return values.astype(np.uint8)
    if np.issubdtype(detail["dtype"], np.integer):
        values = (values.astype("float32") - zero_point) * scale
    return np.clip(np.round((values.astype("float32") + 1.0) * 127.5), 0, 255).astype("uint8")


def apply_filter(interpreter, pixels):
    """Runs the filter on uint8 ``(H, W, C)`` pixels; returns the output as uint8 pixels."""
    source, output = filter_io(interpreter)
    if is_dynamic(source):
        interpreter.resize_tensor_input(source["index"], (1, *pixels.shape))
        interpreter.allocate_tensors()
        source, output = filter_io(interpreter)
    expected = tuple(int(d) for d in source["shape"][1:])
    if pixels.shape != expected:
        raise ValueError(f"Pixels of shape {pixels.shape} do not fit the filter's input "
                         f"{expected}; prepare them with read_image().")
    interpreter.set_tensor(source["index"], _to_input(pixels, source))
    interpreter.invoke()
    return _to_pixels(interpreter.get_tensor(output["index"])[0], output)


def _starts(length, tile, margin):
    """Tile offsets along one side: consecutive tiles overlap by ``2 * margin``."""
    if length <= tile:
        return [0]
    step = tile - 2 * margin
    return sorted(set(range(0, length - tile, step)) | {length - tile})


def apply_tiled(interpreter, pixels, margin=None):
    """Runs the filter on overlapping tiles of uint8 ``(H, W, C)`` pixels of any size and
    stitches the outputs (each tile's border ``margin`` input pixels, a quarter of the tile
    by default, are dropped where a neighbour covers them); returns uint8 pixels of the
    photo's size times the filter's scale. Photos smaller than a tile are padded (edge
    pixels repeated) and cropped back."""
    source, output = filter_io(interpreter)
    tile_h, tile_w = (int(d) for d in source["shape"][1:3])
    out_h, out_w = (int(d) for d in output["shape"][1:3])
    if out_h % tile_h or out_w % tile_w:
        raise ValueError(f"Tiling needs an integer scale; this filter maps {tile_w}x{tile_h} "
                         f"to {out_w}x{out_h}.")
    sy, sx = out_h // tile_h, out_w // tile_w
    margin_y, margin_x = ((tile_h // 4, tile_w // 4) if margin is None else (margin, margin))
    height, width = pixels.shape[:2]
    padded = np.pad(pixels, ((0, max(tile_h - height, 0)), (0, max(tile_w - width, 0)), (0, 0)),
                    mode="edge")
    full_h, full_w = padded.shape[:2]
    result = np.zeros((full_h * sy, full_w * sx, int(output["shape"][3])), np.uint8)
    for y in _starts(full_h, tile_h, margin_y):
        top = 0 if y == 0 else margin_y
        bottom = tile_h if y + tile_h == full_h else tile_h - margin_y
        for x in _starts(full_w, tile_w, margin_x):
            left = 0 if x == 0 else margin_x
            right = tile_w if x + tile_w == full_w else tile_w - margin_x
            out = apply_filter(interpreter, padded[y:y + tile_h, x:x + tile_w])
            result[(y + top) * sy:(y + bottom) * sy, (x + left) * sx:(x + right) * sx] = \
                out[top * sy:bottom * sy, left * sx:right * sx]
    return result[:height * sy, :width * sx]


def output_format(path):
    """Pillow's format name for the output's extension, or a ValueError."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: cannot tell the output type from {suffix or 'no'} "
                         "extension; end the name with .png, .jpg or .jpeg.")
    return FORMATS[suffix]


def write_image(path, pixels, scale=1, size=None):
    """Writes uint8 ``(H, W, C)`` pixels as PNG or JPEG (by extension), resized to ``size``
    ``(width, height)`` (bilinear) and enlarged ``scale`` times (nearest) when asked; the
    file appears in one step (written beside it, then renamed)."""
    path = Path(path)
    picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    if size is not None and picture.size != tuple(size):
        picture = picture.resize(tuple(size), Image.BILINEAR)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    fmt = output_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            picture.save(f, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
        os.replace(staging, path)
    finally:
        if os.path.exists(staging):
            os.remove(staging)
    return path


def run(filter_path, photo_path, output_path, resize=True, invert=False, scale=1, tile=False,
        output_size=None, log=print):
    """The whole tool: filters ``photo_path`` into ``output_path``; returns that path.

    ``output_size``: ``"photo"`` (the photo's resolution times the filter's scale) or
    ``"filter"`` (the filter's output size); None: ``"photo"`` for colour filters and
    ``"filter"`` for grey ones (the 28x28 / 32x32 garment filters).
    """
    output_format(output_path)  # an unknown type fails before any work
    interpreter = load_interpreter(filter_path)
    source, output = filter_io(interpreter, filter_path)
    channels = int(source["shape"][3])
    picture, note = convert(open_photo(photo_path), channels, photo_path)
    if note:
        log(f"note: {note}")
    if is_dynamic(source):  # any size: the photo as it is, output at its size x the scale
        try:
            result = apply_filter(interpreter, _pixels(picture, channels, invert))
        except (ValueError, RuntimeError) as err:
            raise ValueError(f"{filter_path} cannot run at {picture.width}x{picture.height} "
                             f"({str(err).strip().splitlines()[0]}); resize the photo, or "
                             "export a fixed --size.") from None
        return write_image(output_path, result, scale)
    _, height, width, _ = (int(d) for d in source["shape"])
    out_h, out_w = (int(d) for d in output["shape"][1:3])
    if output_size is None:
        output_size = "photo" if channels == 3 else "filter"
    if output_size not in ("photo", "filter"):
        raise ValueError(f"output_size must be 'photo' or 'filter'; received {output_size!r}.")
    photo_w, photo_h = picture.size
    target = (round(photo_w * out_w / width), round(photo_h * out_h / height))
    if tile:
        log(f"note: filtering {photo_path} ({photo_w}x{photo_h}) in tiles of {width}x{height}")
        result = apply_tiled(interpreter, _pixels(picture, channels, invert))
        return write_image(output_path, result, scale)
    if (photo_w, photo_h) != (width, height):
        if not resize:
            raise ValueError(
                f"{photo_path} is {photo_w}x{photo_h} pixels but the filter takes "
                f"{width}x{height}: resize it, or drop --noresize to resize bilinearly.")
        back = (f", and the output back to {target[0]}x{target[1]}"
                if output_size == "photo" else f"; output at the filter's {out_w}x{out_h}")
        log(f"note: {photo_path} is {photo_w}x{photo_h}; resized to {width}x{height} for the "
            f"filter{back}")
        picture = picture.resize((width, height), Image.BILINEAR)
    result = apply_filter(interpreter, _pixels(picture, channels, invert))
    return write_image(output_path, result, scale, target if output_size == "photo" else None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("filter", help="the .tflite file")
    parser.add_argument("input", help="the photo to filter (PNG, JPEG, ...)")
    parser.add_argument("output", help="where to write the result (.png, .jpg or .jpeg)")
    parser.add_argument("--noresize", action="store_true",
                        help="refuse photos of another size instead of resizing them")
    parser.add_argument("--tile", action="store_true",
                        help="run on overlapping tiles at the photo's own resolution instead "
                             "of resizing it")
    parser.add_argument("--output_size", choices=("photo", "filter"), default=None,
                        help="photo: the photo's resolution (times the filter's scale); "
                             "filter: the filter's output size (default: photo for colour "
                             "filters, filter for grey ones)")
    parser.add_argument("--invert", action="store_true", help="use 255 - pixel as input")
    parser.add_argument("--scale", type=int, default=1, help="enlarge the output N times")
    args = parser.parse_args(argv)
    try:
        path = run(args.filter, args.input, args.output, not args.noresize, args.invert,
                   max(1, args.scale), args.tile, args.output_size)
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"apply_filter: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
