"""Exporting kgan generators: SavedModels for TF Serving and TFLite (LiteRT) files for phones.

Only the generator leaves: a served or mobile GAN draws images, it does not train, so the
discriminator and optimizer state stay behind, and models trained with an EMA of the
generator weights are exported with those averaged weights (``GAN.inference_weights``).

SavedModel (``export_savedmodel``) follows TF Serving's ``DIR/<name>/<version>/`` layout, is
written next to its final place and renamed in one step (a server watching ``DIR`` never
loads half a model), and carries two signatures:

* ``serving_default``: ``latent`` float32 ``(None, latent_dim)`` [+ ``label`` int32 ``(None,)``
  for conditional models] -> ``image`` float32 ``(None, H, W, C)`` in [-1, 1];
* ``generate_from_seed``: ``seed`` int64 ``(None,)`` [+ ``label``] -> one image per seed. The
  latent of seed ``s`` is ``tf.random.stateless_normal([latent_dim], seed=[s, 0],
  alg="philox")`` (:func:`seed_latents`), the same on every machine and device, so a client
  can ask for "image 42" without shipping 100 floats, and reproduce it in Python.

Style models (StyleGAN) add a third, for the truncation trick:

* ``truncated``: ``latent`` float32 ``(None, latent_dim)`` + ``truncation_psi`` float32
  ``(None,)`` (one psi per latent, or one for all) -> ``model.generate(z=latent,
  truncation_psi=psi)``: mapping, ``w_avg + psi * (w - w_avg)`` with the tracked mean w, and
  synthesis in one graph. A psi outside [0, 1] fails the request. ``serving_default`` is
  psi = 1 (no truncation). A TF Serving signature has no optional inputs, hence the second
  signature rather than a defaulted argument.

With ``uint8_io=True`` every signature also returns ``image_uint8``: ``round((image + 1) *
127.5)``, pixels ready for a PNG. :func:`write_models_config` writes ``DIR/models.config`` for
``tensorflow_model_server --model_config_file``; ``docs/serving.md`` shows the requests.

TFLite (``export_tflite``) converts the ``serving_default`` signature with
``tf.lite.TFLiteConverter``: ``quantize="none"`` (float32), ``"float16"`` (weights in
float16, half the size) or ``"int8"`` (full integer: every op runs in int8, calibrated on
``representative_data``, e.g. :func:`calibration_inputs`, latents drawn like the model's
own). Nearest ``UpSampling2D`` layers are exported as one static-shape resize each: Keras'
``repeat``-based version loses the heights in the converter after a few stages, which left
ProGAN's 16x16 and 32x32 convolutions unconvertible. The truncated signature is not
converted (``serving_default``, psi = 1, is). int8 files keep float32 inputs/outputs
(quantized at the edges) unless ``uint8_io``, which makes the latent input and image output
uint8 for integer-only accelerators; the image range is pinned to tanh's [-1, 1], so a uint8
output ``q`` is the image ``(q - 128) / 127.5`` and within one level of the pixel value. For
int8 the generator's tanh also clips its input to [-4, 4] (at most 7e-4 of change), so the
quantization steps of that tensor go where tanh is steep instead of to saturated background
pixels: this took the mean int8 error of ``dcgan_fashion_mnist`` from 0.077 to 0.012. A
conversion that would leave a float op behind fails instead of shipping a float model
labelled int8. The seed signature is not converted: TFLite has no stateless Philox op, so
mobile apps pass latents.

Text-to-image models (:class:`kgan.text.TextConditioned`) take captions:
``serving_default(text, latent)`` and ``generate_from_seed(text, seed)`` with ``text`` a
string tensor ``(None,)``; the text encoder, TextVectorization and vocabulary included, runs
inside the SavedModel. They declare TFLite unsupported (``export_unsupported``).

Image-to-image models (:class:`kgan.translation.ImageTranslator`: pix2pix, CycleGAN, SRGAN)
export as *filters*: ``source`` float32 ``(None, H, W, C)`` in [-1, 1] -> ``image``. The
SavedModel's ``serving_default`` runs the default direction and every other direction gets
a signature named after it (CycleGAN's ``b2a``); TFLite writes one file per direction
(``direction=``, ``<name>_<direction>_<type>.tflite`` for the non-default ones). For TF
Serving each direction also gets ``serving_uint8`` (uint8 pixels in and out) and
``serving_bytes`` (PNG / JPEG file bytes in, PNG bytes out, the ``{"b64": ...}`` form of
TF Serving's REST API; :func:`_filter_archive`). int8 files are calibrated on source images
of the entry's data set (``calibration_inputs``, or a user's folder of pictures). With
``uint8_io`` every filter format (float32, float16, int8) takes and returns uint8 pixels,
which ``tools/apply_filter.py`` runs on a PNG or JPEG photo. The generators are fully
convolutional: ``size=(H, W)`` exports the filter for another fixed input size. For int8,
instance norms are rewritten with ops that have int8 kernels (``GroupNormalization``'s own
graph keeps float ops).

Example:
    >>> model = kgan.zoo.load("dcgan_mnist")
    >>> kgan.export.export_savedmodel(model, "exported")        # exported/dcgan_mnist/1/
    >>> kgan.export.write_models_config("exported")
    >>> path = kgan.export.export_tflite(model, "exported", quantize="int8",
    ...                                  representative_data=kgan.export.calibration_inputs(model))
    >>> kgan.export.compare(model, path)        # errors against Keras and ms per image
"""

