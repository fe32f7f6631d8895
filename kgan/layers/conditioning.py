"""StackGAN's conditioning augmentation (Zhang et al. 2017, section 3.1)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kgan")
class ConditioningAugmentation(keras.layers.Layer):
    """Text embedding ``phi(t)`` -> conditioning code ``c ~ N(mu(phi), diag(sigma(phi)^2))``.

    A sentence embedding is one point per caption, while a generator needs conditioning that
    covers a neighbourhood of it: with few captions the conditioning manifold is sparse and
    G overfits to it. The layer maps the embedding with one dense layer to a mean ``mu`` and
    a log-variance ``log sigma^2`` (``units`` each) and, in training, draws
    ``c = mu + sigma * eps`` (the reparameterisation trick, so gradients reach the dense
    layer), ``eps ~ N(0, I)`` from this layer's ``SeedGenerator`` (a variable: resumable
    and distribution-safe). Outside training it returns ``mu``, so samples are a function of
    the latent and the caption only.

    :meth:`kl_divergence` gives the regulariser the paper adds to G's loss,
    ``KL(N(mu, sigma^2) || N(0, I))``, which keeps the codes smooth and spread.

    Args:
        units: size of the code ``c``.
        seed: seed of the layer's generator.
    """

    def __init__(self, units, seed=None, **kwargs):
        super().__init__(**kwargs)
        if int(units) != units or units < 1:
            raise ValueError(f"ConditioningAugmentation units must be a positive integer; "
                             f"received {units!r}.")
        self.units = int(units)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.moments = keras.layers.Dense(2 * self.units, name="moments")

    def build(self, input_shape):
        if not self.moments.built:  # distribution() may have been called first
            self.moments.build(input_shape)

    def distribution(self, embedding):
        """``(mu, log_variance)``, each ``(B, units)``."""
        moments = self.moments(embedding)
        return moments[:, :self.units], moments[:, self.units:]

    def call(self, embedding, training=False):
        mu, log_variance = self.distribution(embedding)
        if not training:
            return mu
        eps = keras.random.normal(ops.shape(mu), seed=self.seed_generator, dtype=mu.dtype)
        return mu + ops.exp(0.5 * log_variance) * eps

    def kl_divergence(self, embedding):
        """Mean over the batch of ``KL(N(mu, sigma^2) || N(0, I))``, summed over units."""
        mu, log_variance = (ops.cast(m, "float32") for m in self.distribution(embedding))
        kl = 0.5 * ops.sum(ops.square(mu) + ops.exp(log_variance) - log_variance - 1.0, axis=-1)
        return ops.mean(kl)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "seed": self.seed}
