"""Progressive growing as a schedule inside the networks (Karras et al. 2018, ProGAN).

All resolution blocks exist from the start; :class:`GrowthSchedule` counts the images the
network has trained on in a non-trainable variable (so it is saved with the weights and a
run resumes mid-growth) and turns the count into one fade-in coefficient per block.
:class:`FadeIn` blends a block's output with the previous resolution's by that coefficient.
Plain ``fit``, on TensorFlow or JAX, therefore grows the model without callbacks.

Schedule (images seen ``t``): the first resolution trains alone for ``stable_images``; then
each new block fades in, alpha going 0 -> 1 linearly over ``fade_images``, and stabilises
for ``stable_images``, until the last block is in.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kgan")
class GrowthSchedule(keras.layers.Layer):
    """Counts training images and outputs the blocks' fade-in coefficients ``(B, stages - 1)``.

    One training step calls a network several times (a discriminator sees reals, fakes and
    penalty points); ``calls_per_step`` (set by the model's ``compile``) makes the counter
    advance by one batch per training step, and ``replicas`` by the global batch.

    Args:
        num_stages: resolutions, e.g. 4 for 4 -> 8 -> 16 -> 32.
        fade_images: images over which each new block's alpha goes 0 -> 1.
        stable_images: images each resolution trains at alpha = 1 before the next fades in.
    """

    def __init__(self, num_stages, fade_images, stable_images, **kwargs):
        super().__init__(**kwargs)
        if num_stages < 1 or fade_images <= 0 or stable_images < 0:
            raise ValueError(
                "GrowthSchedule needs num_stages >= 1, fade_images > 0 and stable_images >= 0; "
                f"received {num_stages}, {fade_images}, {stable_images}.")
        self.num_stages = int(num_stages)
        self.fade_images = int(fade_images)
        self.stable_images = int(stable_images)
        self.calls_per_step = 1
        self.replicas = 1

    def build(self, input_shape):
        self.images_seen = self.add_weight(
            shape=(), name="images_seen", initializer="zeros", trainable=False,
            aggregation="only_first_replica")

    def progress(self, images_seen=None):
        """Continuous stage: 0 at the first resolution, k + alpha while block k fades in."""
        t = ops.cast(self.images_seen if images_seen is None else images_seen, "float32")
        phase = float(self.fade_images + self.stable_images)
        u = ops.maximum(t - self.stable_images, 0.0)
        k = ops.floor(u / phase)
        p = k + ops.minimum((u - k * phase) / self.fade_images, 1.0)
        return ops.minimum(p, float(self.num_stages - 1))

    def alphas(self, images_seen=None):
        """Fade-in coefficient of blocks 1 .. num_stages - 1, in [0, 1]."""
        blocks = ops.arange(1, self.num_stages, dtype="float32")
        return ops.clip(self.progress(images_seen) - (blocks - 1.0), 0.0, 1.0)

    def call(self, x, training=False):
        alphas = self.alphas()
        if training:
            batch = ops.cast(ops.shape(x)[0], "float32")
            self.images_seen.assign_add(batch * (self.replicas / self.calls_per_step))
        ones = ops.ones_like(ops.reshape(ops.cast(x, "float32"), (ops.shape(x)[0], -1))[:, :1])
        return ones * alphas[None, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_stages - 1)

    def get_config(self):
        return {**super().get_config(), "num_stages": self.num_stages,
                "fade_images": self.fade_images, "stable_images": self.stable_images}


@keras.saving.register_keras_serializable(package="kgan")
class FadeIn(keras.layers.Layer):
    """``[old, new, alphas] -> old + alphas[:, block - 1] * (new - old)``.

    Args:
        block: the block being faded in (1 .. num_stages - 1).
    """

    def __init__(self, block, **kwargs):
        super().__init__(**kwargs)
        self.block = int(block)

    def call(self, inputs):
        old, new, alphas = inputs
        a = ops.cast(alphas[:, self.block - 1], old.dtype)
        a = ops.reshape(a, (-1,) + (1,) * (len(old.shape) - 1))
        return old + a * (new - old)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "block": self.block}
