"""Equalized learning rate and pixel normalization (Karras et al. 2018, ProGAN, section 4).

Equalized learning rate: weights are stored as N(0, 1) draws and multiplied at run time by
He's constant ``gain / sqrt(fan_in)``. Adam normalises updates per parameter, so with the
scaling applied at run time every layer learns at the same speed whatever its fan-in.
``lr_multiplier`` slows a layer down further (StyleGAN's mapping network uses 0.01).
"""

import math

import keras
from keras import ops

_SQRT2 = math.sqrt(2.0)


class _Equalized(keras.layers.Layer):
    def __init__(self, gain=_SQRT2, lr_multiplier=1.0, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.gain = float(gain)
        self.lr_multiplier = float(lr_multiplier)
        self.use_bias = bool(use_bias)

    def _add_kernel(self, shape, fan_in, bias_size):
        self.scale = self.gain / math.sqrt(fan_in) * self.lr_multiplier
        self.kernel = self.add_weight(
            shape=shape, name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=1.0 / self.lr_multiplier))
        self.bias = (self.add_weight(shape=(bias_size,), name="bias", initializer="zeros")
                     if self.use_bias else None)

    def _add_bias(self, y):
        if self.bias is None:
            return y
        return y + ops.cast(self.bias, y.dtype) * self.lr_multiplier

    def get_config(self):
        return {**super().get_config(), "gain": self.gain,
                "lr_multiplier": self.lr_multiplier, "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package="kgan")
class EqualizedDense(_Equalized):
    """Dense layer with equalized learning rate.

    Args:
        units: output features.
        gain: He gain (sqrt(2) before leaky ReLU, 1 before a linear output).
        lr_multiplier: learning-rate multiplier of this layer.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self._add_kernel((input_shape[-1], self.units), input_shape[-1], self.units)

    def call(self, x):
        return self._add_bias(ops.matmul(x, ops.cast(self.kernel * self.scale, x.dtype)))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="kgan")
class EqualizedConv2D(_Equalized):
    """Stride-1 "same" 2D convolution with equalized learning rate (NHWC)."""

    def __init__(self, filters, kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)

    def build(self, input_shape):
        k, c = self.kernel_size, input_shape[-1]
        self._add_kernel((k, k, c, self.filters), k * k * c, self.filters)

    def call(self, x):
        kernel = ops.cast(self.kernel * self.scale, x.dtype)
        return self._add_bias(ops.conv(x, kernel, strides=1, padding="same"))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="kgan")
class PixelNormalization(keras.layers.Layer):
    """Pixel-wise feature vector normalization: ``x / sqrt(mean_c(x^2) + eps)`` (ProGAN 4.2).

    Keeps the generator's feature magnitudes from escalating; StyleGAN uses it on z too.
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
