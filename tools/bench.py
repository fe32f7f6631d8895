"""Side-by-side speed benchmarks, written to bench/results.json and bench/results.md.

    python tools/bench.py [--steps 30] [--out bench]
    python tools/bench.py --steps 3 --rounds 1 --out /tmp/bench_smoke   # a quick smoke run

Everything runs in one process on the same machine, in interleaved rounds (the median of
each run is reported), so the ratios compare like with like. Each training figure is given
per wall-clock second and per CPU-second of this process: on a machine shared with other
work the wall-clock rates move with their load, the CPU-time ones much less.

* ``fit`` against hand-written ``@tf.function`` loops on the same networks (``DCGAN``, the
  Radford recipe at 28x28, width 64, batch 128, no EMA), optimizers and ``kgan.data``
  pipeline, each pair running the same algorithm:

  - ``compile(update="simultaneous")`` vs the loop of TensorFlow's DCGAN tutorial (one
    forward pass G(z), D(x), D(G(z)) under two ``GradientTape``s, both players updated),
    also with ``steps_per_execution=10`` (Keras runs ten steps per call into the graph, so
    its per-step Python work between steps, when the cores wait, is paid once per ten);
  - the default alternating update (a D step, then a G step on fresh latents against the
    updated D: Goodfellow et al.'s algorithm, as in the keras-io DCGAN example) vs the same
    two steps written by hand. It does one more G and D forward pass per batch than the
    tutorial, so it is slower than the tutorial loop by the algorithm, not by Keras.
* the same ``fit`` with ``jit_compile=True`` (XLA), under ``MirroredStrategy`` over two
  logical CPUs (or the visible GPUs), and with ``mixed_float16`` where there is a GPU;
* ``fit`` with the model built under ``mixed_bfloat16`` (``kgan train --precision
  bfloat16``): alternating, simultaneous with ``steps_per_execution=10``, and alternating
  with ``jit_compile=True``, against the same float32 tutorial loop. oneDNN runs bfloat16
  matmuls and convolutions on AMX / AVX512-BF16 units where the CPU has them, so
  ``results.md`` lists those CPU flags;
* the input pipeline alone (it must outrun training by >= 5x);
* ``kgan.metrics.evaluate`` on 10,000 samples, and TFLite float32 vs int8 latency.
"""

import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 30, "Timed training steps per measurement.")
flags.DEFINE_integer("batch_size", 128, "Global batch size.")
flags.DEFINE_string("out", "bench", "Folder for results.json and results.md.")
flags.DEFINE_integer("rounds", 3, "Interleaved timing rounds; each figure is the median.")

TUTORIAL = "TF DCGAN tutorial loop (reference)"
SIMULTANEOUS = "kgan fit, update='simultaneous'"
SIMULTANEOUS_SPE = "kgan fit, update='simultaneous', steps_per_execution=10"
ALTERNATING_LOOP = "hand-written alternating loop"
ALTERNATING = "kgan fit (alternating, default)"
JIT = "kgan fit, jit_compile=True"
BF16 = "kgan fit, mixed_bfloat16 (alternating)"
BF16_SIMULTANEOUS_SPE = "kgan fit, mixed_bfloat16, update='simultaneous', steps_per_execution=10"
BF16_JIT = "kgan fit, mixed_bfloat16, jit_compile=True"
#: CPU features that make bfloat16 (and int8) fast on x86 (``lscpu`` / /proc/cpuinfo flags).
CPU_FLAGS = ("avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
             "amx_int8")


def _dcgan():
    import kgan

    return kgan.models.DCGAN.build((28, 28, 1), latent_dim=100, width=64)


def _data(batch_size):
    import kgan

    return kgan.data.load("mnist", batch_size=batch_size, repeat=True, seed=0)


def _now():
    """Wall-clock and process CPU seconds. On a shared machine the wall-clock rate moves
    with other processes' load; images per CPU-second of this process much less."""
    return time.perf_counter(), time.process_time()


def _rates(images, start):
    """``(images per wall second, images per CPU second)`` since ``start = _now()``."""
    wall, cpu = (now - then for now, then in zip(_now(), start))
    return images / wall, images / cpu


def _rate(batch_size, steps, run):
    start = _now()
    run()
    return _rates(steps * batch_size, start)


class _StepClock:
    """Starts the clock at the first batch end at or after ``skip`` batches of a ``fit``
    call, so the figure is the steady-state rate: each ``fit`` call makes a fresh dataset
    iterator (which refills the 60,000-image shuffle buffer), while the hand-written loops
    keep theirs. With ``steps_per_execution`` > 1 Keras reports only every n-th batch end;
    ``started_at`` is the number of batches done when the clock started."""

    def __init__(self, skip):
        import keras

        class Clock(keras.callbacks.Callback):
            def on_train_begin(self_, logs=None):  # noqa: N805
                self.start = None

            def on_train_batch_end(self_, batch, logs=None):  # noqa: N805
                if self.start is None and batch >= skip - 1:
                    self.start, self.started_at = _now(), batch + 1

        self.skip, self.callback, self.start, self.started_at = skip, Clock(), None, 0


