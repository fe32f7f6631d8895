"""Side-by-side speed benchmarks, written to bench/results.json and bench/results.md.

    python tools/bench.py [--steps 30] [--batch_size 256] [--pairs tutorial] [--out bench]
    python tools/bench.py --steps 2 --rounds 1 --out /tmp/bench_smoke   # a quick smoke run
    python tools/bench.py --time_to_quality dcgan_mnist --target_fid 30   # see the end

Everything runs in one process on the same machine, in interleaved rounds (the median of
each run is reported), so the ratios compare like with like. Each training figure is given
per wall-clock second and per CPU-second of this process: on a machine shared with other
work the wall-clock rates move with their load, the CPU-time ones much less.

Two network pairs (a generator and its discriminator), picked with ``--pairs`` (both by
default), each trained on its own data set at the same batch (``--batch_size``, 256):

* ``tutorial``: the 28x28x1 DCGAN compared with TensorFlow's DCGAN tutorial, on MNIST
  (``DCGAN``, the Radford recipe at 28x28: kgan's compact layout, width 64, latent 100);
* ``cifar10``: the CIFAR-10 DCGAN at 32x32x3, on CIFAR-10, exactly what
  ``kgan.zoo.create("dcgan_cifar10")`` builds (the paper's topology, 4x4x256 -> 8x8x128 ->
  16x16x64 -> image, width 64, latent 100), whose convolutions are larger.

Every ``fit`` compiles with kgan's defaults (Adam(2e-4, beta_1=0.5), non-saturating loss,
no EMA), as the hand-written loops train. Each pair has its own reference: the float32 loop
of TensorFlow's DCGAN tutorial on the same networks built from Keras' own layers, as the
tutorial builds them, with the same optimizers and ``kgan.data`` pipeline (one forward pass
G(z), D(x), D(G(z)) under two ``GradientTape``s, both players updated); ``results.md`` gives
every row's ratio to its pair's reference. The same loop also runs on kgan's layers, whose
``BatchNormalization`` trains through TensorFlow's fused kernel
(``kgan.layers.BatchNormalization``): the row that shows what the layer alone gains.

On both pairs:

* ``fit`` with the model built under ``mixed_bfloat16`` (``kgan train --precision
  bfloat16``): alternating, simultaneous (also with ``steps_per_execution=10``), and
  alternating with ``jit_compile=True``. Issue 21's targets, the best of these rows in
  images/s over the float32 tutorial loop: >= 2x on the tutorial pair and >= 2.5x on the
  CIFAR-10 pair;
  ``results.md`` says whether each is met. oneDNN runs bfloat16 matmuls and convolutions on
  AMX / AVX512-BF16 units where the CPU has them, so ``results.md`` lists those CPU flags.

On the tutorial pair only:

* float32 ``fit`` against hand-written ``@tf.function`` loops, each two runs doing the
  same algorithm:

  - ``compile(update="simultaneous")`` vs the tutorial loop on kgan's layers, also with
    ``steps_per_execution=10`` (Keras runs ten steps per call into the graph, so its
    per-step Python work between steps, when the cores wait, is paid once per ten);
  - the default alternating update (a D step, then a G step on fresh latents against the
    updated D: Goodfellow et al.'s algorithm, as in the keras-io DCGAN example) vs the same
    two steps written by hand. It does one more G and D forward pass per batch than the
    tutorial, so it is slower than the tutorial loop by the algorithm, not by Keras.
* the same ``fit`` with ``jit_compile=True`` (XLA), under ``MirroredStrategy`` over two
  logical CPUs (or the visible GPUs), and with ``mixed_float16`` where there is a GPU; the
  mixed_bfloat16 rows over the float32 ``fit`` with the same update;
* the input pipeline alone (it must outrun training by >= 5x).

Independent of the pairs: where bfloat16's time goes (one convolution's three passes and
one BatchNorm pass, float32 vs bfloat16: ``time_kernels``), ``kgan.metrics.evaluate`` on
10,000 samples, and TFLite float32 vs int8 latency.

``--time_to_quality NAME --target_fid X`` instead trains zoo entry NAME's recipe from scratch
in each of ``--precisions`` (same seed and data) for at most ``--max_epochs``, scores it
after every epoch on ``--eval_n`` samples (``kgan.evaluation.progress.QualityTracker``:
FID on the project's classifier features, evaluations excluded from the clock) and reports
the training wall time at which FID first reaches X, to ``time_to_quality.json`` and
``time_to_quality.md`` in ``--out``.
"""

