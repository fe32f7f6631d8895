"""The history pool of generated images a CycleGAN discriminator trains on (Shrivastava et
al. 2017): the layer, its update rule as a pure function, and its random numbers per backend.
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="kgan")
class ImagePool(layers.Layer):
    """The history of generated images a CycleGAN discriminator trains on.

    ``pool(images, seed)`` takes a batch of generated images and returns a batch of the
    same size for the discriminator, updating the pool held in non-trainable variables
    (saved with the model, so a resumed run keeps its history). The paper's rule, per
    image: while the pool is not full, store the image and return it; once full, with
    probability 1/2 return a random stored image and store the new one in its place,
    otherwise return the new image.

    The batch version, graph-friendly with static shapes and stateless randomness keyed on
    ``seed`` (an int32 pair): swaps happen only once the pool was full at the start of the
    call (in the one batch that fills it, images that do not fit are returned unstored),
    and the swapped images of one call take distinct random slots (so at most ``size``
    swaps per call).

    Several replicas: the model calls the pool on the *global* batch (every replica's
    generated images, gathered) with the same seed on every replica, so all replicas
    compute the same new pool and the same returned batch, of which each keeps its own
    rows; the variables aggregate with ``ONLY_FIRST_REPLICA``. One and N replicas thus
    keep identical pools.

    Args:
        size: number of stored images (50 in the paper; 0 disables the pool).
    """

    def __init__(self, size=50, **kwargs):
        super().__init__(**kwargs)
        if int(size) != size or size < 0:
            raise ValueError(f"pool size must be an integer >= 0; received {size!r}.")
        self.size = int(size)

    def build(self, input_shape):
        if self.size:
            self.images = self.add_weight(
                name="images", shape=(self.size, *input_shape[1:]), initializer="zeros",
                trainable=False, aggregation="only_first_replica")
            self.count = self.add_weight(
                name="count", shape=(), dtype="int32", initializer="zeros", trainable=False,
                aggregation="only_first_replica")

    def call(self, images, seed):
        """The pool's answer, its random numbers from ``tf.random.stateless_uniform`` keyed
        on ``seed`` (TensorFlow; :meth:`update` takes them from any backend)."""
        if not self.size:
            return images
        coin, noise = tf_pool_draws(ops.shape(images)[0], self.size, seed)
        return self.update(images, coin, noise)

    def update(self, images, coin, noise):
        """:func:`pool_update` on the stored images with given random numbers (``coin``:
        ``(B,)``, ``noise``: ``(size,)`` uniforms); stores the new pool, returns the answer."""
        if not self.size:
            return images
        images = ops.cast(images, self.images.dtype)
        returned, stored, count = pool_update(images, ops.convert_to_tensor(self.images),
                                              ops.convert_to_tensor(self.count), coin, noise)
        self.images.assign(stored)
        self.count.assign(count)
        return returned

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def tf_pool_draws(batch, size, seed):
    """:class:`ImagePool`'s random numbers on TensorFlow: ``(coin, noise)`` keyed on the int32
    pair ``seed``."""
    import tensorflow as tf

    coin = tf.random.stateless_uniform((batch,), seed=seed)
    noise = tf.random.stateless_uniform((size,), seed=seed + [0, 1])
    return coin, noise


def pool_draws(batch, size, seed, step, stream):
    """:class:`ImagePool`'s random numbers ``(coin (batch,), noise (size,))`` for training
    step ``step`` and RNG stream ``stream`` on the active backend: TensorFlow keys them on
    the int32 pair ``(seed, 4 * step + stream)``, JAX on ``fold_in(fold_in(key(seed), step),
    stream)`` (other numbers, the same distribution)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf_pool_draws(batch, size, tf.stack([tf.constant(seed, "int32"),
                                                    step * 4 + stream]))
    import jax

    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), step), stream)
    coin_key, noise_key = jax.random.split(key)
    return (jax.random.uniform(coin_key, (batch,)), jax.random.uniform(noise_key, (size,)))


def pool_update(images, stored, count, coin, noise):
    """:class:`ImagePool`'s rule as a pure function of arrays (any Keras backend).

    Args:
        images: the new generated images ``(B, ...)``.
        stored: the pool ``(P, ...)``; ``count``: how many slots hold images (int32).
        coin: ``(B,)`` uniform [0, 1) numbers (an image is swapped when < 0.5).
        noise: ``(P,)`` uniform numbers whose argsort orders the slots swaps go to.

    Returns:
        ``(returned images, new pool, new count)``.
    """
    size = stored.shape[0]
    batch = ops.shape(images)[0]
    index = ops.arange(batch, dtype="int32")
    fill = count + index < size
    swap = ops.logical_and(coin < 0.5, count >= size)
    rank = ops.cumsum(ops.cast(swap, "int32")) - 1
    swap = ops.logical_and(swap, rank < size)
    order = ops.cast(ops.argsort(noise), "int32")
    slot = ops.where(fill, count + index, ops.take(order, ops.clip(rank, 0, size - 1)))
    slot = ops.where(ops.logical_or(fill, swap), slot, -1)
    per_image = (-1,) + (1,) * (len(images.shape) - 1)
    returned = ops.where(ops.reshape(swap, per_image),
                         ops.take(stored, ops.maximum(slot, 0), axis=0), images)
    # source[j]: the batch row written into slot j (-1: slot j keeps its image).
    match = ops.equal(ops.expand_dims(slot, 1), ops.arange(size, dtype="int32")[None, :])
    source = ops.max(ops.where(match, ops.expand_dims(index, 1), -1), axis=0)
    new = ops.where(ops.reshape(source >= 0, per_image),
                    ops.take(images, ops.maximum(source, 0), axis=0), stored)
    return returned, new, ops.minimum(count + batch, size)
