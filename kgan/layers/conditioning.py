"""StackGAN's conditioning augmentation (Zhang et al. 2017, section 3.1)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kgan")
class ConditioningAugmentation(keras.layers.Layer):
    """``[phi(t), eps]`` -> conditioning code ``c = mu(phi(t)) + sigma(phi(t)) * eps``.

    A sentence embedding is one point per caption, while a generator needs conditioning that
    covers a neighbourhood of it: with few captions the conditioning manifold is sparse and
    G overfits to it. The layer maps the embedding with one dense layer to a mean ``mu`` and
    a log-variance ``log sigma^2`` (``units`` each) and returns ``c = mu + sigma * eps``
    (the reparameterisation trick, so gradients reach the dense layer) for the standard
    normal ``eps`` it is given, ``(B, units)``.

    The noise is an input, not drawn inside the layer, because the generator learns to use
    it as a source of variety: StackGAN samples ``c`` in training *and* generation (as the
    authors' code does), so the generators take ``eps`` as part of their latent vector and a
    sample stays a function of the latent and the caption. (Returning ``mu`` at inference
    instead drops that variety: kgan's first StackGAN drew nearly one image per caption.)

    :meth:`kl_divergence` gives the regulariser the paper adds to G's loss,
    ``KL(N(mu, sigma^2) || N(0, I))``, which keeps the codes smooth and spread.

    Args:
        units: size of the code ``c``.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        if int(units) != units or units < 1:
            raise ValueError(f"ConditioningAugmentation units must be a positive integer; "
                             f"received {units!r}.")
        self.units = int(units)
        self.moments = keras.layers.Dense(2 * self.units, name="moments")

    def build(self, input_shape):
        if not self.moments.built:  # distribution() may have been called first
            self.moments.build(input_shape[0] if isinstance(input_shape[0], (list, tuple))
                               else input_shape)

    def distribution(self, embedding):
        """``(mu, log_variance)``, each ``(B, units)``."""
        moments = self.moments(embedding)
        return moments[:, :self.units], moments[:, self.units:]

    def call(self, inputs):
        embedding, eps = inputs
        mu, log_variance = self.distribution(embedding)
        return mu + ops.exp(0.5 * log_variance) * ops.cast(eps, mu.dtype)

    def kl_divergence(self, embedding):
        """Mean over the batch of ``KL(N(mu, sigma^2) || N(0, I))``, summed over units."""
        mu, log_variance = (ops.cast(m, "float32") for m in self.distribution(embedding))
        kl = 0.5 * ops.sum(ops.square(mu) + ops.exp(log_variance) - log_variance - 1.0, axis=-1)
        return ops.mean(kl)

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
