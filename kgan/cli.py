"""The ``kgan`` command: ``kgan list|info|train|sample|eval|export``.

    kgan list [PATTERN]
    kgan info NAME
    kgan train NAME [--data mnist] [--epochs N] [--batch_size B] [--out DIR] [--strategy mirrored]
               [--backup_every BATCHES] [--precision float32|bfloat16|float16]
    kgan train FAMILY --data folder:PATH --image_size 64 [--channels 3]   (a family, e.g.
               dcgan, built for a folder of the user's own images; see kgan.zoo.list_families)
    kgan sample NAME [--n 64] [--out grid.png] [--seed 0] [--nopretrained]
                (audio entries: --out is a folder of .wav files, --n 10 clips)
                (voxel entries: --out is a folder: samples.png, NN.npy, NN.obj; --n 16)
                (image-to-image models: n test sources, rows of source | output | target)
    kgan sample NAME --text "a dark ankle boot" [--text "a bag" ...]   (text-to-image models;
                captions printed under the images)
    kgan sample NAME --label 7 [--label 3 ...]   (conditional models: one class for all
                samples, or repeated, one per sample)
    kgan eval NAME [--n 10000]   (image-to-image models: L1, SSIM, classifier accuracy;
                text-to-image: class / attribute agreement on held-out captions;
                audio models: kgan.evaluation.audio, --n 300;
                voxel models: kgan.evaluation.voxels, --n 1200)
    kgan export NAME_OR_PATH --savedmodel|--tflite [--quantize none|float16|int8]
                [--uint8_io] [--out DIR] [--version N] [--overwrite]
                [--direction a2b] [--calibration_dir FOLDER] [--size HxW]
                (image-to-image filters) [--int8_percentile P]
                [--[no]int8_float_upsampling]

``tools/export.py`` is ``kgan export``. Errors in what the user typed (unknown names,
missing files, bad values) print one line ``kgan: error: ...`` and exit with status 2; a
run that cannot go on (a diverged training, a file that cannot be written) prints the same
one line and exits with status 1; no traceback. ``kgan train`` rerun with the same ``--out``
resumes from the last backup.
"""

import dataclasses
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter

from absl import app, flags, logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("data", None, "train: data set name (default: the entry's), or "
                    "folder:PATH for a family on a folder of images.")
flags.DEFINE_integer("image_size", None, "train: side the folder's images are resized to "
                     "(with --data folder:PATH).", lower_bound=1)
flags.DEFINE_integer("channels", 3, "train: channels of the folder's images (1, 3 or 4).",
                     lower_bound=1, upper_bound=4)
flags.DEFINE_string("data_dir", None, "train: folder holding <data>/ IDX files.")
flags.DEFINE_integer("epochs", None, "train: epochs (default: the recipe's).", lower_bound=1)
flags.DEFINE_integer("batch_size", None, "train: per-replica batch size (default: recipe).",
                     lower_bound=1)
flags.DEFINE_integer("steps_per_epoch", None, "train: limit the steps per epoch.", lower_bound=1)
flags.DEFINE_integer("backup_every", None, "train: batches between backups (default: one "
                     "backup per epoch).", lower_bound=1)
flags.DEFINE_string("out", None, "train: run folder; sample: PNG path (audio: a folder "
                    "for .wav files; voxels: a folder for samples.png, .npy and .obj).")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker", "auto"],
                  "train: tf.distribute strategy.")
# The choices are kgan.precision.PRECISIONS (spelled out: importing kgan imports Keras).
flags.DEFINE_enum("precision", None, ["float32", "bfloat16", "float16"],
                  "train: compute precision (default: the recipe's, else float32). bfloat16 "
                  "is Keras' mixed_bfloat16 (float32 weights; fast on CPUs with AMX / "
                  "AVX512-BF16 and on GPUs); float16 is mixed_float16 with loss scaling, "
                  "for GPUs.")
flags.DEFINE_boolean("pretrained", None, "Start from the zoo weights (train: default False; "
                     "sample/eval: default True).")
flags.DEFINE_integer("n", None, "sample: images in the grid (64); eval: samples (the kind's "
                     "default: 10000 images, 300 clips, 1200 shapes).",
                     lower_bound=1)
flags.DEFINE_integer("seed", 0, "sample: latent seed.")
flags.DEFINE_multi_string("text", None, "sample: caption for text-to-image models; once for "
                          "all samples (n defaults to 8), or repeated, one per sample.")
