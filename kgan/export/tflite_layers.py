"""Layers swapped into a copy of the generator so the TFLite converter can lower it.

Nearest ``UpSampling2D`` layers become one static-shape resize each: Keras' ``repeat``-based
version loses the heights in the converter after a few stages, which left ProGAN's 16x16 and
32x32 convolutions unconvertible. For int8, the generator's tanh also clips its input to
[-4, 4] (at most 7e-4 of change), so the quantization steps of that tensor go where tanh is
steep instead of to saturated background pixels (this took the mean int8 error of
``dcgan_fashion_mnist`` from 0.077 to 0.012), and instance norms are rewritten with ops that
have int8 kernels (``GroupNormalization``'s own graph keeps float ops).
"""

import keras


#: tanh(4) = 0.99933, so clipping tanh's input to [-4, 4] moves no pixel by more than 7e-4.
#: Without it, saturated background pixels stretch that tensor's int8 range to about +-20,
#: and mid-grey pixels, where tanh is steep, are quantized in steps of ~0.1.
_TANH_INPUT_LIMIT = 4.0


class _ClippedTanh(keras.layers.Layer):
    def call(self, x):
        return keras.ops.tanh(keras.ops.clip(x, -_TANH_INPUT_LIMIT, _TANH_INPUT_LIMIT))


class _InstanceNorm(keras.layers.Layer):
    """Instance norm written with ops TFLite has int8 kernels for (mean, subtract, square,
    rsqrt, multiply, add); ``GroupNormalization``'s own graph leaves float ops behind.

    It is computed as ``x * a + b`` with ``a = gamma * rsqrt(var + eps)`` and ``b = beta -
    mean * a`` on the ``(1, 1, 1, C)`` statistics: three full-size int8 tensors instead of
    six, and no full-size ``x - mean`` read only by a multiply. TFLite's calibrator records
    such a tensor with the range of the multiply's output (the multiply reuses its buffer),
    4x too wide in CycleGAN's first norm; this form halves cyclegan_sneaker2boot's a2b int8
    error (mean 0.058 -> 0.031) with bit-identical float outputs."""

    def __init__(self, epsilon, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), name="gamma")
        self.beta = self.add_weight(shape=(input_shape[-1],), name="beta")

    def call(self, x):
        mean = keras.ops.mean(x, axis=(1, 2), keepdims=True)
        variance = keras.ops.mean(keras.ops.square(x - mean), axis=(1, 2), keepdims=True)
        scale = self.gamma * keras.ops.rsqrt(variance + self.epsilon)
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


def _replacement(layer, int8):
    """The layer a TFLite export uses instead of ``layer``, or None to keep it."""
    if (isinstance(layer, keras.layers.UpSampling2D) and layer.interpolation == "nearest"
            and layer.data_format == "channels_last"):
        return _NearestUpSampling(layer.size, name=layer.name, dtype=layer.dtype_policy)
    if not int8:
        return None
    if (isinstance(layer, keras.layers.Activation)
            and layer.get_config()["activation"] == "tanh"):
        return _ClippedTanh(name=layer.name, dtype=layer.dtype_policy)
    if _is_instance_norm(layer):
        return _InstanceNorm(layer.epsilon, name=layer.name, dtype=layer.dtype_policy)
    return None


def tflite_friendly(network, int8):
    """``network`` itself, or a copy (current weights) whose nearest upsamplings have
    static shapes and, for int8, whose tanh layers clip their input first and whose
    instance norms use int8-convertible ops."""
    if all(_replacement(layer, int8) is None for layer in network.layers):
        return network

    def clone(layer):
        stand_in = _replacement(layer, int8)
        return stand_in if stand_in is not None else layer.__class__.from_config(
            layer.get_config())

    copy = keras.models.clone_model(network, clone_function=clone)
    copy.set_weights(network.get_weights())
    return copy