import os
import re
import shutil
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kgan import zoo
from kgan._validation import check_images, check_labels, check_latents
from kgan.gan import GAN
from kgan.translation import ImageTranslator, check_size, resize_filter

QUANTIZATIONS = ("none", "float16", "int8")
SERVING_SIGNATURE = "serving_default"
SEED_SIGNATURE = "generate_from_seed"
TRUNCATED_SIGNATURE = "truncated"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# ---------------------------------------------------------------------------- inputs
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


def seed_latents(seeds, latent_dim):
    """The latents the ``generate_from_seed`` signature uses: one N(0, I) row per seed.

    ``model.generate(z=seed_latents([42], model.latent_dim))`` is the served image of seed 42.
    """
    seeds = tf.convert_to_tensor(np.asarray(seeds, dtype="int64").reshape(-1))
    return _seed_latents(seeds, int(latent_dim)).numpy()


def _seed_latents(seeds, latent_dim):
    return tf.map_fn(
        lambda s: tf.random.stateless_normal(
            [latent_dim], seed=tf.stack([s, tf.zeros_like(s)]), alg="philox"),
        seeds, fn_output_signature=tf.float32)


def calibration_inputs(model, n=256, seed=0, direction=None, split="train", folder=None,
                       size=None):
    """Inputs like the ones the model sees: ``{"latent": N(0, I) (n, latent_dim)}`` plus
    ``"label"`` cycling through the classes for conditional models. Used as int8
    ``representative_data`` and to compare exports with Keras.

    Image-to-image models (:class:`kgan.translation.ImageTranslator`) get
    ``{"source": (n, H, W, C)}``: ``n`` source images of ``direction`` from the entry's data
    set ``split``, or from the image files in ``folder`` (resized and converted like
    ``tools/apply_filter.py`` does); ``size`` ``(H, W)`` resizes them (bilinear) for a filter
    exported at that size.
    """
    if isinstance(model, ImageTranslator):
        shape = _source_shape(model, direction, size)
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
    inputs = {"latent": check_latents(None, n, model.latent_dim, seed)}
    if _is_text_model(model):  # captions cycling through the model's default ones
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


def _source_shape(model, direction=None, size=None):
    """``(H, W, C)`` a translator's filter takes: its own, or at ``size`` ``(H, W)``."""
    shape = model.source_shape(direction)
    return shape if size is None else (*check_size(size), shape[-1])


def _check_inputs(model, inputs, what, direction=None, size=None):
    """Validates a ``{"latent": ..., ["label": ...]}`` (or ``{"source": ...}``) dict and
    returns it as numpy arrays."""
    if isinstance(model, ImageTranslator):
        if not isinstance(inputs, dict) or set(inputs) != {"source"}:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(f"{what} must be a dict with the key 'source' (see "
                             f"kgan.export.calibration_inputs); received {got}.")
        source = np.asarray(inputs["source"])
        check_images(source, _source_shape(model, direction, size))
        return {"source": source.astype("float32")}
    if _is_text_model(model):
        if not isinstance(inputs, dict) or set(inputs) != {"latent", "text"}:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(f"{what} must be a dict with keys ['latent', 'text'] (see "
                             f"kgan.export.calibration_inputs); received {got}.")
        from kgan.text import check_texts

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