import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 30, "Timed training steps per measurement.")
flags.DEFINE_integer("batch_size", 256, "Global batch size of every run on every network "
                     "pair (issue 21 measured the tutorial DCGAN at 256).")
flags.DEFINE_string("out", "bench", "Folder for results.json and results.md.")
flags.DEFINE_integer("rounds", 3, "Interleaved timing rounds; each figure is the median.")
flags.DEFINE_multi_enum(
    "pairs", ["tutorial", "cifar10"], ["tutorial", "cifar10"],
    "Network pairs to time (repeat the flag for several): 'tutorial' (the 28x28x1 DCGAN on "
    "MNIST: the mixed_bfloat16 fit rows and all float32 comparisons), 'cifar10' (the CIFAR-10 "
    "DCGAN, kgan.zoo.create('dcgan_cifar10'), 32x32x3: the mixed_bfloat16 fit rows). Each "
    "pair has its own float32 tutorial-loop reference on its networks.")
flags.DEFINE_string("time_to_quality", None, "Zoo entry whose recipe is timed to --target_fid "
                    "(instead of the speed benchmarks).")
flags.DEFINE_float("target_fid", None, "FID (classifier features) --time_to_quality stops at.")
flags.DEFINE_list("precisions", ["float32", "bfloat16"], "--time_to_quality: the precisions "
                  "to train in, one after the other.")
flags.DEFINE_integer("max_epochs", 10, "--time_to_quality: epochs before giving up.")
flags.DEFINE_integer("eval_n", 2000, "--time_to_quality: samples per epoch's evaluation.")

TUTORIAL = "TF DCGAN tutorial loop (reference)"
TUTORIAL_KGAN_LAYERS = "TF DCGAN tutorial loop on kgan's layers (fused BatchNorm)"
SIMULTANEOUS = "kgan fit, update='simultaneous'"
SIMULTANEOUS_SPE = "kgan fit, update='simultaneous', steps_per_execution=10"
ALTERNATING_LOOP = "hand-written alternating loop"
ALTERNATING = "kgan fit (alternating, default)"
JIT = "kgan fit, jit_compile=True"
BF16 = "kgan fit, mixed_bfloat16 (alternating)"
BF16_SIMULTANEOUS = "kgan fit, mixed_bfloat16, update='simultaneous'"
BF16_SIMULTANEOUS_SPE = "kgan fit, mixed_bfloat16, update='simultaneous', steps_per_execution=10"
BF16_JIT = "kgan fit, mixed_bfloat16, jit_compile=True"
BF16_ROWS = (BF16, BF16_SIMULTANEOUS, BF16_SIMULTANEOUS_SPE, BF16_JIT)
PIPELINE = "tf.data pipeline alone"
#: CPU features that make bfloat16 (and int8) fast on x86 (``lscpu`` / /proc/cpuinfo flags).
CPU_FLAGS = ("avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
             "amx_int8")


def _dcgan():
    import kgan

    return kgan.models.DCGAN.build((28, 28, 1), latent_dim=100, width=64)


def _dcgan_cifar10():
    import kgan

    return kgan.zoo.create("dcgan_cifar10")


class Pair(NamedTuple):
    """A network pair: ``build()`` -> a fresh uncompiled DCGAN (under the current dtype
    policy), trained on ``dataset``; ``target`` is issue 21's best mixed_bfloat16 ``fit``
    over the float32 tutorial loop on these networks."""

    label: str
    build: Callable
    dataset: str
    target: float


PAIRS = {
    "tutorial": Pair("Tutorial DCGAN, 28x28x1 (MNIST)", _dcgan, "mnist", 2.0),
    "cifar10": Pair("CIFAR-10 DCGAN, 32x32x3 (kgan.zoo.create('dcgan_cifar10'))",
                    _dcgan_cifar10, "cifar10", 2.5),
}


