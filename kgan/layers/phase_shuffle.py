"""WaveGAN's phase shuffle (Donahue et al. 2019, section 3.3)."""

import keras


@keras.saving.register_keras_serializable(package="kgan")
class PhaseShuffle(keras.layers.Layer):
    """Shifts each example's features in time by a random ``r`` in ``[-n, n]`` (training only).

    The generator's transposed convolutions leave periodic artefacts at fixed phases; a
    critic that can key on them rejects generated audio trivially. Shifting the critic's
    activations by a few samples, with reflection padding to fill the edges, removes that
    shortcut. Inputs are ``(batch, time, channels)``; at inference the layer is the identity.

    Shifts come from ``keras.random`` with this layer's ``SeedGenerator``, whose state is a
    variable: the layer works in ``stateless_call`` on JAX and under ``tf.distribute``.

    Args:
        n: maximum shift in samples (the paper uses 2).
        seed: seed of the layer's generator.
    """

    def __init__(self, n=2, seed=None, **kwargs):
        super().__init__(**kwargs)
        if int(n) != n or n < 0:
            raise ValueError(f"PhaseShuffle n must be an integer >= 0; received {n!r}.")
        self.n = int(n)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.n == 0:
            return inputs
        ops = keras.ops
        batch, length = ops.shape(inputs)[0], inputs.shape[1]
        shift = keras.random.randint((batch, 1), 0, 2 * self.n + 1, seed=self.seed_generator)
        padded = ops.pad(inputs, ((0, 0), (self.n, self.n), (0, 0)), mode="reflect")
        index = ops.arange(length, dtype="int32")[None, :] + ops.cast(shift, "int32")
        return ops.take_along_axis(padded, index[:, :, None], axis=1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "n": self.n, "seed": self.seed}
