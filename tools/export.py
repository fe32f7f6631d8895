"""Exports a zoo entry's (or a saved .keras GAN's) generator for serving or phones.

    python tools/export.py dcgan_mnist --savedmodel                  # exported/dcgan_mnist/1/
    python tools/export.py cgan_mnist --savedmodel --uint8_io --version 2
    python tools/export.py dcgan_mnist --tflite --quantize int8      # dcgan_mnist_int8.tflite
    python tools/export.py runs/my_gan.keras --tflite --quantize float16 --out phone/
    python tools/export.py pix2pix_edges2fashion --tflite --quantize int8 --uint8_io
    python tools/export.py cyclegan_NAME --tflite --direction b2a   # one file per direction
    python tools/export.py pix2pix_edges2fashion --tflite --quantize int8 --calibration_dir pics/
    python tools/export.py cyclegan_horse2zebra --tflite --uint8_io --size 512x384
    python tools/export.py pix2pix_facades --tflite --quantize float16 --size dynamic

Image-to-image entries export as image-in, image-out filters (``--uint8_io``: uint8 pixels in
and out in every ``--quantize``; ``--size HxW``: another fixed input size, ``--size
dynamic``: any size (float32 / float16 files); SavedModels add
``serving_uint8`` and ``serving_bytes`` signatures, see docs/serving.md); run one on a PNG or
JPEG photo with ``python tools/apply_filter.py FILTER.tflite photo.jpg out.png``.

The same as ``kgan export``; see kgan/export/ for the signatures and formats and
docs/serving.md for TF Serving. SavedModel exports also (re)write OUT/models.config. After
writing, the export is checked against Keras and its size, error and latency are printed.
Errors (unknown entry, existing version, ...) print one line and exit with status 2.
"""

from kgan import cli

if __name__ == "__main__":
    cli.run_command("export")