def _data(batch_size, pair="tutorial"):
    import kgan

    return kgan.data.load(PAIRS[pair].dataset, batch_size=batch_size, repeat=True, seed=0)


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


def fit_timer(batch_size, strategy=None, pair="tutorial", **compile_kwargs):
    """``timer(steps)`` -> images/s of ``fit`` on a network pair (a :data:`PAIRS` name) in
    steady state (see :class:`_StepClock`)."""
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = PAIRS[pair].build()
        model.compile(**compile_kwargs)
    data = _data(batch_size, pair)
    model.fit(data, epochs=1, steps_per_epoch=3, verbose=0)
    clock = _StepClock(skip=compile_kwargs.get("steps_per_execution", 2))

    def timer(steps):
        total = steps + clock.skip
        model.fit(data, epochs=1, steps_per_epoch=total, verbose=0,
                  callbacks=[clock.callback])
        return _rates((total - clock.started_at) * batch_size, clock.start)

    return timer


def with_keras_layers(network):
    """``network`` rebuilt (fresh weights) with ``keras.layers.BatchNormalization`` where it
    has kgan's, as TensorFlow's tutorial writes its networks."""
    import keras

    from kgan.layers import BatchNormalization

    def clone(layer):
        kind = (keras.layers.BatchNormalization if isinstance(layer, BatchNormalization)
                else type(layer))
        return kind.from_config(layer.get_config())

    return keras.models.clone_model(network, clone_function=clone)


def _hand_written_step(alternating, pair="tutorial", keras_layers=False):
    """A ``@tf.function`` training step on a network pair's DCGAN networks (a :data:`PAIRS`
    name; with ``keras_layers``, built from Keras' own layers), Keras optimizers and BCE.

    ``alternating=False`` is TensorFlow's DCGAN tutorial step; ``True`` the same game with a
    discriminator step, then a generator step on fresh noise.
    """
    import keras
    import tensorflow as tf

    model = PAIRS[pair].build()
    generator, discriminator = model.generator, model.discriminator
    if keras_layers:
        generator, discriminator = with_keras_layers(generator), with_keras_layers(discriminator)
    latent_dim = model.latent_dim
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
        noise = tf.random.normal([tf.shape(images)[0], latent_dim])
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
        generated = generator(tf.random.normal([batch, latent_dim]), training=True)
        with tf.GradientTape() as disc_tape:
            disc_loss = d_loss_of(discriminator(images, training=True),
                                  discriminator(generated, training=True))
        d_opt.apply(disc_tape.gradient(disc_loss, d_vars), d_vars)
        with tf.GradientTape() as gen_tape:
            fake_output = discriminator(
                generator(tf.random.normal([batch, latent_dim]), training=True), training=True)
            gen_loss = g_loss_of(fake_output)
        g_opt.apply(gen_tape.gradient(gen_loss, g_vars), g_vars)
        return gen_loss

    return alternating_step if alternating else tutorial_step


def hand_written_timer(batch_size, alternating, pair="tutorial", keras_layers=False):
    """``timer(steps)`` -> images/s of :func:`_hand_written_step`, after 3 warm-up steps."""
    train_step = _hand_written_step(alternating, pair, keras_layers)
    batches = iter(_data(batch_size, pair))
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
    """``fit_timer`` (``pair=`` and compile arguments included) for a model built under
    ``kgan.precision.scope(precision)`` (``mixed_float16`` / ``mixed_bfloat16``); the global
    policy is restored afterwards."""
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


