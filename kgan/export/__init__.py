"""Exporting kgan generators: SavedModels for TF Serving and TFLite (LiteRT) files for phones.

Only the generator leaves (a served or mobile GAN draws images, it does not train), with its
EMA weights when it has them. One module per concern:

* :mod:`kgan.export.inputs`: what an export takes (a zoo entry or a ``.keras`` file, the
  calibration inputs) and what it refuses before writing anything;
* :mod:`kgan.export.graph`: the computation both formats share (the network, its images,
  signature names and inputs, seed latents);
* :mod:`kgan.export.savedmodel`: TF Serving's ``DIR/<name>/<version>/`` with the
  ``serving_default``, ``generate_from_seed`` (and StyleGAN's ``truncated``) signatures;
* :mod:`kgan.export.filters`: image-to-image models' signatures (float, uint8 and image-file
  bytes, per direction);
* :mod:`kgan.export.tflite` and :mod:`kgan.export.tflite_layers`: the converter, float16 and
  full-integer int8 files, and the layers swapped in so the converter can lower a generator;
* :mod:`kgan.export.int8_ranges`: int8 activation ranges at a percentile of the calibration
  values instead of their min and max;
* :mod:`kgan.export.float_fallback`: int8 filters whose upsampling stages stay float32, a
  measured per-op fallback;
* :mod:`kgan.export.compare`: an export's error against Keras, latency and size;
* :mod:`kgan.export.outlier_finetune`: fine-tuning a filter whose int8 file errs, so that its
  normalizations' inputs fit one int8 range (``tools/int8_finetune.py``).

``tools/apply_filter.py`` runs an exported filter on a photo without kgan (numpy, Pillow
and a TFLite interpreter only, for a Raspberry Pi or an app's tooling), so it keeps its
own copy of the few lines that map pixels to a quantized input and back.

The functions below are the public API (``kgan export`` and ``tools/export.py`` call them;
``docs/serving.md`` shows the requests).

Example:
    >>> model = kgan.zoo.load("dcgan_mnist")
    >>> kgan.export.export_savedmodel(model, "exported")        # exported/dcgan_mnist/1/
    >>> kgan.export.write_models_config("exported")
    >>> path = kgan.export.export_tflite(model, "exported", quantize="int8",
    ...                                  representative_data=kgan.export.calibration_inputs(model))
    >>> kgan.export.compare(model, path)        # errors against Keras and ms per image
"""

from kgan.export.compare import compare, size_bytes, translate_at
from kgan.export.graph import (SEED_SIGNATURE, SERVING_SIGNATURE, TRUNCATED_SIGNATURE,
                               seed_latents)
from kgan.export.inputs import (CALIBRATION_PIXELS, EXPORT_FORMATS, calibration_inputs,
                                folder_images, load_exportable)
from kgan.export.savedmodel import export_savedmodel, write_models_config
from kgan.export.tflite import QUANTIZATIONS, export_tflite, run_tflite

__all__ = ["CALIBRATION_PIXELS", "EXPORT_FORMATS", "QUANTIZATIONS", "SEED_SIGNATURE",
           "SERVING_SIGNATURE", "TRUNCATED_SIGNATURE", "calibration_inputs", "compare",
           "export_savedmodel", "export_tflite", "folder_images", "load_exportable",
           "run_tflite", "seed_latents", "size_bytes", "translate_at", "write_models_config"]
