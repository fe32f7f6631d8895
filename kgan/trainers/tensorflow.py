"""``GAN.train_step(data)`` on Keras' TensorFlow backend: the kind's step (``_gan_step``) with
``tf.GradientTape`` gradients (the primitives of :mod:`kgan.trainers.base`).

Written to give the same result on one device and under ``tf.distribute.MirroredStrategy`` /
``MultiWorkerMirroredStrategy``:

* losses are means over the replica's batch divided by ``num_replicas_in_sync``, because
  Keras optimizers sum gradients across replicas;
* latents and interpolation coefficients are drawn for the *global* batch from
  ``tf.random.stateless_*`` keyed on ``(seed, step * 65 + stream)`` and each replica takes
  its own slice, so every replica gets different latents and 1 or N replicas see exactly
  the same ones.
"""

import tensorflow as tf

from kgan.trainers.base import GENERATOR_STREAM, Trainer


class TensorFlowTrainer(Trainer):
    """The TensorFlow half of ``kgan.GAN``'s training (Keras' ``train_step(self, data)``)."""

    def train_step(self, data):
        logs = self._gan_step(data)
        if multi_worker(self.distribute_strategy):
            # Keras reduces multi-worker logs with reduce(MEAN, axis=0), which needs a
            # batch axis: give each scalar one (the reduction returns a scalar again).
            logs = {k: tf.reshape(v, (1,)) for k, v in logs.items()}
        return logs

    # ------------------------------------------------------------------ primitives
    def _value_and_grads(self, fn, variable_lists):
        with tf.GradientTape(persistent=len(variable_lists) > 1) as tape:
            losses, aux = fn()
        grads = [dense_gradients(tape.gradient(loss, variables))
                 for loss, variables in zip(losses, variable_lists)]
        del tape
        return losses, aux, grads

    def _input_gradients(self, critic, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = critic(x)
        return tape.gradient(logits, x)

    def _apply(self, optimizer, grads, variables):
        optimizer.apply(grads, variables)

    def _replica_info(self):
        ctx = tf.distribute.get_replica_context()
        replica_id = ctx.replica_id_in_sync_group if ctx is not None else 0
        return replica_id, self.distribute_strategy.num_replicas_in_sync

    def _cross_replica_sum(self, x):
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            return ctx.all_reduce(tf.distribute.ReduceOp.SUM, x)
        return x

    def _global_slice(self, sampler, local_batch, stream):
        """Draws ``sampler(global_batch, seed)`` and returns this replica's rows."""
        replica_id, num_replicas = self._replica_info()
        step = tf.cast(self.g_optimizer.iterations, "int32")
        seed = tf.stack([tf.constant(self.seed, "int32"), step * (GENERATOR_STREAM + 1) + stream])
        full = sampler(local_batch * num_replicas, seed)
        start = replica_id * local_batch
        return full[start:start + local_batch]

    def _random(self, kind, batch, tail, stream, fold=None):
        draw = {"normal": tf.random.stateless_normal,
                "uniform": tf.random.stateless_uniform}[kind]

        def sampler(b, seed):
            if fold is not None:
                seed = tf.random.experimental.stateless_fold_in(seed, fold)
            return draw((b, *tail), seed=seed)

        return self._global_slice(sampler, batch, stream)


def multi_worker(strategy):
    """Whether ``strategy`` is a ``MultiWorkerMirroredStrategy`` running on several workers."""
    in_multi_worker_mode = getattr(strategy.extended, "_in_multi_worker_mode", None)
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and in_multi_worker_mode is not None and in_multi_worker_mode())


def dense_gradients(grads):
    """Embedding gradients arrive as IndexedSlices whose size differs between replicas,
    which the cross-replica all-reduce cannot pack; the embeddings here are small."""
    return [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