def time_kernels(repeats=20):
    """Where bfloat16's time goes: ms per call (median of ``repeats``) in float32 and in
    bfloat16 of the three passes of the CIFAR-10 DCGAN's largest convolution (D's
    8x8x128 -> 4x4x256, 4x4 kernel, stride 2, batch 256), and of one BatchNormalization
    forward + backward pass on its input, Keras' layer and kgan's."""
    import keras
    import tensorflow as tf

    from kgan.layers import BatchNormalization

    def batch_norm_pass(layer_class, x):
        layer = layer_class(dtype="float32" if x.dtype == tf.float32 else "mixed_bfloat16")

        @tf.function
        def run():
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.cast(layer(x, training=True), "float32")
            return tape.gradient(y, x, output_gradients=y)
        return run

    def median_ms(run):
        run()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run().numpy()
            times.append(time.perf_counter() - start)
        return 1e3 * statistics.median(times)

    rows = {}
    for dtype in ("float32", "bfloat16"):
        normal = lambda shape: tf.cast(tf.random.normal(shape, seed=0), dtype)  # noqa: E731
        x, w, dy = normal([256, 8, 8, 128]), normal([4, 4, 128, 256]), normal([256, 4, 4, 256])
        passes = {
            "convolution forward": lambda: tf.nn.conv2d(x, w, 2, "SAME"),
            "convolution input gradient": lambda: tf.raw_ops.Conv2DBackpropInput(
                input_sizes=x.shape, filter=w, out_backprop=dy, strides=[1, 2, 2, 1],
                padding="SAME"),
            "convolution filter gradient": lambda: tf.raw_ops.Conv2DBackpropFilter(
                input=x, filter_sizes=w.shape, out_backprop=dy, strides=[1, 2, 2, 1],
                padding="SAME"),
        }
        for name, run in passes.items():
            rows.setdefault(name, {})[dtype] = round(median_ms(tf.function(run)), 2)
        for name, layer in (("Keras BatchNormalization, forward + backward",
                             keras.layers.BatchNormalization),
                            ("kgan BatchNormalization, forward + backward", BatchNormalization)):
            rows.setdefault(name, {})[dtype] = round(median_ms(batch_norm_pass(layer, x)), 2)
    return rows


def kernel_lines(rows):
    """results.md's table of :func:`time_kernels`."""
    lines = ["", "### Where the time goes: one call, float32 and bfloat16", "",
             "The CIFAR-10 DCGAN's largest convolution (D's 8x8x128 -> 4x4x256, 4x4 stride 2, "
             "batch 256) and BatchNorm on its input; ms, median.", "",
             "| pass | float32 ms | bfloat16 ms | float32 / bfloat16 |",
             "| --- | --- | --- | --- |"]
    lines += [f"| {name} | {ms['float32']} | {ms['bfloat16']} | "
              f"{ms['float32'] / ms['bfloat16']:.2f} |" for name, ms in rows.items()]
    return lines


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


def pair_timers(batch_size, pair):
    """Each run's ``timer(steps)`` on one network pair, by run name: the float32 tutorial
    loop (the pair's reference) and the mixed_bfloat16 ``fit`` rows; on the tutorial pair
    also the float32 comparisons (and mixed_float16 where there is a GPU)."""
    import tensorflow as tf

    from kgan import distribute

    b = batch_size
    timers = {TUTORIAL: hand_written_timer(b, alternating=False, pair=pair, keras_layers=True),
              TUTORIAL_KGAN_LAYERS: hand_written_timer(b, alternating=False, pair=pair)}
    if pair == "tutorial":
        mirrored = distribute.get_strategy("mirrored")
        timers.update({
            SIMULTANEOUS: fit_timer(b, update="simultaneous"),
            SIMULTANEOUS_SPE: fit_timer(b, update="simultaneous", steps_per_execution=10),
            ALTERNATING_LOOP: hand_written_timer(b, alternating=True),
            ALTERNATING: fit_timer(b),
            JIT: fit_timer(b, jit_compile=True),
            f"kgan fit, MirroredStrategy x{mirrored.num_replicas_in_sync}":
                fit_timer(b, strategy=mirrored),
        })
    timers[BF16] = mixed_precision_timer(b, "bfloat16", pair=pair)
    timers[BF16_SIMULTANEOUS] = mixed_precision_timer(b, "bfloat16", pair=pair,
                                                      update="simultaneous")
    timers[BF16_SIMULTANEOUS_SPE] = mixed_precision_timer(
        b, "bfloat16", pair=pair, update="simultaneous", steps_per_execution=10)
    timers[BF16_JIT] = mixed_precision_timer(b, "bfloat16", pair=pair, jit_compile=True)
    if pair == "tutorial" and tf.config.list_physical_devices("GPU"):
        timers["kgan fit, mixed_float16"] = mixed_precision_timer(b)
    return timers


