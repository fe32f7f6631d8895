"""StyleGAN's generator layers (Karras, Laine & Aila 2019, "A Style-Based Generator").

* :class:`ConstantInput`: the learned 4x4 tensor the synthesis network starts from;
* :class:`NoiseInjection`: per-pixel Gaussian noise scaled by a learned per-channel weight;
* :class:`AdaIN`: instance normalization followed by a per-channel scale and bias computed
  from the layer's style vector w (a learned affine map);
* :class:`MeanW`: tracks the running mean of w (for the truncation trick) during training;
* :class:`StyleMixing`: broadcasts w to every synthesis layer and, in training, switches to
  a second latent's w after a random crossover layer (style mixing regularization).
* :class:`NoiseMode`: sets the noise layers' mode for a block of code (``generate``).
"""

import math

import keras
from keras import ops

#: What ``NoiseInjection`` adds outside training: fresh noise, the layer's fixed noise
#: image (deterministic samples) or nothing.
NOISE_MODES = ("random", "const", "none")


@keras.saving.register_keras_serializable(package="kgan")
class ConstantInput(keras.layers.Layer):
    """A learned ``(H, W, C)`` tensor repeated over the batch of its input (any tensor)."""

    def __init__(self, shape, **kwargs):
        super().__init__(**kwargs)
        self.shape = tuple(int(s) for s in shape)

    def build(self, input_shape):
        self.const = self.add_weight(shape=self.shape, name="const", initializer="ones")

    def call(self, x):
        batch = ops.shape(x)[0]
        return ops.broadcast_to(ops.cast(self.const, self.compute_dtype)[None],
                                (batch, *self.shape))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.shape)

    def get_config(self):
        return {**super().get_config(), "shape": self.shape}