def fit_timer(batch_size, strategy=None, **compile_kwargs):
    """``timer(steps)`` -> images/s of ``fit`` in steady state (see :class:`_StepClock`)."""
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = _dcgan()
        model.compile(**compile_kwargs)
    data = _data(batch_size)
    model.fit(data, epochs=1, steps_per_epoch=3, verbose=0)
    clock = _StepClock(skip=compile_kwargs.get("steps_per_execution", 2))

    def timer(steps):
        total = steps + clock.skip
        model.fit(data, epochs=1, steps_per_epoch=total, verbose=0,
                  callbacks=[clock.callback])
        return _rates((total - clock.started_at) * batch_size, clock.start)

    return timer


def _hand_written_step(alternating):
    """A ``@tf.function`` training step on kgan's DCGAN networks, Keras optimizers and BCE.

    ``alternating=False`` is TensorFlow's DCGAN tutorial step; ``True`` the same game with a
    discriminator step, then a generator step on fresh noise.
    """
    import keras
    import tensorflow as tf

    model = _dcgan()
    generator, discriminator = model.generator, model.discriminator
    g_vars, d_vars = generator.trainable_variables, discriminator.trainable_variables
    g_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
    d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    def d_loss_of(real_output, fake_output):
        return (cross_entropy(tf.ones_like(real_output), real_output)
                + cross_entropy(tf.zeros_like(fake_output), fake_output))

    def g_loss_of(fake_output):
        return cross_entropy(tf.ones_like(fake_output), fake_output)

    @tf.function
    def tutorial_step(images):
        noise = tf.random.normal([tf.shape(images)[0], 100])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated, training=True)
            gen_loss = g_loss_of(fake_output)
            disc_loss = d_loss_of(real_output, fake_output)
        g_opt.apply(gen_tape.gradient(gen_loss, g_vars), g_vars)
        d_opt.apply(disc_tape.gradient(disc_loss, d_vars), d_vars)
        return gen_loss

    @tf.function
    def alternating_step(images):
        batch = tf.shape(images)[0]
        generated = generator(tf.random.normal([batch, 100]), training=True)
        with tf.GradientTape() as disc_tape:
            disc_loss = d_loss_of(discriminator(images, training=True),
                                  discriminator(generated, training=True))
        d_opt.apply(disc_tape.gradient(disc_loss, d_vars), d_vars)
        with tf.GradientTape() as gen_tape:
            fake_output = discriminator(
                generator(tf.random.normal([batch, 100]), training=True), training=True)
            gen_loss = g_loss_of(fake_output)
        g_opt.apply(gen_tape.gradient(gen_loss, g_vars), g_vars)
        return gen_loss

    return alternating_step if alternating else tutorial_step


def hand_written_timer(batch_size, alternating):
    """``timer(steps)`` -> images/s of :func:`_hand_written_step`, after 3 warm-up steps."""
    train_step = _hand_written_step(alternating)
    batches = iter(_data(batch_size))
    for _ in range(3):
        train_step(next(batches))

    def run(steps):
        for _ in range(steps):
            loss = train_step(next(batches))
        float(loss)  # wait for the last step

    return lambda steps: _rate(batch_size, steps, lambda: run(steps))


def time_pipeline(batch_size, steps):
    batches = iter(_data(batch_size))
    next(batches)
    start = time.perf_counter()
    for _ in range(steps):
        next(batches)
    return steps * batch_size / (time.perf_counter() - start)


def mixed_precision_timer(batch_size, precision="float16", **compile_kwargs):
    """``fit_timer`` for a model built under ``kgan.precision.scope(precision)``
    (``mixed_float16`` / ``mixed_bfloat16``); the global policy is restored afterwards."""
    from kgan import precision as kgan_precision

    with kgan_precision.scope(precision):
        return fit_timer(batch_size, **compile_kwargs)


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