def _over(rates, reference):
    """Every rate in ``rates`` over ``rates[reference]``, to 3 decimals."""
    return {k: round(v / rates[reference], 3) for k, v in rates.items()}


def pair_results(pair, wall, cpu):
    """One pair's medians (``wall``: images/s, ``cpu``: images per CPU-second, by run), their
    ratios to the pair's float32 tutorial loop, and whether the best mixed_bfloat16 ``fit``
    row (in images/s) meets issue 21's target on these networks."""
    ratio = _over(wall, TUTORIAL)
    best = max(BF16_ROWS, key=wall.__getitem__)
    return {
        "networks": PAIRS[pair].label,
        "images_per_second": {k: round(v, 1) for k, v in wall.items()},
        "images_per_cpu_second": {k: round(v, 1) for k, v in cpu.items()},
        "ratio_to_tutorial_loop": ratio,
        "cpu_ratio_to_tutorial_loop": _over(cpu, TUTORIAL),
        "target": {"ratio": PAIRS[pair].target, "best_bfloat16_fit": best,
                   "best_ratio": ratio[best], "met": ratio[best] >= PAIRS[pair].target},
    }


def pair_lines(figures):
    """results.md's section for one pair: its table and the line on issue 21's target."""
    target = figures["target"]
    best = target["best_bfloat16_fit"]
    lines = ["", f"### {figures['networks']}", "",
             "| run | images/s | ratio to this pair's float32 tutorial loop | "
             "images per CPU-second | CPU-time ratio |", "| --- | --- | --- | --- | --- |"]
    per_cpu, cpu_ratio = figures["images_per_cpu_second"], figures["cpu_ratio_to_tutorial_loop"]

    def cell(table, run, spec):  # the pipeline has no CPU-time figure
        return format(table[run], spec) if run in table else "-"

    lines += [f"| {k} | {v:.0f} | {figures['ratio_to_tutorial_loop'][k]:.2f} | "
              f"{cell(per_cpu, k, '.0f')} | {cell(cpu_ratio, k, '.2f')} |"
              for k, v in figures["images_per_second"].items()]
    lines += ["", f"Issue 21 target on these networks, best mixed_bfloat16 `fit` >= "
              f"{target['ratio']}x the float32 tutorial loop's images/s: "
              f"**{'met' if target['met'] else 'not met'}** ({best}: "
              f"{target['best_ratio']:.2f}x; per CPU-second {cpu_ratio[best]:.2f}x)."]
    return lines


def tutorial_lines(results):
    """results.md's lines on the tutorial pair's float32 comparisons."""
    by_wall = results["ratio_to_same_algorithm_by_hand"]
    by_cpu = results["cpu_ratio_to_same_algorithm_by_hand"]
    lines = ["", "Tutorial pair, same algorithm, kgan `fit` / hand-written `@tf.function` loop "
             f"(wall clock; CPU time): simultaneous {by_wall[SIMULTANEOUS]:.2f}; "
             f"{by_cpu[SIMULTANEOUS]:.2f}, simultaneous with steps_per_execution=10 "
             f"{by_wall[SIMULTANEOUS_SPE]:.2f}; {by_cpu[SIMULTANEOUS_SPE]:.2f}, "
             f"alternating {by_wall[ALTERNATING]:.2f}; {by_cpu[ALTERNATING]:.2f}."]
    bf16, bf16_cpu = results["bfloat16_over_float32"], results["cpu_bfloat16_over_float32"]
    lines += ["", "Tutorial pair, mixed_bfloat16 / float32 `fit`, same update (wall clock; CPU "
              f"time): alternating {bf16[BF16]:.2f}; {bf16_cpu[BF16]:.2f}, simultaneous "
              f"{bf16[BF16_SIMULTANEOUS]:.2f}; {bf16_cpu[BF16_SIMULTANEOUS]:.2f}, "
              "simultaneous with "
              f"steps_per_execution=10 {bf16[BF16_SIMULTANEOUS_SPE]:.2f}; "
              f"{bf16_cpu[BF16_SIMULTANEOUS_SPE]:.2f}, alternating with jit_compile=True "
              f"{bf16[BF16_JIT]:.2f}; {bf16_cpu[BF16_JIT]:.2f}.", "",
              f"Pipeline alone / fit: {results['pipeline_over_fit']}x."]
    return lines