@keras.saving.register_keras_serializable(package="kgan")
class NoiseInjection(keras.layers.Layer):
    """``x + strength[c] * noise[h, w]``: stochastic detail (StyleGAN section 3.2).

    Training always draws fresh noise. Outside training ``noise_mode`` (an attribute,
    set by ``StyleGAN.generate``) picks "random", "const" (a fixed noise image stored with
    the weights, so samples are reproducible) or "none".
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.noise_mode = "const"

    def build(self, input_shape):
        h, w, c = input_shape[1:]
        self.strength = self.add_weight(shape=(c,), name="strength", initializer="zeros")
        self.const_noise = self.add_weight(
            shape=(1, h, w, 1), name="const_noise", trainable=False,
            initializer=keras.initializers.RandomNormal(seed=self.seed))

    def call(self, x, training=False):
        mode = "random" if training else self.noise_mode
        if mode == "none":
            return x
        if mode == "random":
            shape = (ops.shape(x)[0], *x.shape[1:3], 1)
            noise = keras.random.normal(shape, seed=self.seed_generator, dtype=x.dtype)
        else:
            noise = ops.cast(self.const_noise, x.dtype)
        return x + noise * ops.cast(self.strength, x.dtype)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="kgan")
class AdaIN(keras.layers.Layer):
    """Adaptive instance normalization: ``[x, w] -> (1 + s(w)) * norm(x) + b(w)``.

    The style ``(s, b)`` is an equalized-learning-rate affine map of w; the "+1" makes the
    initial style the identity.

    Args:
        layer_index: when given, the second input is the per-layer styles
            ``(B, num_ws, w_dim)`` and this layer uses ``ws[:, layer_index]``.
    """

    def __init__(self, layer_index=None, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.layer_index = None if layer_index is None else int(layer_index)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        x_shape, w_shape = input_shape
        channels, w_dim = x_shape[-1], w_shape[-1]
        self.channels = channels
        self.scale = 1.0 / math.sqrt(w_dim)
        self.kernel = self.add_weight(shape=(w_dim, 2 * channels), name="kernel",
                                      initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.bias = self.add_weight(shape=(2 * channels,), name="bias", initializer="zeros")

    def call(self, inputs):
        x, w = inputs
        if self.layer_index is not None:
            w = w[:, self.layer_index]
        style = ops.matmul(w, ops.cast(self.kernel * self.scale, w.dtype))
        style = ops.cast(style + ops.cast(self.bias, w.dtype), x.dtype)
        s, b = style[:, None, None, :self.channels], style[:, None, None, self.channels:]
        mean = ops.mean(x, axis=(1, 2), keepdims=True)
        var = ops.mean(ops.square(x - mean), axis=(1, 2), keepdims=True)
        return (x - mean) * ops.rsqrt(var + self.epsilon) * (1.0 + s) + b

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "layer_index": self.layer_index,
                "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="kgan")
class MeanW(keras.layers.Layer):
    """Identity on w that, in training, updates ``w_avg <- lerp(mean_batch(w), w_avg, beta)``.

    ``w_avg`` is the centre of the truncation trick ``w_avg + psi * (w - w_avg)``.
    """

    def __init__(self, beta=0.995, **kwargs):
        super().__init__(**kwargs)
        self.beta = float(beta)

    def build(self, input_shape):
        self.w_avg = self.add_weight(shape=(input_shape[-1],), name="w_avg",
                                     initializer="zeros", trainable=False,
                                     aggregation="only_first_replica")

    def call(self, w, training=False):
        if training:
            batch_mean = ops.mean(ops.cast(w, "float32"), axis=0)
            self.w_avg.assign(batch_mean + self.beta * (self.w_avg - batch_mean))
        return w

    def truncate(self, w, psi):
        """``w_avg + psi * (w - w_avg)``."""
        w_avg = ops.cast(self.w_avg, w.dtype)
        return w_avg + psi * (w - w_avg)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


@keras.saving.register_keras_serializable(package="kgan")
class StyleMixing(keras.layers.Layer):
    """``[w1, w2] -> ws (B, num_ws, w_dim)``: one style per synthesis layer.

    In training, with probability ``mixing_prob``, the layers from a random crossover on
    take ``w2`` (one crossover per batch, uniform over 1 .. num_ws - 1); otherwise, and
    outside training, every layer takes ``w1``.
    """

    def __init__(self, num_ws, mixing_prob=0.9, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_ws = int(num_ws)
        self.mixing_prob = float(mixing_prob)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        w1, w2 = inputs
        ws1 = ops.repeat(w1[:, None, :], self.num_ws, axis=1)
        if not training or not self.mixing_prob or self.num_ws < 2:
            return ws1
        cut = keras.random.randint((), 1, self.num_ws, seed=self.seed_generator)
        mix = keras.random.uniform((), seed=self.seed_generator) < self.mixing_prob
        cut = ops.where(mix, cut, self.num_ws)
        take_w2 = ops.arange(self.num_ws)[None, :, None] >= cut
        return ops.where(take_w2, ops.repeat(w2[:, None, :], self.num_ws, axis=1), ws1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.num_ws, input_shape[0][-1])

    def get_config(self):
        return {**super().get_config(), "num_ws": self.num_ws,
                "mixing_prob": self.mixing_prob, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kgan")
class SecondLatent(keras.layers.Layer):
    """The mixing regularization's second latent: fresh N(0, I) in training, ``z`` otherwise."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, z, training=False):
        if not training:
            return z
        return keras.random.normal(ops.shape(z), seed=self.seed_generator, dtype=z.dtype)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class NoiseMode:
    """Sets every :class:`NoiseInjection` layer of ``synthesis`` (a model) to ``mode`` for the
    duration of a ``with`` block, then back to ``"const"``."""

    def __init__(self, synthesis, mode):
        self.layers = [lay for lay in synthesis.layers if isinstance(lay, NoiseInjection)]
        self.mode = mode

    def __enter__(self):
        for lay in self.layers:
            lay.noise_mode = self.mode

    def __exit__(self, *exc):
        for lay in self.layers:
            lay.noise_mode = "const"
        return False