flags.DEFINE_multi_integer("label", None, "sample: class index for conditional models; once "
                           "for all samples, or repeated, one per sample (default: the "
                           "classes in turn).")
flags.DEFINE_boolean("savedmodel", False, "export: TF Serving SavedModel OUT/<name>/<version>/.")
flags.DEFINE_boolean("tflite", False, "export: TFLite file OUT/<name>_<float32|float16|"
                     "int8>[_uint8].tflite.")
flags.DEFINE_enum("quantize", "none", ["none", "float16", "int8"], "export: TFLite type.")
flags.DEFINE_boolean("uint8_io", False, "export: SavedModel adds an image_uint8 output; "
                     "TFLite int8 takes uint8 latents and returns uint8 images; image-to-"
                     "image filters take and return uint8 pixels in every --quantize.")
flags.DEFINE_integer("version", 1, "export: SavedModel version directory.", lower_bound=1)
flags.DEFINE_boolean("overwrite", False, "export: replace an existing version / file.")
flags.DEFINE_integer("calibration_samples", None, "export: inputs calibrating int8 ranges "
                     "(default: 256 latents, or source images holding about 2 M pixels: 32 "
                     "at 256x256; kgan.export.calibration_inputs).", lower_bound=1)
flags.DEFINE_string("direction", None, "export --tflite: which direction of an image-to-image "
                    "model to write (default: its first; SavedModels hold every direction).")
flags.DEFINE_string("size", None, "export: HEIGHTxWIDTH (e.g. 512x384) input size of an "
                    "image-to-image filter, when not the model's own; --tflite float32 / "
                    "float16: 'dynamic' for any size.")
flags.DEFINE_float("int8_percentile", None, "export --quantize int8: percentile of each "
                   "activation's calibration values that sets its range (100: min/max; "
                   "default: as the zoo entry declares, else 99.99, "
                   "kgan.export.int8_ranges.DEFAULT_PERCENTILE).")
flags.DEFINE_boolean("int8_float_upsampling", None, "export --quantize int8 of an image "
                     "filter: keep its upsampling stages float32, a per-op float fallback "
                     "(default: as the zoo entry declares; kgan.export.float_fallback).")
flags.DEFINE_string("calibration_dir", None, "export: int8 calibration images of an "
                    "image-to-image model from this folder (default: the entry's data set).")

COMMANDS = ("list", "info", "train", "sample", "eval", "export")


def _usage_error(message, status=2):
    print(f"kgan: error: {message}", file=sys.stderr)
    sys.exit(status)


def _cmd_list(args):
    from kgan import zoo

    for name in zoo.list_models(args[0] if args else "*"):
        cfg = zoo.info(name)
        status = "weights" if cfg.weights else "no weights"
        print(f"{name:28s} {cfg.family:12s} {cfg.dataset:14s} {status}")


def _cmd_info(args):
    from kgan import zoo

    cfg = zoo.info(_one_name(args))
    print(json.dumps({**dataclasses.asdict(cfg), "card": cfg.card}, indent=2, default=str))


def _cmd_train(args):
    from kgan import training

    from kgan import precision

    name = _one_name(args)
    out = FLAGS.out or f"runs/{name}"
    note = precision.warning(FLAGS.precision) if FLAGS.precision else None
    if note:
        print(f"kgan: warning: {note}", file=sys.stderr)
    model, history, wall = training.train(
        name, out, data=FLAGS.data, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
        steps_per_epoch=FLAGS.steps_per_epoch, strategy=FLAGS.strategy,
        pretrained=bool(FLAGS.pretrained), data_dir=FLAGS.data_dir,
        backup_every=FLAGS.backup_every, image_size=FLAGS.image_size, channels=FLAGS.channels,
        precision=FLAGS.precision)
    final = {k: round(float(v[-1]), 4) for k, v in history.items()}
    import keras

    from kgan import zoo

    if name in zoo.list_models():  # the report `tools/train_zoo.py NAME --from_run` publishes
        from kgan.zoo import publish

        steps = int(keras.ops.convert_to_numpy(model.g_optimizer.iterations))
        epochs = training.epochs_done(out, history)
        publish.write_run(precision.float32_copy(model, name), name, out, {
            "epochs": epochs, "steps": steps, "wall_seconds": round(wall, 1),
            "keras_backend": keras.backend.backend(), "precision": model.dtype_policy.name})
    print(f"trained {name} on {keras.backend.backend()} in {wall:.0f} s: {final}; weights, "
          f"samples and backups in {out}/")