def time_to_quality(name, target_fid, precisions, max_epochs, n):
    """Per precision: the recipe trained from scratch until FID <= ``target_fid``, scored
    each epoch; returns ``{precision: {"reached": row or None, "epochs": [rows]}}``."""
    import keras

    from kgan import data, precision, zoo
    from kgan.evaluation.progress import QualityTracker

    cfg = zoo.info(name)
    recipe = cfg.recipe
    results = {}
    for mode in precisions:
        with precision.scope(mode):
            keras.utils.set_random_seed(recipe.get("seed", 0))
            model = zoo.load(name, pretrained=False)
            dataset = data.load(cfg.dataset, "train", recipe.get("batch_size", 128),
                                seed=recipe.get("seed", 0), labels=model.num_classes > 0)
            tracker = QualityTracker(cfg.dataset, n=n, target_fid=target_fid, name=name)
            model.fit(dataset, epochs=max_epochs, callbacks=[tracker], verbose=2)
        results[mode] = {"reached": tracker.reached, "epochs": tracker.history}
        print(mode, json.dumps(results[mode]), flush=True)
    return results


def time_to_quality_lines(name, target_fid, n, results):
    """The markdown report of :func:`time_to_quality`."""
    lines = [f"# Time to quality: {name}, FID <= {target_fid}", "",
             f"Machine: {machine()}. The entry's recipe from scratch, same seed and data in "
             f"each precision; FID on {n:,} samples against the test split (classifier "
             "features), after every epoch; training seconds exclude the evaluations.", "",
             "| precision | reached at epoch | training seconds | FID then | FID per epoch |",
             "| --- | --- | --- | --- | --- |"]
    for mode, result in results.items():
        hit = result["reached"]
        curve = ", ".join(f"{row['fid']:.1f}" for row in result["epochs"])
        reached = (f"{hit['epoch']} | {hit['train_seconds']} | {hit['fid']:.2f}" if hit
                   else "not reached | - | -")
        lines.append(f"| {mode} | {reached} | {curve} |")
    return lines


