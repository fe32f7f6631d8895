"""Layers that let a discriminator look at the whole minibatch, against mode collapse.

If every fake in a batch is the same, per-example features cannot tell; statistics across
the batch can. Both layers append such statistics as extra features.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kgan")
class MinibatchDiscrimination(keras.layers.Layer):
    """Minibatch discrimination (Salimans et al. 2016, "Improved Techniques for Training GANs").

    A learned tensor ``T`` (A x B x C) projects each example's features ``f`` to ``M = f T``
    (B rows of C); for each row b, ``o_b(x_i) = sum_j exp(-||M_i,b - M_j,b||_1)`` measures
    how close example i is to the others. The B closeness features are concatenated to ``f``.
    We divide the sum by (batch - 1), i.e. average over the other examples: the features
    then lie in [0, 1] whatever the batch size, instead of up to ``batch - 1``, which
    otherwise dominates the first logits and saturates the losses at initialisation.

    Args:
        num_kernels: B, the number of closeness features appended.
        kernel_dim: C, the size of each projected row.

    Example:
        >>> x = keras.ops.ones((4, 16))
        >>> MinibatchDiscrimination(5, 3)(x).shape
        (4, 21)
    """

    def __init__(self, num_kernels=50, kernel_dim=5, **kwargs):
        super().__init__(**kwargs)
        self.num_kernels = int(num_kernels)
        self.kernel_dim = int(kernel_dim)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                "MinibatchDiscrimination expects flat features (batch, features); "
                f"received shape {tuple(input_shape)}. Add a Flatten layer before it."
            )
        self.T = self.add_weight(
            shape=(input_shape[-1], self.num_kernels * self.kernel_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.05),
            name="T",
        )

    def call(self, features):
        m = ops.matmul(features, ops.cast(self.T, features.dtype))
        m = ops.reshape(m, (-1, self.num_kernels, self.kernel_dim))
        l1 = ops.sum(ops.abs(ops.expand_dims(m, 0) - ops.expand_dims(m, 1)), axis=-1)
        # Average over the other examples j: drop the self term exp(0) = 1.
        others = ops.maximum(ops.cast(ops.shape(features)[0], features.dtype) - 1.0, 1.0)
        closeness = (ops.sum(ops.exp(-l1), axis=1) - 1.0) / others
        return ops.concatenate([features, closeness], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] + self.num_kernels)

    def get_config(self):
        return {**super().get_config(), "num_kernels": self.num_kernels,
                "kernel_dim": self.kernel_dim}


@keras.saving.register_keras_serializable(package="kgan")
class MinibatchStdDev(keras.layers.Layer):
    """Minibatch standard deviation (Karras et al. 2018, ProGAN, section 3).

    Splits the batch into groups of ``group_size``, takes the standard deviation of every
    feature over each group, averages it to one number per group and appends it as an
    extra feature map. The batch size must be divisible by the group size (or smaller).
    Works on features of any rank ``(batch, ..., channels)``: 2-D images (ProGAN, DCGAN)
    and 3-D volumes (3D-GAN) alike.

    Args:
        group_size: examples per group (4 in the paper).
    """

    def __init__(self, group_size=4, **kwargs):
        super().__init__(**kwargs)
        self.group_size = int(group_size)

    def call(self, x):
        shape = ops.shape(x)
        batch = shape[0]
        # A static batch (JAX traces with concrete shapes) needs a Python int for reshape.
        group = (min(self.group_size, batch) if isinstance(batch, int)
                 else ops.minimum(self.group_size, batch))
        y = ops.reshape(x, (group, -1, *x.shape[1:]))
        y = y - ops.mean(y, axis=0, keepdims=True)
        y = ops.sqrt(ops.mean(ops.square(y), axis=0) + 1e-8)
        y = ops.mean(y, axis=list(range(1, len(x.shape))), keepdims=True)
        y = ops.tile(y, (group, *shape[1:-1], 1))
        return ops.concatenate([x, ops.cast(y, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}