def _cmd_sample(args):
    from kgan import zoo
    from kgan.modalities.images import sample_images, save_grid

    from kgan.translation import TranslationGAN
    from kgan.zoo.publish import translation_grid

    name = _one_name(args)
    if FLAGS.text and not _has_text(name):
        raise ValueError(f"--text applies to text-to-image models; {name} takes no captions "
                         "(see `kgan list text2image*`).")
    if FLAGS.label and _has_text(name):
        raise ValueError(f"{name} takes captions, not labels: use --text.")
    model = zoo.load(name, pretrained=FLAGS.pretrained is not False)
    out = Path(FLAGS.out or f"{name}_samples.png")
    if out.is_dir():  # an existing folder is a folder, whatever its name (run.v2/)
        out = out / f"{name}_samples.png"
    if getattr(model, "default_captions", ()):
        _sample_text(model, name, out)
        return
    if isinstance(model, TranslationGAN):  # rows of test source | output | target
        n = FLAGS.n or 10
        path = translation_grid(model, zoo.info(name).dataset, out, n)
        print(f"wrote {n} translations of {name} (source | output | target) to {path}")
        return
    if getattr(model, "modality", "image") in _FOLDER_SAMPLES:
        _sample_to_folder(model, name)
        return
    labels, n = _labels(model, 64)
    if labels is None:
        images, rows = sample_images(model, n, FLAGS.seed)
    else:
        images, rows = model.generate(n, labels=labels, seed=FLAGS.seed), None
    path = save_grid(out, images, rows)
    print(f"wrote {n} samples of {name} to {path}")


def _labels(model, default_n):
    """``(labels, n)`` from --label and --n: None (the classes in turn) without --label."""
    labels = FLAGS.label
    if not labels:
        return None, FLAGS.n or default_n
    if not model.conditional:
        raise ValueError(f"--label applies to conditional models; {model.name} is "
                         "unconditional (see `kgan list cgan*`).")
    return _once_or_per_sample(labels, "--label values", default_n)


def _once_or_per_sample(values, what, default_n):
    """``(values, n)`` for a repeatable flag given once for all samples (``--n`` of them,
    ``default_n`` without it) or once per sample (``--n``, if given, must agree)."""
    if len(values) == 1:
        n = FLAGS.n or default_n
        return list(values) * n, n
    if FLAGS.n and FLAGS.n != len(values):
        raise ValueError(f"--n={FLAGS.n} but {len(values)} {what} were given; give one per "
                         "sample, or one for all.")
    return list(values), len(values)


#: Modalities whose samples are files in a folder: (writer in kgan.zoo.publish, default
#: count, what the folder holds, what a sample is called).
_FOLDER_SAMPLES = {
    "audio": ("write_wav_samples", 10, ".wav files", "clips"),
    "voxels": ("write_voxel_samples", 16, "samples.png, .npy and .obj files", "shapes"),
}


def _sample_to_folder(model, name):
    """Audio clips (listenable .wav) or voxel shapes (rendered grid + .npy/.obj) in --out."""
    from kgan.zoo import publish

    writer, default_n, holds, noun = _FOLDER_SAMPLES[model.modality]
    folder = Path(FLAGS.out or f"{name}_samples")
    if folder.suffix and not folder.is_dir():
        raise ValueError(f"--out for {'an audio' if model.modality == 'audio' else 'a voxel'} "
                         f"model is a folder for {holds}; received {str(folder)!r} (drop the "
                         "extension).")
    labels, n = _labels(model, default_n)
    files = getattr(publish, writer)(model, folder, n, FLAGS.seed, labels)
    shown = ", ".join(files[:4]) + (", ..." if len(files) > 4 else "")
    print(f"wrote {n} {noun} of {name} to {folder}/: {shown}")


def _has_text(name):
    from kgan import zoo

    return "text_encoder" in zoo.info(name).model_kwargs