def _input_specs(model, direction=None, size=None, pixels=False):
    """The signature inputs; a translator's ``source`` is uint8 pixels when ``pixels``."""
    if isinstance(model, ImageTranslator):
        shape = [None, *_source_shape(model, direction, size)]
        return [tf.TensorSpec(shape, tf.uint8 if pixels else tf.float32, name="source")]
    specs = [tf.TensorSpec([None, model.latent_dim], tf.float32, name="latent")]
    if model.conditional:
        specs.append(tf.TensorSpec([None], tf.int32, name="label"))
    return specs


def _network(model, direction=None, size=None):
    """The model that is exported: the generator, or a translator's filter (built for
    ``size`` ``(H, W)`` inputs when given; call it under ``model.inference_weights()``)."""
    if isinstance(model, ImageTranslator):
        return resize_filter(model.filter_model(model.check_direction(direction)), size)
    return model.generator


def _image(model, latent, label=None, generator=None):
    """The generator's images (a translator's outputs for source images ``latent``),
    clipped to [-1, 1] like ``GAN.generate`` / ``translate``."""
    generator = generator or model.generator
    conditional = model.conditional and not isinstance(model, ImageTranslator)
    x = generator([latent, label] if conditional else latent, training=False)
    x = tf.clip_by_value(tf.cast(x, tf.float32), -1.0, 1.0)
    if hasattr(model, "output_transform"):  # SpecGAN: spectrograms -> Griffin-Lim waveforms
        x = model.output_transform(x)
    return x


#: tanh(4) = 0.99933, so clipping tanh's input to [-4, 4] moves no pixel by more than 7e-4.
#: Without it, saturated background pixels stretch that tensor's int8 range to about +-20,
#: and mid-grey pixels, where tanh is steep, are quantized in steps of ~0.1.
_TANH_INPUT_LIMIT = 4.0


class _ClippedTanh(keras.layers.Layer):
    def call(self, x):
        return keras.ops.tanh(keras.ops.clip(x, -_TANH_INPUT_LIMIT, _TANH_INPUT_LIMIT))


class _InstanceNorm(keras.layers.Layer):
    """Instance norm written with ops TFLite has int8 kernels for (mean, subtract, square,
    rsqrt, multiply, add); ``GroupNormalization``'s own graph leaves float ops behind."""

    def __init__(self, epsilon, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), name="gamma")
        self.beta = self.add_weight(shape=(input_shape[-1],), name="beta")

    def call(self, x):
        centered = x - keras.ops.mean(x, axis=(1, 2), keepdims=True)
        variance = keras.ops.mean(keras.ops.square(centered), axis=(1, 2), keepdims=True)
        return centered * keras.ops.rsqrt(variance + self.epsilon) * self.gamma + self.beta


def _is_instance_norm(layer):
    return (isinstance(layer, keras.layers.GroupNormalization) and layer.center and layer.scale
            and layer.groups in (-1, layer.input.shape[-1]) and len(layer.input.shape) == 4)


class _NearestUpSampling(keras.layers.Layer):
    """``UpSampling2D`` (nearest) as one resize op with static sizes.

    Keras implements nearest upsampling with ``repeat``, whose output heights the TFLite
    converter loses after a few stages (``?x?x32x8``); it then cannot lower the following
    CONV_2D at all (ProGAN's 16x16 and 32x32 convolutions). A nearest resize by an integer
    factor picks the same pixels, and TFLite has a (float and int8) kernel for it.
    """

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = size

    def call(self, x):
        height, width = x.shape[1] * self.size[0], x.shape[2] * self.size[1]
        return keras.ops.image.resize(x, (height, width), interpolation="nearest")


def _replacement(layer, int8):
    """The layer a TFLite export uses instead of ``layer``, or None to keep it."""
    if (isinstance(layer, keras.layers.UpSampling2D) and layer.interpolation == "nearest"
            and layer.data_format == "channels_last"):
        return _NearestUpSampling(layer.size, name=layer.name, dtype=layer.dtype_policy)
    if not int8:
        return None
    if (isinstance(layer, keras.layers.Activation)
            and layer.get_config()["activation"] == "tanh"):
        return _ClippedTanh(name=layer.name, dtype=layer.dtype_policy)
    if _is_instance_norm(layer):
        return _InstanceNorm(layer.epsilon, name=layer.name, dtype=layer.dtype_policy)
    return None


