"""Training precision: float32, or Keras mixed precision with bfloat16 or float16 compute.

``kgan train NAME --precision bfloat16`` (``tools/train_zoo.py --precision``,
``kgan.training.train(..., precision="bfloat16")``) builds and trains the model under Keras'
``mixed_bfloat16`` dtype policy. The layers then compute in bfloat16 while everything that
accumulates or is compared stays float32: the variables (so the saved weights), BatchNorm
statistics, the generator's EMA, the logits (``GAN._d`` casts them), the losses and the
gradient / R1 penalties with their input gradients (the data enter the step as float32), and
the metric trackers. Every generator ends in a float32 layer, so ``generate`` returns float32,
and a bfloat16-trained model's weights load into a float32 model, which draws the same images
up to bfloat16 rounding. bfloat16 has float32's exponent range, so it needs no loss scaling;
``float16`` (``mixed_float16``) does: ``GAN.compile`` wraps both optimizers in a
``LossScaleOptimizer`` then.

Where it pays: on CPUs with AMX-BF16 / AVX512-BF16 (Intel Sapphire Rapids and later) oneDNN
runs bfloat16 matmuls and convolutions several times faster than float32 (whole training
steps gain less: ``tools/bench.py`` measures them), and on recent GPUs. float16 pays on GPUs only: CPUs have no fast float16
convolution kernels (on this project's 2-core AMX Xeon, a 3x3, 64-channel convolution's forward
and backward pass on 32 14x14 maps took 2.7-4.1 s in float16, 6-13 ms in float32 and 2-3 ms in
bfloat16).

Example:
    >>> with kgan.precision.scope("bfloat16"):
    ...     model = kgan.zoo.load("dcgan_mnist", pretrained=False)
    >>> model.fit(kgan.data.load("mnist"), epochs=1)   # the model keeps its policy
"""

import contextlib
import warnings

#: ``precision`` values and the Keras dtype policies they select.
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}

FLOAT16_ON_CPU = (
    "float16 on a CPU is very slow: CPUs have no fast float16 convolutions (a 3x3 conv's "
    "forward and backward pass measured 300-500x slower than in float32 on a Xeon); use "
    "--precision bfloat16 (precision='bfloat16') on CPUs, float16 on GPUs."
)


def policy_name(precision):
    """The Keras dtype policy of ``precision`` ("float32", "bfloat16" or "float16")."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; received "
                         f"{precision!r}.")
    return PRECISIONS[precision]


def warning(precision):
    """Why ``precision`` is a poor choice on this machine, or None: float16 without a GPU."""
    policy_name(precision)
    if precision == "float16" and not _has_gpu():
        return FLOAT16_ON_CPU
    return None


def check(precision):
    """Validates ``precision``, warns (``UserWarning``) when :func:`warning` has something
    to say, and returns its Keras policy name."""
    name = policy_name(precision)
    note = warning(precision)
    if note:
        warnings.warn(note, UserWarning, stacklevel=2)
    return name


@contextlib.contextmanager
def scope(precision):
    """Sets Keras' global dtype policy for ``precision`` and restores the previous one on
    exit (also on errors). Models keep the policy they were built with."""
    import keras

    name = check(precision)
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(name)
    try:
        yield name
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def is_float32(model):
    """Whether ``model`` was built under the float32 policy (computes in float32)."""
    return model.dtype_policy.compute_dtype == "float32"


def float32_copy(model, name):
    """A float32 copy of zoo entry ``name``'s ``model`` (built under any policy): a fresh,
    uncompiled build under the float32 policy holding the model's weights, its generator's
    EMA weights when it has them. What users get when they load the saved weights, so cards
    and samples are measured on it. A float32 ``model`` is returned as it is."""
    if is_float32(model):
        return model
    from kgan import zoo

    with scope("float32"):
        copy = zoo.create(name)
    with model.inference_weights():
        copy.set_weights(model.get_weights())
    return copy


def float32_network(network):
    """A float32 copy of a functional ``network`` built under any policy (nested models
    included), holding its current weights. For what runs outside Keras' mixed precision:
    TFLite, for one, cannot convert bfloat16 matmuls."""
    import keras

    def clone(layer):
        config = layer.get_config()
        dtype = config.get("dtype")
        if isinstance(dtype, dict) or (isinstance(dtype, str) and "float" in dtype):
            config["dtype"] = "float32"
        return layer.__class__.from_config(config)

    with scope("float32"):
        copy = keras.models.clone_model(network, clone_function=clone, recursive=True)
    copy.set_weights(network.get_weights())
    return copy


def _has_gpu():
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return any(d.platform != "cpu" for d in jax.devices())
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))
