"""What an export takes and what it refuses before writing anything.

The model (a zoo entry with its published weights, or a GAN saved as a ``.keras`` file),
the inputs that calibrate int8 files and compare exports with Keras (latents drawn like the
model's own, a data set's source images, or a user's folder of pictures), and the checks:
formats a family declares it cannot export to, names unusable in a path or URL, existing
files; and the int8 settings a zoo entry declares for its filters.
"""

import os
import re
import zipfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kgan import zoo
from kgan.export.graph import is_text_model, source_shape
from kgan.export.int8_ranges import DEFAULT_PERCENTILE
from kgan.gan import GAN
from kgan.translation import DYNAMIC, TranslationGAN, check_size
from kgan.validation import check_images, check_labels, check_latents

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def load_exportable(name_or_path):
    """A zoo entry with its published weights, or a GAN saved as a ``.keras`` file.

    Raises:
        ValueError: unknown entry, entry without published weights, or a file that is not a
            saved ``kgan.GAN``.
        FileNotFoundError: a ``.keras`` path that does not exist.
    """
    text = str(name_or_path)
    if text.endswith(".keras") or os.sep in text or os.path.exists(text):
        return _load_keras_file(Path(text))
    if not zoo.info(text).weights:
        raise ValueError(
            f"Zoo entry {text!r} has no published weights yet, so there is nothing to export; "
            "train it with tools/train_zoo.py or pass a .keras file."
        )
    return zoo.load(text)


def _load_keras_file(path):
    if not path.is_file():
        raise FileNotFoundError(f"No .keras file at {path}.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a .keras file (a zip archive written by model.save).")
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except (ValueError, TypeError, OSError) as err:
        raise ValueError(f"{path} could not be loaded as a Keras model: {err}") from err
    if not isinstance(model, GAN):
        raise ValueError(
            f"{path} holds a {type(model).__name__}, not a kgan GAN; export saves generators "
            "of models built with kgan (kgan.zoo.load(...), then model.save(path))."
        )
    return model


#: Pixels of source images that calibrate an image filter's int8 ranges by default: 32
#: photos of 256x256. Each is run through the float filter twice (TFLite's calibrator, then
#: the percentile ranges): 32 facade photos took about 10 min on 2 shared cores, and put
#: pix2pix_facades' int8 file 0.031 off the float model on test label maps.
CALIBRATION_PIXELS = 32 * 256 * 256


