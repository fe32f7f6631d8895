"""Class-conditional batch normalization (de Vries et al. 2017, "Modulating early visual
processing by language"; Dumoulin et al. 2017; used by Miyato & Koyama 2018 and BigGAN).

BatchNorm without its own scale and offset, followed by a per-class gamma and beta looked up
from two ``(num_classes, channels)`` tables: the label picks how each feature map is
modulated, which is how the cGAN generators of SNGAN / BigGAN see the class.
"""

import keras
from keras import ops

from kgan.layers.batch_norm import BatchNormalization


@keras.saving.register_keras_serializable(package="kgan")
class ConditionalBatchNorm(keras.layers.Layer):
    """``BatchNorm(x) * gamma[y] + beta[y]`` on channels-last inputs ``[x, labels]``.

    Args:
        num_classes: number of classes (rows of the gamma / beta tables).
        momentum, epsilon: of the inner ``BatchNormalization`` (Keras' defaults).
        synchronized: statistics over the global batch under ``tf.distribute``. None (the
            default) turns it on with the TensorFlow backend, the only one that implements
            it; on one device of another backend local statistics are the global ones.

    Call arguments:
        inputs: ``[x, labels]``: ``x`` of shape ``(B, ..., C)``, integer ``labels`` ``(B,)``
            or ``(B, 1)``.
        training: batch statistics (True) or the moving averages (False).

    Example:
        >>> cbn = kgan.layers.ConditionalBatchNorm(10)
        >>> y = cbn([features, labels], training=True)

    The tables start at gamma = 1 and beta = 0, so the layer starts as plain BatchNorm.
    """

    def __init__(self, num_classes, momentum=0.99, epsilon=1e-3, synchronized=None, **kwargs):
        super().__init__(**kwargs)
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1; received {num_classes!r}.")
        self.num_classes = int(num_classes)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.synchronized = synchronized
        sync = (keras.backend.backend() == "tensorflow" if synchronized is None
                else bool(synchronized))
        self.batch_norm = BatchNormalization(
            momentum=self.momentum, epsilon=self.epsilon, center=False, scale=False,
            synchronized=sync, dtype=self.dtype_policy, name="batch_norm")

    def build(self, input_shape):
        x_shape = tuple(input_shape[0])
        channels = x_shape[-1]
        self.batch_norm.build(x_shape)
        self.gamma = self.add_weight(shape=(self.num_classes, channels), initializer="ones",
                                     name="gamma")
        self.beta = self.add_weight(shape=(self.num_classes, channels), initializer="zeros",
                                    name="beta")

    def call(self, inputs, training=None):
        x, labels = inputs
        x = self.batch_norm(x, training=training)
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        shape = (-1,) + (1,) * (len(x.shape) - 2) + (x.shape[-1],)
        gamma = ops.reshape(ops.take(self.gamma, labels, axis=0), shape)
        beta = ops.reshape(ops.take(self.beta, labels, axis=0), shape)
        return x * ops.cast(gamma, x.dtype) + ops.cast(beta, x.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "momentum": self.momentum, "epsilon": self.epsilon,
                "synchronized": self.synchronized}