def cpu_flags():
    """Which of :data:`CPU_FLAGS` this CPU has (Linux; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    have = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            have.update(line.split(":", 1)[1].split())
    return [flag for flag in CPU_FLAGS if flag in have]


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
    timers = {
        TUTORIAL: hand_written_timer(b, alternating=False),
        SIMULTANEOUS: fit_timer(b, update="simultaneous"),
        SIMULTANEOUS_SPE: fit_timer(b, update="simultaneous", steps_per_execution=10),
        ALTERNATING_LOOP: hand_written_timer(b, alternating=True),
        ALTERNATING: fit_timer(b),
        JIT: fit_timer(b, jit_compile=True),
        f"kgan fit, MirroredStrategy x{mirrored.num_replicas_in_sync}":
            fit_timer(b, strategy=mirrored),
    }
    timers[BF16] = mixed_precision_timer(b, "bfloat16")
    timers[BF16_SIMULTANEOUS_SPE] = mixed_precision_timer(
        b, "bfloat16", update="simultaneous", steps_per_execution=10)
    timers[BF16_JIT] = mixed_precision_timer(b, "bfloat16", jit_compile=True)
    if tf.config.list_physical_devices("GPU"):
        timers["kgan fit, mixed_float16"] = mixed_precision_timer(b)
    # Interleaved rounds, median per run: a burst of load on a shared machine then hits
    # one round of every run instead of all rounds of one run.
    samples = {name: [] for name in timers}
    for round_ in range(FLAGS.rounds):
        for name, timer in timers.items():
            samples[name].append(timer(steps))
        print(f"round {round_ + 1}: " + ", ".join(
            f"{k} {v[-1][0]:.0f}/s ({v[-1][1]:.0f}/CPU-s)" for k, v in samples.items()),
            flush=True)
    wall = {k: statistics.median(v[0] for v in vs) for k, vs in samples.items()}
    cpu = {k: statistics.median(v[1] for v in vs) for k, vs in samples.items()}
    wall["tf.data pipeline alone"] = time_pipeline(b, 10 * steps)

    def bfloat16_over_float32(rates):
        return {BF16: round(rates[BF16] / rates[ALTERNATING], 3),
                BF16_SIMULTANEOUS_SPE: round(rates[BF16_SIMULTANEOUS_SPE]
                                             / rates[SIMULTANEOUS_SPE], 3),
                BF16_JIT: round(rates[BF16_JIT] / rates[JIT], 3)}

    def same_algorithm(rates):
        return {SIMULTANEOUS: round(rates[SIMULTANEOUS] / rates[TUTORIAL], 3),
                SIMULTANEOUS_SPE: round(rates[SIMULTANEOUS_SPE] / rates[TUTORIAL], 3),
                ALTERNATING: round(rates[ALTERNATING] / rates[ALTERNATING_LOOP], 3)}

    results = {
        "machine": machine(),
        "cpu_flags": cpu_flags(),
        "batch_size": b,
        "steps": steps,
        "rounds": FLAGS.rounds,
        "images_per_second": {k: round(v, 1) for k, v in wall.items()},
        "images_per_cpu_second": {k: round(v, 1) for k, v in cpu.items()},
        "ratio_to_tutorial_loop": {k: round(v / wall[TUTORIAL], 3) for k, v in wall.items()},
        "ratio_to_same_algorithm_by_hand": same_algorithm(wall),
        "cpu_ratio_to_same_algorithm_by_hand": same_algorithm(cpu),
        "pipeline_over_fit": round(wall["tf.data pipeline alone"] / wall[ALTERNATING], 1),
        # Same update, same networks: the model built under mixed_bfloat16 / under float32.
        "bfloat16_over_float32": bfloat16_over_float32(wall),
        "cpu_bfloat16_over_float32": bfloat16_over_float32(cpu),
        "fid_10000_samples_seconds": round(time_metrics(), 1),
        "tflite_ms_per_image": time_tflite(tempfile.mkdtemp()),
        "gpu": bool(tf.config.list_physical_devices("GPU")),
    }
    out = Path(FLAGS.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"Machine: {results['machine']}; batch {b}, {steps} timed steps per round, "
             f"median of {FLAGS.rounds} interleaved rounds.",
             f"CPU flags: {', '.join(results['cpu_flags']) or 'none of ' + ', '.join(CPU_FLAGS)}"
             " (AMX / AVX512-BF16 run oneDNN's bfloat16 kernels).", "",
             "| run | images/s | ratio to the tutorial loop | images per CPU-second |",
             "| --- | --- | --- | --- |"]
    per_cpu = {k: f"{v:.0f}" for k, v in cpu.items()}
    lines += [f"| {k} | {v:.0f} | {results['ratio_to_tutorial_loop'][k]:.2f} | "
              f"{per_cpu.get(k, '-')} |" for k, v in wall.items()]
    by_wall = results["ratio_to_same_algorithm_by_hand"]
    by_cpu = results["cpu_ratio_to_same_algorithm_by_hand"]
    lines += ["", "Same algorithm, kgan `fit` / hand-written `@tf.function` loop (wall clock; "
              f"CPU time): simultaneous {by_wall[SIMULTANEOUS]:.2f}; {by_cpu[SIMULTANEOUS]:.2f}, "
              f"simultaneous with steps_per_execution=10 {by_wall[SIMULTANEOUS_SPE]:.2f}; "
              f"{by_cpu[SIMULTANEOUS_SPE]:.2f}, "
              f"alternating {by_wall[ALTERNATING]:.2f}; {by_cpu[ALTERNATING]:.2f}."]
    bf16, bf16_cpu = results["bfloat16_over_float32"], results["cpu_bfloat16_over_float32"]
    lines += ["", "mixed_bfloat16 / float32 `fit`, same update (wall clock; CPU time): "
              f"alternating {bf16[BF16]:.2f}; {bf16_cpu[BF16]:.2f}, simultaneous with "
              f"steps_per_execution=10 {bf16[BF16_SIMULTANEOUS_SPE]:.2f}; "
              f"{bf16_cpu[BF16_SIMULTANEOUS_SPE]:.2f}, alternating with jit_compile=True "
              f"{bf16[BF16_JIT]:.2f}; {bf16_cpu[BF16_JIT]:.2f}."]
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
