"""Layers swapped into a copy of the generator so the TFLite converter can lower it.

Nearest ``UpSampling2D`` layers become one static-shape resize each: Keras' ``repeat``-based
version loses the heights in the converter after a few stages, which left ProGAN's 16x16 and
32x32 convolutions unconvertible. For int8, the generator's tanh also clips its input to
[-4, 4] (at most 7e-4 of change), so the quantization steps of that tensor go where tanh is
steep instead of to saturated background pixels (this took the mean int8 error of
``dcgan_fashion_mnist`` from 0.077 to 0.012), instance norms are rewritten with ops that
have int8 kernels (``GroupNormalization``'s own graph keeps float ops), and the convolutions
feeding them are equalised per channel on the calibration images.
"""

import keras
import numpy as np

from kgan.export.float_fallback import FLOAT_MARK


#: tanh(4) = 0.99933, so clipping tanh's input to [-4, 4] moves no pixel by more than 7e-4.
#: Without it, saturated background pixels stretch that tensor's int8 range to about +-20,
#: and mid-grey pixels, where tanh is steep, are quantized in steps of ~0.1.
_TANH_INPUT_LIMIT = 4.0


class _ClippedTanh(keras.layers.Layer):
    def call(self, x):
        return keras.ops.tanh(keras.ops.clip(x, -_TANH_INPUT_LIMIT, _TANH_INPUT_LIMIT))


class _InstanceNorm(keras.layers.Layer):
    """Instance norm written with ops TFLite has int8 kernels for (mean, subtract, batch
    matmul, rsqrt, multiply, add); ``GroupNormalization``'s own graph leaves float ops behind.

    It is computed as ``x * a + b`` with ``a = gamma * rsqrt(var + eps)`` and ``b = beta -
    mean * a`` on the ``(1, 1, 1, C)`` statistics: no full-size ``x - mean`` read only by a
    multiply. TFLite's calibrator records such a tensor with the range of the multiply's
    output (the multiply reuses its buffer), 4x too wide in CycleGAN's first norm; this form
    halves cyclegan_sneaker2boot's a2b int8 error (mean 0.058 -> 0.031).

    The variance is each channel's dot product of its deviations with themselves (a batch
    matmul, summed in int32), not the mean of an int8 tensor of squares: squares of
    heavy-tailed activations span hundreds of times their mean, so most of them rounded
    to the same few int8 steps. In pix2pix_facades that alone put the output 0.065 off the
    float model. ``epsilon`` may be a per-channel vector (:func:`equalize_instance_norms`).
    """

    def __init__(self, epsilon, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), name="gamma")
        self.beta = self.add_weight(shape=(input_shape[-1],), name="beta")

    def call(self, x):
        ops = keras.ops
        _, height, width, channels = x.shape
        pixels = height * width
        mean = ops.mean(x, axis=(1, 2), keepdims=True)
        # (N, H, W, C) deviations -> (N*C, HW): one row of pixels per image and channel.
        rows = ops.reshape(ops.transpose(ops.reshape(x - mean, (-1, pixels, channels)),
                                         (0, 2, 1)), (-1, pixels))
        squares = ops.matmul(ops.expand_dims(rows, 1), ops.expand_dims(rows, 2))
        variance = ops.reshape(squares, (-1, 1, 1, channels)) * (1.0 / pixels)
        scale = self.gamma * ops.rsqrt(variance + self.epsilon)
        return x * scale + (self.beta - mean * scale)


def _is_instance_norm(layer):
    return (isinstance(layer, keras.layers.GroupNormalization) and layer.center and layer.scale
            and layer.groups in (-1, layer.input.shape[-1]) and len(layer.input.shape) == 4)


class _NearestUpSampling(keras.layers.Layer):
    """``UpSampling2D`` (nearest) as one resize op with static sizes.

    Keras implements nearest upsampling with ``repeat``, whose output heights the TFLite
    converter loses after a few stages (``?x?x32x8``); it then cannot lower the following
    CONV_2D at all (ProGAN's 16x16 and 32x32 convolutions). A nearest resize by an integer
    factor picks the same pixels, and TFLite has a (float and int8) kernel for it.
    """

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = size

    def call(self, x):
        height, width = x.shape[1] * self.size[0], x.shape[2] * self.size[1]
        return keras.ops.image.resize(x, (height, width), interpolation="nearest")