def _sample_text(model, name, out):
    """Text-to-image samples with their captions: --text given, or one row per class."""
    from kgan.modalities.images import save_captioned_grid

    texts = FLAGS.text
    if not texts:
        captions = model.default_captions
        n = FLAGS.n or 8 * len(captions)
        texts = [captions[i % len(captions)] for i in range(n)]
    else:
        texts, _ = _once_or_per_sample(texts, "--text captions", 8)
    images = model.generate(text=list(texts), seed=FLAGS.seed)
    cols = 8 if FLAGS.text else len(model.default_captions)
    path = save_captioned_grid(out, images, texts, cols=cols)
    print(f"wrote {len(texts)} samples of {name} with their captions to {path}")


def _cmd_eval(args):
    from kgan import zoo
    from kgan.evaluation import evaluate

    name = _one_name(args)
    model = zoo.load(name, pretrained=FLAGS.pretrained is not False)
    result = evaluate(model, zoo.info(name).dataset, n=FLAGS.n)
    print(json.dumps(result, indent=2, default=float))


def _cmd_export(args):
    from kgan import export
    from kgan.translation import TranslationGAN

    logging.set_verbosity(logging.WARNING)  # TF logs every SavedModel write at INFO
    if len(args) != 1:
        raise ValueError("give exactly one NAME (zoo entry) or PATH (.keras file).")
    if FLAGS.savedmodel == FLAGS.tflite:
        raise ValueError("choose exactly one of --savedmodel or --tflite.")
    if FLAGS.savedmodel and FLAGS.quantize != "none":
        raise ValueError("--quantize applies to --tflite only.")
    if FLAGS.tflite and FLAGS["version"].present:
        raise ValueError("--version applies to --savedmodel only.")
    if FLAGS.savedmodel and FLAGS.direction:
        raise ValueError("--direction applies to --tflite only: SavedModels hold every "
                         "direction as its own signature.")
    model = export.load_exportable(args[0])
    translator = isinstance(model, TranslationGAN)
    if (FLAGS.direction or FLAGS.calibration_dir or FLAGS.size) and not translator:
        raise ValueError("--direction, --calibration_dir and --size apply to image-to-image "
                         f"models; {args[0]} generates from latents.")
    out = FLAGS.out or "exported"
    if FLAGS.savedmodel:
        path = export.export_savedmodel(model, out, FLAGS.version, FLAGS.uint8_io,
                                        FLAGS.overwrite, size=FLAGS.size)
        print(f"wrote {export.write_models_config(out)}")
    else:
        extra = (dict(direction=FLAGS.direction, folder=FLAGS.calibration_dir,
                      size=FLAGS.size) if translator else {})
        data = (export.calibration_inputs(model, FLAGS.calibration_samples, **extra)
                if FLAGS.quantize == "int8" and FLAGS.size != "dynamic" else None)
        path = export.export_tflite(model, out, FLAGS.quantize, data, FLAGS.uint8_io,
                                    FLAGS.overwrite, direction=FLAGS.direction,
                                    size=FLAGS.size, percentile=FLAGS.int8_percentile,
                                    float_upsampling=FLAGS.int8_float_upsampling)
    stats = export.compare(model, path, direction=FLAGS.direction)
    print(f"wrote {path} ({export.size_bytes(path) / 1024:.0f} KiB); against Keras on 32 "
          f"{stats['compared_on']}: mean |error| {stats['mean_abs_error']:.2g}, "
          f"max {stats['max_abs_error']:.2g}; {stats['ms_per_image']:.2f} ms per image "
          "(batch 1)")


def _one_name(args):
    if len(args) != 1:
        _usage_error("expected exactly one zoo entry name; see `kgan list`.")
    return args[0]


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        _usage_error(f"expected a command: {' | '.join(COMMANDS)}")
    command, args = argv[1], argv[2:]
    from kgan.callbacks import DivergenceError

    try:
        globals()[f"_cmd_{command}"](args)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        _usage_error(_one_line(err))
    except (DivergenceError, OSError) as err:
        _usage_error(_one_line(err), status=1)
    except KeyboardInterrupt:
        _usage_error("interrupted.", status=130)


def _one_line(err):
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def run():
    """Console-script entry point."""
    app.run(main, flags_parser=_parse_flags)


def run_command(command):
    """Entry point of a tool that is one ``kgan`` command (``tools/export.py``)."""
    app.run(lambda argv: main([argv[0], command, *argv[1:]]), flags_parser=_parse_flags)


def _parse_flags(argv):
    try:
        return FLAGS(argv)
    except flags.Error as err:
        _usage_error(str(err))


if __name__ == "__main__":
    run()
