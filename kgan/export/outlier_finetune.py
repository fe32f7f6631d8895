"""Fine-tuning a filter so that it quantizes: self-distillation with an outlier penalty.

A full-integer TFLite file gives every activation tensor one int8 range. Some trained
filters feed their normalization layers rare, huge values: in ``cyclegan_horse2zebra`` after
its 48 epochs, 0.1 % of the pixels entering the two upsampling stages' instance norms lie
beyond 10 standard deviations of their image and channel, up to 138. The norm's mean and
variance need them, the ReLU after it zeroes them, and an int8 range wide enough to hold them
leaves the bulk of the values a few steps: the int8 filter was off by 0.087 (mean, in [-1, 1]
units). Percentile ranges (:mod:`kgan.export.int8_ranges`) clip them, which moves the
statistics instead; keeping those layers float (:mod:`kgan.export.float_fallback`) costs
1.4-1.6x the all-int8 time. The published filter does both, after this fine-tuning.

So the model changes, not the bound. The filter network is fine-tuned from its trained
weights to keep its float output (L1 against a frozen copy of itself, the teacher) while a
penalty at the input of every normalization layer pushes the outliers into the bulk:

    penalty(x) = mean over pixels and channels of relu(|z| - threshold) ** 2,

with ``z`` each value's distance from its image and channel's mean in standard deviations
(the statistics instance and group norms compute). Values within ``threshold`` (6 by
default) cost nothing, so the bulk of the activations, and with it what the filter does, is
left to the distillation term. It needs no labels, no discriminator and no data beyond the
filter's own training inputs. On ``cyclegan_horse2zebra`` (2,000 steps, 63 min on 2 CPU
cores) the int8 error went from 0.087 to 0.045 (25.0 to 30.6 dB), most of it in the first 100
steps, while the float output moved by 0.059 (``docs/zoo/cyclegan_horse2zebra.md``).

Everything is ``keras.ops`` and ``fit``, so it runs on the TensorFlow and the JAX backend:
``tools/int8_finetune.py`` runs an entry's recipe (its ``"int8_finetune"`` settings).
"""

import keras
import numpy as np
from keras import ops

#: Distance from the mean, in standard deviations, beyond which a value is penalised.
DEFAULT_THRESHOLD = 6.0


def outlier_penalty(x, threshold=DEFAULT_THRESHOLD, epsilon=1e-5):
    """Per image: the mean over pixels and channels of ``relu(|z| - threshold) ** 2``, ``z``
    standardised per image and channel (float32, whatever ``x``'s dtype)."""
    x = ops.cast(x, "float32")
    axes = tuple(range(1, len(x.shape) - 1))
    mean = ops.mean(x, axis=axes, keepdims=True)
    variance = ops.var(x, axis=axes, keepdims=True)
    z = ops.abs(x - mean) * ops.rsqrt(variance + epsilon)
    excess = ops.relu(z - threshold)
    return ops.mean(ops.square(excess), axis=tuple(range(1, len(x.shape))))


def normalization_layers(network):
    """The group / instance normalization layers of ``network`` (a functional model), whose
    inputs the penalty watches; a ValueError if it has none."""
    norms = [layer for layer in network.layers
             if isinstance(layer, keras.layers.GroupNormalization)]
    if not norms:
        raise ValueError(f"{network.name} has no GroupNormalization (instance norm) layers: "
                         "outlier fine-tuning watches their inputs; export this network with "
                         "kgan.export.export_tflite as it is.")
    return norms


class OutlierDistiller(keras.Model):
    """Trains ``network`` in place toward a frozen copy of itself, with the outlier penalty.

    ``call(images)`` returns ``{"distill": student - teacher output, "outliers": per-image
    penalty summed over the normalization layers}``; :func:`finetune_for_int8` compiles it
    with an L1 loss on the first and the identity on the second (targets are zeros).
    """

    def __init__(self, network, threshold=DEFAULT_THRESHOLD, **kwargs):
        super().__init__(**kwargs)
        watched = [layer.input for layer in normalization_layers(network)]
        self.student = keras.Model(network.input, [network.output, *watched])
        self.teacher = keras.models.clone_model(network)
        self.teacher.set_weights(network.get_weights())
        self.teacher.trainable = False
        self.threshold = float(threshold)

    def call(self, images, training=False):
        output, *watched = self.student(images, training=training)
        target = ops.stop_gradient(self.teacher(images, training=False))
        penalty = sum(outlier_penalty(x, self.threshold) for x in watched)
        return {"distill": ops.cast(output, "float32") - ops.cast(target, "float32"),
                "outliers": penalty}


def _penalty_loss(y_true, y_pred):
    """The penalty as it is (``y_true`` is zeros)."""
    del y_true
    return y_pred


class FlippedBatches(keras.utils.PyDataset):
    """Random batches of ``images`` (float32 [-1, 1]) with random horizontal flips, and the
    zero targets of :class:`OutlierDistiller`'s two outputs; ``steps`` batches an epoch,
    drawn from ``(seed, epoch, index)`` (a resumed run counts its epochs from 0 again, so it
    redraws the first epochs' batches: harmless for a distillation)."""

    def __init__(self, images, batch_size, steps, seed=0):
        super().__init__()
        self.images, self.batch_size, self.steps, self.seed = images, batch_size, steps, seed
        self.epoch = 0

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        rng = np.random.default_rng((self.seed, self.epoch, index))
        batch = self.images[rng.integers(len(self.images), size=self.batch_size)].copy()
        flip = rng.random(self.batch_size) < 0.5
        batch[flip] = batch[flip, :, ::-1]
        return batch, {"distill": np.zeros_like(batch),
                       "outliers": np.zeros((self.batch_size,), "float32")}

    def on_epoch_end(self):
        self.epoch += 1


def finetune_for_int8(network, images, steps, batch_size=2, learning_rate=5e-5,
                      penalty_weight=0.03, threshold=DEFAULT_THRESHOLD, steps_per_epoch=100,
                      seed=0, callbacks=(), verbose=2):
    """Fine-tunes ``network`` (an image filter, updated in place) for int8 export.

    Args:
        network: a functional image-to-image model with group / instance norms.
        images: float32 ``(N, H, W, C)`` in [-1, 1], what the filter is fed in training
            (e.g. the entry's training sources, plus target-domain images for a CycleGAN
            generator, whose identity behaviour they keep).
        steps: optimizer steps, in epochs of ``steps_per_epoch`` (so BackupAndRestore in
            ``callbacks`` resumes at an epoch's end).
        penalty_weight: weight of the summed outlier penalty against the L1 distillation.

    Returns:
        The ``keras.callbacks.History`` of ``distill_loss`` (mean |student - teacher|) and
        ``outliers_loss`` (the summed penalty).
    """
    images = np.asarray(images, "float32")
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(network.input_shape[1:]):
        raise ValueError(f"images must be (N, *{tuple(network.input_shape[1:])}) to fine-tune "
                         f"{network.name}; received {images.shape}.")
    if steps % steps_per_epoch:
        raise ValueError(f"steps ({steps}) must be a multiple of steps_per_epoch "
                         f"({steps_per_epoch}).")
    distiller = OutlierDistiller(network, threshold, name=f"{network.name}_int8_finetune")
    distiller.compile(
        optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
        loss={"distill": "mean_absolute_error", "outliers": _penalty_loss},
        loss_weights={"distill": 1.0, "outliers": penalty_weight})
    batches = FlippedBatches(images, batch_size, steps_per_epoch, seed)
    return distiller.fit(batches, epochs=steps // steps_per_epoch, callbacks=list(callbacks),
                         verbose=verbose)
