"""Side-by-side speed benchmarks, written to bench/results.json and bench/results.md.

    python tools/bench.py [--steps 30] [--out bench]

Everything runs in one process on the same machine, one after another, so the ratios
compare like with like (absolute figures move with the machine's load):

* ``fit``: ``DCGAN.fit`` (the Radford recipe at 28x28, width 64, batch 128, no EMA) against
  the hand-written ``@tf.function`` loop with two ``GradientTape``s of TensorFlow's DCGAN
  tutorial on the same networks, optimizers and ``kgan.data`` pipeline. The tutorial takes
  one simultaneous step for both players (one generator forward pass); ``GAN.train_step``
  alternates a discriminator step and a generator step with fresh latents, as in
  Goodfellow et al.'s algorithm, which costs one more generator forward pass per batch.
* the same ``fit`` with ``jit_compile=True`` (XLA), under ``MirroredStrategy`` over two
  logical CPUs (or the visible GPUs), and with ``mixed_float16`` where there is a GPU;
* the input pipeline alone (it must outrun training by >= 5x);
* ``kgan.metrics.evaluate`` on 10,000 samples, and TFLite float32 vs int8 latency.
"""

import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 30, "Timed training steps per measurement.")
flags.DEFINE_integer("batch_size", 128, "Global batch size.")
flags.DEFINE_string("out", "bench", "Folder for results.json and results.md.")


def _dcgan():
    import kgan

    return kgan.models.DCGAN.build((28, 28, 1), latent_dim=100, width=64)


def _data(batch_size):
    import kgan

    return kgan.data.load("mnist", batch_size=batch_size, repeat=True, seed=0)


def time_fit(batch_size, steps, strategy=None, **compile_kwargs):
    """Images per second of ``fit`` after a warm-up epoch that compiles the step."""
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = _dcgan()
        model.compile(**compile_kwargs)
    data = _data(batch_size)
    model.fit(data, epochs=1, steps_per_epoch=3, verbose=0)
    start = time.perf_counter()
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps * batch_size / (time.perf_counter() - start)


def time_tutorial_loop(batch_size, steps):
    """TensorFlow's DCGAN tutorial training step on the same networks and data."""
    import keras
    import tensorflow as tf

    model = _dcgan()
    generator, discriminator = model.generator, model.discriminator
    g_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
    d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(images):
        noise = tf.random.normal([tf.shape(images)[0], 100])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated, training=True)
            gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
            disc_loss = (cross_entropy(tf.ones_like(real_output), real_output)
                         + cross_entropy(tf.zeros_like(fake_output), fake_output))
        g_vars, d_vars = generator.trainable_variables, discriminator.trainable_variables
        g_opt.apply(gen_tape.gradient(gen_loss, g_vars), g_vars)
        d_opt.apply(disc_tape.gradient(disc_loss, d_vars), d_vars)
        return gen_loss

    batches = iter(_data(batch_size))
    for _ in range(3):
        train_step(next(batches))
    start = time.perf_counter()
    for _ in range(steps):
        loss = train_step(next(batches))
    float(loss)  # wait for the last step
    return steps * batch_size / (time.perf_counter() - start)


def time_pipeline(batch_size, steps):
    batches = iter(_data(batch_size))
    next(batches)
    start = time.perf_counter()
    for _ in range(steps):
        next(batches)
    return steps * batch_size / (time.perf_counter() - start)


def time_mixed_precision(batch_size, steps):
    import keras

    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        return time_fit(batch_size, steps)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def time_metrics():
    import kgan

    model = kgan.zoo.load("dcgan_mnist")
    kgan.metrics.evaluate(model, "mnist", n=500)  # real statistics cached, classifier built
    start = time.perf_counter()
    kgan.metrics.evaluate(model, "mnist", n=10000)
    return time.perf_counter() - start


def time_tflite(tmp):
    import kgan
    from kgan import export

    model = kgan.zoo.load("dcgan_mnist")
    results = {}
    for quantize in ("none", "int8"):
        data = export.calibration_inputs(model, 256, seed=1) if quantize == "int8" else None
        path = export.export_tflite(model, tmp, quantize, data, overwrite=True)
        results[quantize] = export.compare(model, path, n=64)["ms_per_image"]
    return results


def machine():
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{', '.join(gpus) or 'no GPU'}, TensorFlow {tf.__version__}")


def main(argv):
    del argv
    import tensorflow as tf

    from kgan import distribute

    if not tf.config.list_physical_devices("GPU"):
        distribute.split_cpu(2)  # two logical CPUs for the MirroredStrategy figure

    b, steps = FLAGS.batch_size, FLAGS.steps
    mirrored = distribute.get_strategy("mirrored")
    runs = {
        "tutorial loop (reference)": lambda: time_tutorial_loop(b, steps),
        "kgan fit": lambda: time_fit(b, steps),
        "kgan fit, jit_compile=True": lambda: time_fit(b, steps, jit_compile=True),
        f"kgan fit, MirroredStrategy x{mirrored.num_replicas_in_sync}":
            lambda: time_fit(b, steps, strategy=mirrored),
        "tf.data pipeline alone": lambda: time_pipeline(b, 10 * steps),
    }
    if tf.config.list_physical_devices("GPU"):
        runs["kgan fit, mixed_float16"] = lambda: time_mixed_precision(b, steps)
    rows = {}
    for name, run in runs.items():
        rows[name] = run()
        print(f"{name}: {rows[name]:.0f} images/s", flush=True)
    reference = rows["tutorial loop (reference)"]
    results = {
        "machine": machine(),
        "batch_size": b,
        "steps": steps,
        "images_per_second": {k: round(v, 1) for k, v in rows.items()},
        "ratio_to_tutorial_loop": {k: round(v / reference, 3) for k, v in rows.items()},
        "pipeline_over_fit": round(rows["tf.data pipeline alone"] / rows["kgan fit"], 1),
        "fid_10000_samples_seconds": round(time_metrics(), 1),
        "tflite_ms_per_image": time_tflite(tempfile.mkdtemp()),
        "gpu": bool(tf.config.list_physical_devices("GPU")),
    }
    out = Path(FLAGS.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"Machine: {results['machine']}; batch {b}, {steps} timed steps each.", "",
             "| run | images/s | ratio to the tutorial loop |", "| --- | --- | --- |"]
    lines += [f"| {k} | {v:.0f} | {results['ratio_to_tutorial_loop'][k]:.2f} |"
              for k, v in rows.items()]
    lines += ["", f"Pipeline alone / fit: {results['pipeline_over_fit']}x. "
              f"kgan.metrics.evaluate on 10,000 samples: {results['fid_10000_samples_seconds']} s. "
              f"TFLite dcgan_mnist per image (batch 1, 1 thread): float32 "
              f"{results['tflite_ms_per_image']['none']:.2f} ms, int8 "
              f"{results['tflite_ms_per_image']['int8']:.2f} ms."]
    if not results["gpu"]:
        lines += ["", "mixed_float16 is measured on GPUs only: CPUs have no fast float16 "
                  "convolutions (here 10 steps had not finished after two minutes)."]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    app.run(main)
