"""SavedModels for TF Serving.

``export_savedmodel`` follows TF Serving's ``DIR/<name>/<version>/`` layout, is written next
to its final place and renamed in one step (a server watching ``DIR`` never loads half a
model), and carries two signatures:

* ``serving_default``: ``latent`` float32 ``(None, latent_dim)`` [+ ``label`` int32 ``(None,)``
  for conditional models] -> ``image`` float32 ``(None, H, W, C)`` in [-1, 1];
* ``generate_from_seed``: ``seed`` int64 ``(None,)`` [+ ``label``] -> one image per seed. The
  latent of seed ``s`` is ``tf.random.stateless_normal([latent_dim], seed=[s, 0],
  alg="philox")`` (``kgan.export.seed_latents``), the same on every machine and device, so a
  client can ask for "image 42" without shipping 100 floats, and reproduce it in Python.

Style models (StyleGAN) add a third, for the truncation trick:

* ``truncated``: ``latent`` float32 ``(None, latent_dim)`` + ``truncation_psi`` float32
  ``(None,)`` (one psi per latent, or one for all) -> ``model.generate(z=latent,
  truncation_psi=psi)``: mapping, ``w_avg + psi * (w - w_avg)`` with the tracked mean w, and
  synthesis in one graph. A psi outside [0, 1] fails the request. ``serving_default`` is
  psi = 1 (no truncation). A TF Serving signature has no optional inputs, hence the second
  signature rather than a defaulted argument.

Text-to-image models (:class:`kgan.models.text_conditioning.TextConditioned`) take captions:
``serving_default(text, latent)`` and ``generate_from_seed(text, seed)`` with ``text`` a
string tensor ``(None,)``; the text encoder, TextVectorization and vocabulary included, runs
inside the SavedModel. Image-to-image models export as filters (:mod:`kgan.export.filters`).

With ``uint8_io=True`` every signature also returns ``image_uint8``: ``round((image + 1) *
127.5)``, pixels ready for a PNG. :func:`write_models_config` writes ``DIR/models.config`` for
``tensorflow_model_server --model_config_file``; ``docs/serving.md`` shows the requests.
"""

import os
import shutil
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from kgan.export.filters import filter_archive
from kgan.export.graph import (SEED_SIGNATURE, SERVING_SIGNATURE, TRUNCATED_SIGNATURE,
                               exported_images, input_specs, is_text_model, stateless_latents,
                               to_uint8)
from kgan.export.inputs import check_filter_size, check_model, check_name, refuse_existing
from kgan.translation import TranslationGAN


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
    check_model(model, "savedmodel")
    size = check_filter_size(model, size)
    name = check_name(name or model.name)
    if isinstance(version, bool) or int(version) != version or version < 1:
        raise ValueError(f"version must be a positive integer; received {version!r}.")
    final = Path(out_dir) / name / str(int(version))
    refuse_existing(final, overwrite)
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


def _serving_archive(model, uint8_io, size=None):
    if isinstance(model, TranslationGAN):
        return filter_archive(model, uint8_io, size)
    if is_text_model(model):
        return _text_archive(model, uint8_io)

    def outputs(latent, label):
        image = exported_images(model, latent, label)
        return {"image": image, "image_uint8": to_uint8(image)} if uint8_io else {"image": image}

    def serve(latent, label=None):
        return outputs(latent, _checked_labels(label, model.num_classes))

    def from_seed(seed, label=None):
        return serve(stateless_latents(seed, model.latent_dim), label)

    archive = keras.export.ExportArchive()
    archive.track(model.generator)
    if hasattr(model, "output_transform"):
        archive.add_variable_collection("output_transform", model.output_transform_variables)
    specs = input_specs(model)
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
        return {"image": image, "image_uint8": to_uint8(image)} if uint8_io else {"image": image}

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


def _text_archive(model, uint8_io):
    """Text-to-image models: ``serving_default(text, latent)`` and
    ``generate_from_seed(text, seed)``, where ``text`` is a string tensor ``(None,)``: the
    text encoder, TextVectorization and its vocabulary included, runs inside the graph.
    Empty or unknown captions are not flagged there (``generate`` warns about them)."""
    def outputs(text, latent):
        embeddings = model.text_encoder(text, training=False)
        image = tf.clip_by_value(tf.cast(model.synthesize(latent, embeddings), tf.float32),
                                 -1.0, 1.0)
        return {"image": image, "image_uint8": to_uint8(image)} if uint8_io else {"image": image}

    def from_seed(text, seed):
        return outputs(text, stateless_latents(seed, model.latent_dim))

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