def calibration_inputs(model, n=None, seed=0, direction=None, split="train", folder=None,
                       size=None):
    """Inputs like the ones the model sees: ``{"latent": N(0, I) (n, latent_dim)}`` plus
    ``"label"`` cycling through the classes for conditional models. Used as int8
    ``representative_data`` and to compare exports with Keras. ``n`` defaults to 256.

    Image-to-image models (:class:`kgan.translation.TranslationGAN`) get
    ``{"source": (n, H, W, C)}``: ``n`` source images of ``direction`` from the entry's data
    set ``split``, or from the image files in ``folder`` (resized and converted like
    ``tools/apply_filter.py`` does); ``size`` ``(H, W)`` resizes them (bilinear) for a filter
    exported at that size. ``n`` defaults to as many as hold :data:`CALIBRATION_PIXELS`,
    between 8 and 256 (32 at 256x256, 256 at 28x28).
    """
    if isinstance(model, TranslationGAN):
        shape = source_shape(model, direction, size)
        if n is None:
            n = int(np.clip(CALIBRATION_PIXELS // (shape[0] * shape[1]), 8, 256))
        if folder is not None:
            return {"source": folder_images(folder, shape, n)}
        images = model.sample_sources(n, direction, split=split, seed=seed)
        if images.shape[1:3] != shape[:2]:
            images = np.clip(tf.image.resize(images, shape[:2], antialias=True).numpy(),
                             -1.0, 1.0)
        return {"source": images}
    if size is not None:
        raise ValueError(f"size applies to image-to-image models; {model.name} generates "
                         "from latents.")
    n = 256 if n is None else n
    inputs = {"latent": check_latents(None, n, model.latent_dim, seed)}
    if is_text_model(model):  # captions cycling through the model's default ones
        captions = model.default_captions
        inputs["text"] = np.array([captions[i % len(captions)] for i in range(n)], object)
        return inputs
    if model.conditional:
        inputs["label"] = check_labels(None, n, model.num_classes, required=False)
    return inputs


def folder_images(folder, shape, n=None):
    """Up to ``n`` images (PNG / JPEG / BMP, sorted by name) from ``folder``, resized to
    ``shape`` ``(H, W, C)`` with bilinear filtering and converted to grey (C=1) or RGB
    (C=3), as float32 in [-1, 1]."""
    from PIL import Image

    files = sorted(p for p in Path(folder).iterdir()
                   if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))[:n]
    if not files:
        raise ValueError(f"{folder} holds no .png/.jpg/.bmp images to calibrate with.")
    mode = {1: "L", 3: "RGB"}.get(shape[-1])
    if mode is None:
        raise ValueError(f"Folder images can feed 1- or 3-channel filters; this one wants "
                         f"{shape[-1]} channels.")
    images = [np.asarray(Image.open(f).convert(mode).resize((shape[1], shape[0]),
                                                            Image.BILINEAR), "float32")
              for f in files]
    return np.stack(images).reshape(len(files), *shape) / 127.5 - 1.0


def check_inputs(model, inputs, what, direction=None, size=None):
    """Validates a ``{"latent": ..., ["label": ...]}`` (or ``{"source": ...}``) dict and
    returns it as numpy arrays."""
    if isinstance(model, TranslationGAN):
        if not isinstance(inputs, dict) or set(inputs) != {"source"}:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(f"{what} must be a dict with the key 'source' (see "
                             f"kgan.export.calibration_inputs); received {got}.")
        source = np.asarray(inputs["source"])
        check_images(source, source_shape(model, direction, size))
        return {"source": source.astype("float32")}
    if is_text_model(model):
        if not isinstance(inputs, dict) or set(inputs) != {"latent", "text"}:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(f"{what} must be a dict with keys ['latent', 'text'] (see "
                             f"kgan.export.calibration_inputs); received {got}.")
        from kgan.modalities.text import check_texts

        latent = check_latents(inputs["latent"], None, model.latent_dim, None)
        return {"latent": latent,
                "text": np.array(check_texts(list(inputs["text"]), len(latent)), object)}
    expected = {"latent", "label"} if model.conditional else {"latent"}
    if not isinstance(inputs, dict) or set(inputs) != expected:
        got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise ValueError(
            f"{what} must be a dict with keys {sorted(expected)} (see "
            f"kgan.export.calibration_inputs); received {got}."
        )
    checked = {"latent": check_latents(inputs["latent"], None, model.latent_dim, None)}
    if model.conditional:
        checked["label"] = check_labels(
            inputs["label"], len(checked["latent"]), model.num_classes, required=True)
    return checked


def check_model(model, fmt):
    """Refuses non-GANs, and formats a family declares it cannot export to yet
    (``export_unsupported``: format -> reason; formats ``"savedmodel"``, ``"tflite-none"``,
    ``"tflite-float16"``, ``"tflite-int8"``) rather than writing a wrong file."""
    if not isinstance(model, GAN):
        raise TypeError(f"Expected a kgan.GAN to export; received {type(model).__name__}.")
    reason = getattr(model, "export_unsupported", {}).get(fmt)
    if reason:
        supported = [f for f in EXPORT_FORMATS if f not in model.export_unsupported]
        raise ValueError(f"{model.name} cannot be exported as {fmt}: {reason} Supported for "
                         f"{type(model).__name__}: {', '.join(supported) or 'none yet'}.")


#: Every format ``check_model`` knows.
EXPORT_FORMATS = ("savedmodel", "tflite-none", "tflite-float16", "tflite-int8")


def check_filter_size(model, size, dynamic=False):
    """``size`` as ``(H, W)``, None when absent or the model's own; only translators take one
    (with ``dynamic``, :data:`kgan.translation.DYNAMIC` too: a float TFLite filter of any
    size)."""
    if size is None:
        return None
    if not isinstance(model, TranslationGAN):
        raise ValueError(f"size applies to image-to-image models; {model.name} generates "
                         "from latents.")
    size = check_size(size, dynamic)
    if size == DYNAMIC:
        return size
    return None if size == tuple(model.source_shape()[:2]) else size


def check_name(name):
    """``name``, when usable in a path or URL (a ValueError otherwise)."""
    if not _NAME_PATTERN.match(name):
        raise ValueError(
            f"Model name {name!r} is not usable in a path or URL: use letters, digits, "
            "'_', '-' and '.'.")
    return name


def refuse_existing(path, overwrite):
    """A FileExistsError for an existing ``path``, unless ``overwrite``."""
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True (--overwrite) to replace it, or "
            "choose another version / output directory.")


def int8_settings(model, quantize, direction, percentile=None, float_upsampling=None):
    """``(percentile, float_upsampling)`` of a TFLite export (``export_tflite``), each None
    taken from the zoo entry's recipe, ``"int8_export": {direction: {"percentile": ...,
    "float_upsampling": ...}}`` (measured per filter, e.g. on ``cyclegan_horse2zebra``'s
    card), else :data:`DEFAULT_PERCENTILE` and no float fallback."""
    declared = {}
    if quantize == "int8" and model.name in zoo.list_models():
        declared = zoo.info(model.name).recipe.get("int8_export", {}).get(direction, {})
    if percentile is None:
        percentile = declared.get("percentile", DEFAULT_PERCENTILE)
    if not 50.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (50, 100] (100: the calibration's min/max "
                         f"ranges); received {percentile!r}.")
    if float_upsampling is None:
        float_upsampling = declared.get("float_upsampling", False)
    if float_upsampling and not (quantize == "int8" and isinstance(model, TranslationGAN)):
        raise ValueError("float_upsampling applies to int8 image filters (quantize='int8' "
                         f"of an image-to-image model); received quantize={quantize!r} for "
                         f"{model.name}.")
    return percentile, bool(float_upsampling)