def main(argv):
    del argv
    import tensorflow as tf

    if FLAGS.time_to_quality:
        if FLAGS.target_fid is None:
            raise app.UsageError("--time_to_quality needs --target_fid.")
        results = time_to_quality(FLAGS.time_to_quality, FLAGS.target_fid, FLAGS.precisions,
                                  FLAGS.max_epochs, FLAGS.eval_n)
        out = Path(FLAGS.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "time_to_quality.json").write_text(json.dumps(
            {"entry": FLAGS.time_to_quality, "target_fid": FLAGS.target_fid,
             "eval_n": FLAGS.eval_n, "machine": machine(), "results": results}, indent=1))
        lines = time_to_quality_lines(FLAGS.time_to_quality, FLAGS.target_fid, FLAGS.eval_n,
                                      results)
        (out / "time_to_quality.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        return

    from kgan import distribute

    if not tf.config.list_physical_devices("GPU"):
        distribute.split_cpu(2)  # two logical CPUs for the MirroredStrategy figure

    b, steps = FLAGS.batch_size, FLAGS.steps
    pairs = [name for name in PAIRS if name in FLAGS.pairs]
    timers = {(pair, name): timer for pair in pairs
              for name, timer in pair_timers(b, pair).items()}
    # Interleaved rounds, median per run: a burst of load on a shared machine then hits
    # one round of every run instead of all rounds of one run.
    samples = {key: [] for key in timers}
    for round_ in range(FLAGS.rounds):
        for key, timer in timers.items():
            samples[key].append(timer(steps))
        print(f"round {round_ + 1}: " + ", ".join(
            f"{pair}: {k} {v[-1][0]:.0f}/s ({v[-1][1]:.0f}/CPU-s)"
            for (pair, k), v in samples.items()), flush=True)
    wall, cpu = ({pair: {} for pair in pairs} for _ in range(2))
    for (pair, name), vs in samples.items():
        wall[pair][name] = statistics.median(v[0] for v in vs)
        cpu[pair][name] = statistics.median(v[1] for v in vs)

    def bfloat16_over_float32(rates):
        return {BF16: round(rates[BF16] / rates[ALTERNATING], 3),
                BF16_SIMULTANEOUS: round(rates[BF16_SIMULTANEOUS] / rates[SIMULTANEOUS], 3),
                BF16_SIMULTANEOUS_SPE: round(rates[BF16_SIMULTANEOUS_SPE]
                                             / rates[SIMULTANEOUS_SPE], 3),
                BF16_JIT: round(rates[BF16_JIT] / rates[JIT], 3)}

    def same_algorithm(rates):
        return {SIMULTANEOUS: round(rates[SIMULTANEOUS] / rates[TUTORIAL_KGAN_LAYERS], 3),
                SIMULTANEOUS_SPE: round(rates[SIMULTANEOUS_SPE] / rates[TUTORIAL_KGAN_LAYERS],
                                        3),
                ALTERNATING: round(rates[ALTERNATING] / rates[ALTERNATING_LOOP], 3)}

    results = {"machine": machine(), "cpu_flags": cpu_flags(), "batch_size": b,
               "steps": steps, "rounds": FLAGS.rounds}
    if "tutorial" in pairs:
        tutorial, tutorial_cpu = wall["tutorial"], cpu["tutorial"]
        tutorial[PIPELINE] = time_pipeline(b, 10 * steps)
        results.update({
            "ratio_to_same_algorithm_by_hand": same_algorithm(tutorial),
            "cpu_ratio_to_same_algorithm_by_hand": same_algorithm(tutorial_cpu),
            "pipeline_over_fit": round(tutorial[PIPELINE] / tutorial[ALTERNATING], 1),
            # Same update, same networks: the model built under mixed_bfloat16 / float32.
            "bfloat16_over_float32": bfloat16_over_float32(tutorial),
            "cpu_bfloat16_over_float32": bfloat16_over_float32(tutorial_cpu),
        })
    results["pairs"] = {pair: pair_results(pair, wall[pair], cpu[pair]) for pair in pairs}
    results.update({
        "kernels_ms": time_kernels(),
        "fid_10000_samples_seconds": round(time_metrics(), 1),
        "tflite_ms_per_image": time_tflite(tempfile.mkdtemp()),
        "gpu": bool(tf.config.list_physical_devices("GPU")),
    })
    out = Path(FLAGS.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"Machine: {results['machine']}; batch {b}, {steps} timed steps per round, "
             f"median of {FLAGS.rounds} interleaved rounds.",
             f"CPU flags: {', '.join(results['cpu_flags']) or 'none of ' + ', '.join(CPU_FLAGS)}"
             " (AMX / AVX512-BF16 run oneDNN's bfloat16 kernels)."]
    for figures in results["pairs"].values():
        lines += pair_lines(figures)
    if "tutorial" in pairs:
        lines += tutorial_lines(results)
    lines += kernel_lines(results["kernels_ms"])
    lines += ["", f"kgan.metrics.evaluate on 10,000 samples: "
              f"{results['fid_10000_samples_seconds']} s. TFLite dcgan_mnist per image "
              f"(batch 1, 1 thread): float32 {results['tflite_ms_per_image']['none']:.2f} ms, "
              f"int8 {results['tflite_ms_per_image']['int8']:.2f} ms."]
    if not results["gpu"]:
        lines += ["", "mixed_float16 is measured on GPUs only: CPUs have no fast float16 "
                  "convolutions (here 10 steps had not finished after two minutes)."]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    app.run(main)