def _replacement(layer, int8, name):
    """The layer a TFLite export uses instead of ``layer`` (named ``name``), or None to
    keep it."""
    if (isinstance(layer, keras.layers.UpSampling2D) and layer.interpolation == "nearest"
            and layer.data_format == "channels_last"):
        return _NearestUpSampling(layer.size, name=name, dtype=layer.dtype_policy)
    if not int8:
        return None
    if (isinstance(layer, keras.layers.Activation)
            and layer.get_config()["activation"] == "tanh"):
        return _ClippedTanh(name=name, dtype=layer.dtype_policy)
    if _is_instance_norm(layer):
        return _InstanceNorm(layer.epsilon, name=name, dtype=layer.dtype_policy)
    return None


def tflite_friendly(network, int8, calibration=None, float_layers=()):
    """``network`` itself, or a copy (current weights) whose nearest upsamplings have
    static shapes and, for int8, whose tanh layers clip their input first and whose
    instance norms use int8-convertible ops, with the channels of the convolutions feeding
    them equalised on the ``calibration`` inputs (:func:`equalize_instance_norms`). The
    copies of the ``float_layers`` (names) carry ``FLOAT_MARK``: their ops stay float32
    (:mod:`kgan.export.float_fallback`)."""
    if not float_layers and all(_replacement(layer, int8, layer.name) is None
                                for layer in network.layers):
        return network

    def clone(layer):
        name = layer.name + (FLOAT_MARK if layer.name in float_layers else "")
        stand_in = _replacement(layer, int8, name)
        return stand_in if stand_in is not None else layer.__class__.from_config(
            {**layer.get_config(), "name": name})

    copy = keras.models.clone_model(network, clone_function=clone)
    copy.set_weights(network.get_weights())
    if calibration is not None:
        equalize_instance_norms(copy, calibration)
    return copy


def equalize_instance_norms(network, inputs, batch_size=8):
    """Rescales each output channel of a convolution that feeds only an instance norm so
    that every channel spans [-1, 1] on ``inputs``; the norm's epsilon follows, per channel,
    so the float outputs stay the same.

    int8 activations have one scale per tensor, set by its widest channel. Instance norm
    then stretches every channel to unit variance, and with it the quantization noise of
    the narrow ones: in pix2pix_facades' last decoder norm the widest channel reaches 144
    while the median channel's deviation is 1.9, so the rounding noise of its int8 steps
    (1.1) was 16 % of a typical channel's deviation, and 4 % after this rescaling
    (cross-layer equalisation, Nagel et al. 2019, here into the norm). Instance norm
    ignores a positive scale ``s`` of its input channel apart from epsilon: ``(s x - s m)
    / sqrt(s^2 v + s^2 eps)`` is the norm of ``x``. Convolution kernels are quantized per
    output channel, so the rescaled kernels lose nothing.
    """
    pairs = [(conv, norm) for norm in network.layers if isinstance(norm, _InstanceNorm)
             for conv in [norm.input._keras_history.operation]
             if isinstance(conv, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))
             and conv.get_config()["activation"] == "linear" and len(conv._outbound_nodes) == 1]
    if not pairs:
        return
    probe = keras.Model(network.inputs, [norm.input for _, norm in pairs])
    widest = [0.0] * len(pairs)
    for start in range(0, len(inputs), batch_size):
        outputs = probe(inputs[start:start + batch_size], training=False)
        for i, x in enumerate(outputs if len(pairs) > 1 else [outputs]):
            x = keras.ops.convert_to_numpy(keras.ops.cast(x, "float32"))
            widest[i] = np.maximum(widest[i], np.abs(x).max(axis=(0, 1, 2)))
    for (conv, norm), width in zip(pairs, widest):
        scale = 1.0 / np.maximum(width, 1e-3 * width.max() + 1e-12)
        kernel = keras.ops.convert_to_numpy(conv.kernel)
        # Conv2D kernels are (h, w, in, out); Conv2DTranspose kernels (h, w, out, in).
        transposed = isinstance(conv, keras.layers.Conv2DTranspose)
        conv.kernel.assign(kernel * (scale[:, None] if transposed else scale))
        if conv.use_bias:
            conv.bias.assign(keras.ops.convert_to_numpy(conv.bias) * scale)
        norm.epsilon = (norm.epsilon * scale**2).astype("float32")