def _tflite_friendly(network, int8):
    """``network`` itself, or a copy (current weights) whose nearest upsamplings have
    static shapes and, for int8, whose tanh layers clip their input first and whose
    instance norms use int8-convertible ops."""
    if all(_replacement(layer, int8) is None for layer in network.layers):
        return network

    def clone(layer):
        stand_in = _replacement(layer, int8)
        return stand_in if stand_in is not None else layer.__class__.from_config(
            layer.get_config())

    copy = keras.models.clone_model(network, clone_function=clone)
    copy.set_weights(network.get_weights())
    return copy


def _to_uint8(image):
    return tf.cast(tf.round((image + 1.0) * 127.5), tf.uint8)


def _from_uint8(pixels):
    return tf.cast(pixels, tf.float32) / 127.5 - 1.0


# ---------------------------------------------------------------------------- SavedModel
def export_savedmodel(model, out_dir, version=1, uint8_io=False, overwrite=False, name=None,
                      size=None):
    """Writes the generator as a TF Serving SavedModel in ``out_dir/<name>/<version>/``.

    Args:
        model: a ``kgan.GAN``.
        out_dir: the model base directory TF Serving is pointed at.
        version: positive integer version directory.
        uint8_io: also return ``image_uint8`` pixels from both signatures.
        overwrite: replace an existing version directory (otherwise FileExistsError and
            nothing is touched).
        name: served model name; defaults to ``model.name`` (the zoo entry name).
        size: image-to-image models: ``(H, W)`` (or ``"HxW"``) of the images the array
            signatures take, when not the model's own (sides a multiple of the
            generator's downsampling, ``kgan.translation.size_multiple``).

    Returns:
        ``Path`` of the version directory.

    Raises:
        FileExistsError: the version directory exists and ``overwrite`` is False.
        ValueError: a bad ``version`` or ``name``.
    """
    _check_model(model, "savedmodel")
    size = _check_filter_size(model, size)
    name = _check_name(name or model.name)
    if isinstance(version, bool) or int(version) != version or version < 1:
        raise ValueError(f"version must be a positive integer; received {version!r}.")
    final = Path(out_dir) / name / str(int(version))
    _refuse_existing(final, overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        with model.inference_weights():
            _serving_archive(model, uint8_io, size).write_out(str(staging / "model"),
                                                              verbose=False)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging / "model", final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _check_filter_size(model, size):
    """``size`` as ``(H, W)``, None when absent or the model's own; only translators take one."""
    if size is None:
        return None
    if not isinstance(model, ImageTranslator):
        raise ValueError(f"size applies to image-to-image models; {model.name} generates "
                         "from latents.")
    size = check_size(size)
    return None if size == tuple(model.source_shape()[:2]) else size


def _serving_archive(model, uint8_io, size=None):
    if isinstance(model, ImageTranslator):
        return _filter_archive(model, uint8_io, size)
    if _is_text_model(model):
        return _text_archive(model, uint8_io)

    def outputs(latent, label):
        image = _image(model, latent, label)
        return {"image": image, "image_uint8": _to_uint8(image)} if uint8_io else {"image": image}

    def serve(latent, label=None):
        return outputs(latent, _checked_labels(label, model.num_classes))

    def from_seed(seed, label=None):
        return serve(_seed_latents(seed, model.latent_dim), label)

    archive = keras.export.ExportArchive()
    archive.track(model.generator)
    if hasattr(model, "output_transform"):
        archive.add_variable_collection("output_transform", model.output_transform_variables)
    specs = _input_specs(model)
    archive.add_endpoint(SERVING_SIGNATURE, tf.function(serve), input_signature=specs)
    archive.add_endpoint(
        SEED_SIGNATURE, tf.function(from_seed),
        input_signature=[tf.TensorSpec([None], tf.int64, name="seed"), *specs[1:]])
    if hasattr(model, "truncated_images"):  # StyleGAN
        archive.add_endpoint(TRUNCATED_SIGNATURE, *_truncated_endpoint(model, uint8_io))
    return archive


def _truncated_endpoint(model, uint8_io):
    """The ``truncated`` signature of style models: ``latent`` float32 ``(None,
    latent_dim)`` and ``truncation_psi`` float32 ``(None,)`` (one per latent, or one for
    all) -> ``model.generate(z=latent, truncation_psi=psi)``: mapping, the pull towards the
    tracked mean w, and synthesis in one graph. Returns ``(function, input_signature)``."""
    def truncated(latent, truncation_psi):
        psi = _checked_psi(truncation_psi, tf.shape(latent)[0])
        image = tf.clip_by_value(
            tf.cast(model.truncated_images(latent, psi[:, None]), tf.float32), -1.0, 1.0)
        return {"image": image, "image_uint8": _to_uint8(image)} if uint8_io else {"image": image}

    specs = [tf.TensorSpec([None, model.latent_dim], tf.float32, name="latent"),
             tf.TensorSpec([None], tf.float32, name="truncation_psi")]
    return tf.function(truncated), specs


def _checked_psi(psi, batch):
    """A psi outside [0, 1] (NaN included), or a psi count other than 1 or one per latent,
    fails the request instead of extrapolating away from the mean w."""
    in_range = "truncation_psi must be in [0, 1] (1: no truncation, 0: the mean image)"
    count = tf.size(psi)
    with tf.control_dependencies([
        tf.debugging.assert_greater_equal(psi, 0.0, message=in_range),
        tf.debugging.assert_less_equal(psi, 1.0, message=in_range),
        tf.debugging.assert_equal(
            tf.logical_or(count == 1, count == batch), True,
            message="truncation_psi needs one value per latent row, or one for all"),
    ]):
        return tf.identity(psi)


def _filter_archive(model, uint8_io, size=None):
    """Image-to-image models: three signatures per direction, the default direction's named
    ``serving_*`` and every other one's after it (CycleGAN's ``b2a``, ``b2a_uint8``,
    ``b2a_bytes``):

    * ``serving_default`` / ``<direction>``: ``source`` float32 ``(None, H, W, C)`` in
      [-1, 1] -> ``image`` (+ ``image_uint8`` with ``uint8_io``);
    * ``serving_uint8`` / ``<direction>_uint8``: ``source_uint8`` uint8 pixels ``(None, H,
      W, C)`` -> ``image_uint8`` uint8 pixels;
    * ``serving_bytes`` / ``<direction>_bytes``: ``image_bytes`` string ``(None,)``, each a
      PNG / JPEG / GIF / BMP file of any size (grey and RGBA pictures converted to the
      filter's channels) -> ``image_bytes``, a PNG of the picture's own size (times the
      filter's scale, x4 for SRGAN). The picture is resized (bilinear) to the filter's input
      and the output back. TF Serving's REST API takes and returns such tensors as
      ``{"b64": ...}`` (the ``_bytes`` suffix asks for the base64 answer).

    ``H x W`` is the model's own size, or ``size``.
    """
    def endpoints(network):
        height, width, channels = network.input_shape[1:]
        out_height, out_width = network.output_shape[1:3]

        def serve(source):
            image = _image(model, source, generator=network)
            return ({"image": image, "image_uint8": _to_uint8(image)} if uint8_io
                    else {"image": image})

        def serve_uint8(source_uint8):
            return {"image_uint8": _to_uint8(_image(model, _from_uint8(source_uint8),
                                                    generator=network))}

        def resized(images, size):
            """``images`` at ``size``: untouched when already that size (exact pixels)."""
            return tf.cond(
                tf.reduce_all(tf.shape(images)[1:3] == size), lambda: images,
                lambda: tf.clip_by_value(tf.image.resize(images, size, antialias=True),
                                         -1.0, 1.0))

        def one_picture(data):
            pixels = tf.io.decode_image(data, channels=channels, expand_animations=False)
            picture_size = tf.shape(pixels)[:2]
            source = resized(_from_uint8(pixels)[None], tf.constant([height, width]))
            source = tf.ensure_shape(source, (1, height, width, channels))
            image = _image(model, source, generator=network)
            scale = tf.constant([out_height / height, out_width / width], tf.float64)
            back = tf.cast(tf.round(tf.cast(picture_size, tf.float64) * scale), tf.int32)
            return tf.io.encode_png(_to_uint8(resized(image, back))[0])

        def serve_bytes(image_bytes):
            return {"image_bytes": tf.map_fn(one_picture, image_bytes,
                                             fn_output_signature=tf.string)}

        return serve, serve_uint8, serve_bytes

    archive = keras.export.ExportArchive()
    for i, direction in enumerate(model.directions):
        network = _network(model, direction, size)
        archive.track(network)
        serve, serve_uint8, serve_bytes = endpoints(network)
        prefix = "serving" if i == 0 else direction
        archive.add_endpoint(SERVING_SIGNATURE if i == 0 else direction, tf.function(serve),
                             input_signature=_input_specs(model, direction, size))
        shape = [None, *_source_shape(model, direction, size)]
        archive.add_endpoint(f"{prefix}_uint8", tf.function(serve_uint8), input_signature=[
            tf.TensorSpec(shape, tf.uint8, name="source_uint8")])
        archive.add_endpoint(f"{prefix}_bytes", tf.function(serve_bytes), input_signature=[
            tf.TensorSpec([None], tf.string, name="image_bytes")])
    return archive


def _is_text_model(model):
    """Text-to-image models (``kgan.text.TextConditioned``): they take captions, not labels."""
    return getattr(model, "text_encoder", None) is not None


def _text_archive(model, uint8_io):
    """Text-to-image models: ``serving_default(text, latent)`` and
    ``generate_from_seed(text, seed)``, where ``text`` is a string tensor ``(None,)``: the
    text encoder, TextVectorization and its vocabulary included, runs inside the graph.
    Empty or unknown captions are not flagged there (``generate`` warns about them)."""
    def outputs(text, latent):
        embeddings = model.text_encoder(text, training=False)
        image = tf.clip_by_value(tf.cast(model.synthesize(latent, embeddings), tf.float32),
                                 -1.0, 1.0)
        return {"image": image, "image_uint8": _to_uint8(image)} if uint8_io else {"image": image}

    def from_seed(text, seed):
        return outputs(text, _seed_latents(seed, model.latent_dim))

    text = tf.TensorSpec([None], tf.string, name="text")
    archive = keras.export.ExportArchive()
    archive.track(model.text_encoder)
    for network in model.synthesis_networks:
        archive.track(network)
    archive.add_endpoint(SERVING_SIGNATURE, tf.function(outputs), input_signature=[
        text, tf.TensorSpec([None, model.latent_dim], tf.float32, name="latent")])
    archive.add_endpoint(SEED_SIGNATURE, tf.function(from_seed), input_signature=[
        text, tf.TensorSpec([None], tf.int64, name="seed")])
    return archive


def _checked_labels(label, num_classes):
    """Out-of-range labels fail the request (a GPU gather would silently return zeros)."""
    if label is None:
        return None
    message = f"label must be a class index in [0, {num_classes})"
    with tf.control_dependencies([
        tf.debugging.assert_non_negative(label, message=message),
        tf.debugging.assert_less(label, num_classes, message=message),
    ]):
        return tf.identity(label)


def write_models_config(out_dir, base_path="/models"):
    """Writes ``out_dir/models.config`` listing every exported model under ``out_dir``.

    ``base_path`` is where ``out_dir`` is mounted in the server (TF Serving wants absolute
    paths); the default matches ``docker run -v "$PWD/out_dir:/models"``.
    """
    out_dir = Path(out_dir)
    names = sorted(
        d.name for d in out_dir.iterdir()
        if d.is_dir() and any(v.is_dir() and v.name.isdigit() for v in d.iterdir())
    )
    if not names:
        raise ValueError(f"{out_dir} holds no exported SavedModel (<name>/<version>/) to list.")
    entries = "".join(
        f'  config {{\n    name: "{n}"\n    base_path: "{base_path.rstrip("/")}/{n}"\n'
        f'    model_platform: "tensorflow"\n  }}\n'
        for n in names
    )
    path = out_dir / "models.config"
    path.write_text(f"model_config_list {{\n{entries}}}\n")
    return path


# ---------------------------------------------------------------------------- TFLite
def export_tflite(model, out_dir, quantize="none", representative_data=None, uint8_io=False,
                  overwrite=False, name=None, direction=None, size=None):
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
            is then at that size (``calibration_inputs(..., size=size)``).
        overwrite: replace an existing file (otherwise FileExistsError).
        name: file name stem; defaults to ``model.name``.

    Returns:
        ``Path`` of the ``.tflite`` file.

    Raises:
        FileExistsError: the file exists and ``overwrite`` is False.
        ValueError: an unknown ``quantize``, int8 without (or with malformed)
            ``representative_data``, or ``representative_data`` / ``uint8_io`` without int8.
        RuntimeError: the int8 model would keep float tensors inside (not written).
    """
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}; received {quantize!r}.")
    _check_model(model, f"tflite-{quantize}")
    if quantize == "int8" and representative_data is None:
        raise ValueError(
            "int8 quantization needs representative_data to calibrate the value ranges, "
            "e.g. kgan.export.calibration_inputs(model).")
    translator = isinstance(model, ImageTranslator)
    if quantize != "int8" and (representative_data is not None or (uint8_io and not translator)):
        raise ValueError("representative_data and uint8_io only apply to quantize='int8'.")
    size = _check_filter_size(model, size)
    if representative_data is not None:
        representative_data = _check_inputs(model, representative_data, "representative_data",
                                            direction, size)
    stem = _check_name(name or model.name)
    if translator:
        direction = model.check_direction(direction)
        if direction != model.directions[0]:
            stem = f"{stem}_{direction}"
        if size is not None:
            stem = f"{stem}_{size[0]}x{size[1]}"
    elif direction is not None:
        raise ValueError(f"direction applies to image-to-image models; {model.name} generates "
                         f"from latents (received direction={direction!r}).")
    suffix = "_uint8" if uint8_io else ""
    path = Path(out_dir) / f"{stem}_{_file_tag(quantize)}{suffix}.tflite"
    _refuse_existing(path, overwrite)
    content = _convert(model, quantize, representative_data, uint8_io, direction, size)
    if quantize == "int8":
        _check_integer_only(content)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.part")
    staging.write_bytes(content)
    os.replace(staging, path)
    return path


def _file_tag(quantize):
    return "float32" if quantize == "none" else quantize


def _convert(model, quantize, representative_data, uint8_io, direction=None, size=None):
    """SavedModel in a temp dir -> TFLiteConverter (the route Keras' own LiteRT export takes).

    Float filters with ``uint8_io`` convert pixels in the graph (``pixels``); int8 files get
    uint8 edges from the converter (``_configure``)."""
    pixels = uint8_io and quantize != "int8" and isinstance(model, ImageTranslator)

    def serve(*inputs):
        if pixels:
            inputs = (_from_uint8(inputs[0]),)
        image = _image(model, *inputs, generator=generator)
        if quantize == "int8":  # pin the output scale to tanh's range, see the module doc
            image = tf.quantization.fake_quant_with_min_max_args(image, -1.0, 1.0)
        return {"image": _to_uint8(image) if pixels else image}

    with tempfile.TemporaryDirectory() as tmp, model.inference_weights():
        network = _network(model, direction, size)
        generator = _tflite_friendly(network, int8=quantize == "int8")
        archive = keras.export.ExportArchive()
        archive.track(generator)
        archive.add_endpoint(SERVING_SIGNATURE, tf.function(serve),
                             input_signature=_input_specs(model, direction, size, pixels))
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, [SERVING_SIGNATURE])
        _configure(converter, quantize, representative_data, uint8_io)
        with warnings.catch_warnings():  # calibration runs the deprecated tf.lite.Interpreter
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            return converter.convert()


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
    """Raises unless every float tensor of an int8 model is one of its inputs/outputs."""
    interpreter = _interpreter(content)
    boundary = {d["index"] for d in interpreter.get_input_details()}
    boundary |= {d["index"] for d in interpreter.get_output_details()}
    floats = [d["name"] for d in interpreter.get_tensor_details()
              if np.issubdtype(d["dtype"], np.floating) and d["index"] not in boundary]
    if floats:
        raise RuntimeError(
            f"int8 conversion left {len(floats)} float tensors inside the model (e.g. "
            f"{floats[:3]}); refusing to write a float model labelled int8.")


def _interpreter(content, num_threads=None):
    """A LiteRT interpreter (``tf.lite.Interpreter`` when ai-edge-litert is missing)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_content=content, num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def run_tflite(path, inputs, num_threads=1):
    """Runs a kgan ``.tflite`` file; returns float32 images in [-1, 1].

    ``inputs`` holds float latents (and int labels), or ``source`` images of a filter,
    whatever the file's types: uint8/int8
    inputs are quantized and outputs dequantized with the file's own parameters.
    """
    return _tflite_runner(path, num_threads)(inputs)


def _tflite_runner(path, num_threads):
    runner = _interpreter(Path(path).read_bytes(), num_threads).get_signature_runner(
        SERVING_SIGNATURE)
    inputs, output = runner.get_input_details(), runner.get_output_details()["image"]
    return lambda feed: _dequantize(
        runner(**{k: _quantize(np.asarray(v), inputs[k]) for k, v in feed.items()})["image"],
        output)


def _quantize(values, detail):
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


def _dequantize(values, detail):
    scale, zero_point = detail["quantization"]
    if detail["dtype"] == np.uint8 and not scale:
        return values.astype("float32") / 127.5 - 1.0
    if scale:
        values = (values.astype("float32") - zero_point) * scale
    return values.astype("float32")


# ---------------------------------------------------------------------------- checks
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
        ``ms_per_image``, the median latency of one-image calls (TFLite on one thread), and
        ``compared_on``: ``"latents"``, ``"test images"``, ``"random images"`` or
        ``"inputs"`` (given ones).
    """
    compared_on = "inputs" if inputs is not None else "latents"
    if isinstance(model, ImageTranslator):
        direction = model.check_direction(direction)
        signature = (SERVING_SIGNATURE if direction == model.directions[0] else direction)
        size = _exported_size(path, signature)
        size = None if size == tuple(model.source_shape(direction)[:2]) else size
        if inputs is None:
            try:
                inputs = calibration_inputs(model, n, seed, direction, split="test", size=size)
                compared_on = "test images"
            except ValueError:  # not a zoo entry: its data set is unknown
                inputs = {"source": _smooth_images(n, _source_shape(model, direction, size),
                                                   seed)}
                compared_on = "random images"
        inputs = _check_inputs(model, inputs, "inputs", direction, size)
        expected = translate_at(model, inputs["source"], direction, size)
    else:
        inputs = _check_inputs(model, calibration_inputs(model, n, seed) if inputs is None
                               else inputs, "inputs")
        expected = (model.generate(z=inputs["latent"], text=list(inputs["text"]))
                    if _is_text_model(model)
                    else model.generate(z=inputs["latent"], labels=inputs.get("label")))
        signature = SERVING_SIGNATURE
    run = _runner(path, signature)
    actual = run(inputs)
    error = np.abs(actual - expected)
    times = []
    for i in range(min(len(expected), 16)):
        one = {k: v[i:i + 1] for k, v in inputs.items()}
        start = time.perf_counter()
        run(one)
        times.append(time.perf_counter() - start)
    return {
        "max_abs_error": float(error.max()),
        "mean_abs_error": float(error.mean()),
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
    check_images(images, _source_shape(model, direction, size))
    with model.inference_weights():
        network = _network(model, direction, size)
        outputs = [keras.ops.convert_to_numpy(network(images[i:i + batch_size], training=False))
                   for i in range(0, len(images), batch_size)]
    return np.clip(np.concatenate(outputs).astype("float32"), -1.0, 1.0)


def _exported_size(path, signature_name=SERVING_SIGNATURE):
    """``(H, W)`` of the ``source`` input of an exported filter."""
    path = Path(path)
    if path.suffix == ".tflite":
        runner = _interpreter(path.read_bytes()).get_signature_runner(SERVING_SIGNATURE)
        shape = runner.get_input_details()["source"]["shape"]
    else:
        signature = tf.saved_model.load(str(path)).signatures[signature_name]
        shape = signature.structured_input_signature[1]["source"].shape
    return tuple(int(d) for d in shape[1:3])


def _runner(path, signature_name=SERVING_SIGNATURE):
    """A function running an export on an inputs dict, loaded once so timings exclude it."""
    path = Path(path)
    if path.suffix == ".tflite":
        return _tflite_runner(path, num_threads=1)
    signature = tf.saved_model.load(str(path)).signatures[signature_name]
    return lambda feed: signature(**{k: tf.constant(v) for k, v in feed.items()})["image"].numpy()


def size_bytes(path):
    """Size of a file, or of everything under a directory (a SavedModel)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------- helpers
def _check_model(model, fmt):
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


#: Every format ``_check_model`` knows.
EXPORT_FORMATS = ("savedmodel", "tflite-none", "tflite-float16", "tflite-int8")


def _check_name(name):
    if not _NAME_PATTERN.match(name):
        raise ValueError(
            f"Model name {name!r} is not usable in a path or URL: use letters, digits, "
            "'_', '-' and '.'.")
    return name


def _refuse_existing(path, overwrite):
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True (--overwrite) to replace it, or "
            "choose another version / output directory.")
