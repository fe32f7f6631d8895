"""Image-to-image models (pix2pix, CycleGAN, SRGAN) as TF Serving filters.

A filter SavedModel's ``serving_default`` runs the default direction and every other
direction gets a signature named after it (CycleGAN's ``b2a``). Each direction also gets
``serving_uint8`` (uint8 pixels in and out) and ``serving_bytes`` (PNG / JPEG file bytes in,
PNG bytes out, the ``{"b64": ...}`` form of TF Serving's REST API). The generators are fully
convolutional: ``size=(H, W)`` exports the filter for another fixed input size.
"""

import keras
import tensorflow as tf

from kgan.export.graph import (SERVING_SIGNATURE, exported_images, exported_network,
                               from_uint8, input_specs, source_shape, to_uint8)


def filter_archive(model, uint8_io, size=None):
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
            image = exported_images(model, source, generator=network)
            return ({"image": image, "image_uint8": to_uint8(image)} if uint8_io
                    else {"image": image})

        def serve_uint8(source_uint8):
            return {"image_uint8": to_uint8(exported_images(model, from_uint8(source_uint8),
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
            source = resized(from_uint8(pixels)[None], tf.constant([height, width]))
            source = tf.ensure_shape(source, (1, height, width, channels))
            image = exported_images(model, source, generator=network)
            scale = tf.constant([out_height / height, out_width / width], tf.float64)
            back = tf.cast(tf.round(tf.cast(picture_size, tf.float64) * scale), tf.int32)
            return tf.io.encode_png(to_uint8(resized(image, back))[0])

        def serve_bytes(image_bytes):
            return {"image_bytes": tf.map_fn(one_picture, image_bytes,
                                             fn_output_signature=tf.string)}

        return serve, serve_uint8, serve_bytes

    archive = keras.export.ExportArchive()
    for i, direction in enumerate(model.directions):
        network = exported_network(model, direction, size)
        archive.track(network)
        serve, serve_uint8, serve_bytes = endpoints(network)
        prefix = "serving" if i == 0 else direction
        archive.add_endpoint(SERVING_SIGNATURE if i == 0 else direction, tf.function(serve),
                             input_signature=input_specs(model, direction, size))
        shape = [None, *source_shape(model, direction, size)]
        archive.add_endpoint(f"{prefix}_uint8", tf.function(serve_uint8), input_signature=[
            tf.TensorSpec(shape, tf.uint8, name="source_uint8")])
        archive.add_endpoint(f"{prefix}_bytes", tf.function(serve_bytes), input_signature=[
            tf.TensorSpec([None], tf.string, name="image_bytes")])
    return archive
