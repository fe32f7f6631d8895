"""Photo filters as phones get them: file size, latency and error of each TFLite format.

    python tools/filter_report.py pix2pix_facades
    python tools/filter_report.py pix2pix_facades --weights runs/pix2pix_facades/backup/backup-000050.weights.h5
    python tools/filter_report.py cyclegan_sneaker2boot --sizes 28x28 --formats none,int8

For every entry, format (float32, float16, int8) and input size it exports the filter
(``kgan.export.export_tflite``; int8 calibrated on ``--calibration`` training-split sources at
the model's size; other sizes, only timed, on ``calibration_inputs``' default pixel budget,
8 photos at 512x512) and measures:

* the file's size;
* the latency of one image, median of ``--repeats`` calls after two warm-up calls, with the
  interpreter's default XNNPACK delegate on each of ``--threads``;
* at the model's own size, the error against the Keras model on ``--n`` test-split sources:
  mean and max absolute difference in [-1, 1] units, and the PSNR of the filter's output
  against the float model's (both mapped to [0, 1]).

Results are merged into ``<out>/filters.json`` (one record per entry, format, size and
thread count) and ``<out>/filters.md`` is rewritten from it, with the machine named. Time
it on quiet cores: latencies are wall-clock.
"""

import json
import tempfile
import time
from pathlib import Path

import numpy as np
from absl import app, flags

from kgan import zoo
from kgan.export import calibration_inputs, compare, export_tflite
from kgan.export.tflite import tflite_runner
from kgan.translation import check_size
from kgan.zoo.hardware import hardware

FLAGS = flags.FLAGS
flags.DEFINE_string("weights", None, "Weights file to measure instead of the published ones "
                    "(a run's backup or <name>.weights.h5; one entry only).")
flags.DEFINE_list("formats", ["none", "float16", "int8"], "TFLite formats (quantize values).")
flags.DEFINE_list("sizes", ["256x256", "512x512"], "Filter input sizes HxW.")
flags.DEFINE_list("threads", ["1", "2"], "Interpreter thread counts.")
flags.DEFINE_integer("n", 16, "Test images for the error against Keras.")
flags.DEFINE_integer("calibration", 32, "Training images that calibrate int8 ranges at the "
                     "model's own size (other sizes: kgan.export's default pixel budget).")
flags.DEFINE_integer("repeats", 10, "Timed one-image calls per measurement (median).")
flags.DEFINE_string("out", "bench", "Folder of filters.json and filters.md.")


def load_model(name, weights):
    """The entry with its published weights, or with ``weights`` (a file of this run)."""
    if weights is None:
        return zoo.load(name, compile=False)
    model = zoo.load(name, pretrained=False, compile=False)
    model.load_weights(weights)
    return model


def errors(model, path, n):
    """Error of a filter at the model's own size against ``model.translate``."""
    stats = compare(model, path, n=n, seed=1)
    return {"mean_abs_error": round(stats["mean_abs_error"], 5),
            "max_abs_error": round(stats["max_abs_error"], 4),
            "psnr_vs_float_db": round(stats["psnr_db"], 2)}


def latency_ms(path, size, channels, threads, repeats):
    """Median wall time of one ``size`` image through the filter, in ms."""
    run = tflite_runner(path, threads)
    image = np.random.default_rng(0).uniform(-1, 1, (1, *size, channels)).astype("float32")
    for _ in range(2):
        run({"source": image})
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run({"source": image})
        times.append(time.perf_counter() - start)
    return round(1e3 * float(np.median(times)), 1)


def measure(name, weights, formats, sizes, threads, n, calibration, repeats):
    """One record per format, size and thread count of entry ``name``."""
    model = load_model(name, weights)
    own = tuple(model.source_shape()[:2])
    channels = model.source_shape()[-1]
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for quantize in formats:
            for size in sizes:
                start = time.time()
                other = None if size == own else size
                extra = {}
                if quantize == "int8":  # other sizes are only timed: the default pixel budget
                    extra["representative_data"] = calibration_inputs(
                        model, None if other else calibration, size=other)
                path = export_tflite(model, tmp, quantize=quantize, overwrite=True,
                                     size=other, **extra)
                quality = {} if other else errors(model, path, n)
                for count in threads:
                    records.append({
                        "entry": name, "weights": weights or "published",
                        "format": "float32" if quantize == "none" else quantize,
                        "size": f"{size[0]}x{size[1]}", "threads": count,
                        "file_mb": round(path.stat().st_size / 1e6, 2),
                        "latency_ms": latency_ms(path, size, channels, count, repeats),
                        **quality, "convert_seconds": round(time.time() - start, 1)})
                    print(json.dumps(records[-1]), flush=True)
    return records


def write_tables(out, records):
    """Merges ``records`` into ``out/filters.json`` and rewrites ``out/filters.md``."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "filters.json"
    old = json.loads(path.read_text()) if path.exists() else []
    key = lambda r: (r["entry"], r["format"], r["size"], r["threads"])  # noqa: E731
    merged = {key(r): r for r in old + records}
    rows = sorted(merged.values(), key=key)
    path.write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        "# Photo filters: size, latency and error per TFLite format",
        "",
        f"Written by `tools/filter_report.py` on {hardware()}. Latency: one image, median "
        "wall time, XNNPACK. Error: the filter's output against the float Keras model on "
        "test-split sources at the model's own size, in [-1, 1] units; PSNR on [0, 1].",
        "",
        "| entry (weights) | format | size | threads | file MB | ms / image | "
        "mean abs error | max abs error | PSNR vs float (dB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['entry']} ({r['weights']}) | {r['format']} | {r['size']} | {r['threads']} "
            f"| {r['file_mb']} | {r['latency_ms']} | {r.get('mean_abs_error', '')} | "
            f"{r.get('max_abs_error', '')} | {r.get('psnr_vs_float_db', '')} |")
    (out / "filters.md").write_text("\n".join(lines) + "\n")


def parse_size(text):
    """``(H, W)`` of one ``--sizes`` value, or a usage error naming the form."""
    try:
        return check_size(text)
    except ValueError as error:
        raise app.UsageError(f"--sizes: {error}")


def main(argv):
    names = argv[1:]
    if not names:
        raise app.UsageError("usage: filter_report.py NAME [NAME ...] [--weights FILE]")
    if FLAGS.weights and len(names) != 1:
        raise app.UsageError("--weights measures one entry; name exactly one.")
    sizes = [parse_size(s) for s in FLAGS.sizes]
    threads = [int(t) for t in FLAGS.threads]
    records = []
    for name in names:
        records += measure(name, FLAGS.weights, FLAGS.formats, sizes, threads, FLAGS.n,
                           FLAGS.calibration, FLAGS.repeats)
    write_tables(Path(FLAGS.out), records)


if __name__ == "__main__":
    app.run(main)
