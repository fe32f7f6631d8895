"""Training a :class:`kgan.models.cyclegan.CycleGAN` with Keras on JAX (no TensorFlow).

``CycleGAN.train_step`` uses ``tf.GradientTape``; this module re-states the same step with
``stateless_call`` / ``optimizer.stateless_apply`` and ``jax.value_and_grad`` so that
CycleGAN zoo entries train on GPU machines that have JAX but no TensorFlow (as
:mod:`kgan.jax_training` does for the latent GANs). Per batch, as ``train_step``:

* one update of both generators on ``adv + cycle_weight * cycle + cycle_weight *
  identity_weight * identity`` (the discriminators' weights fixed);
* the generated images go through the two history pools (:func:`pool_update`, the
  ``ImagePool`` rule; its random numbers come from ``jax.random`` keyed on
  ``(model.seed, step, stream)``, so they differ from TensorFlow's, not in distribution);
* one update of both discriminators on real images and the pools' answers.

Each epoch shuffles the two domains with different permutations
(``np.random.default_rng(seed + epoch)``), so batches are unpaired. The trained values go
back into the Keras variables (both pools and the optimizers' step, which drives the
learning-rate schedule, included), so ``save_weights`` writes a file that loads under
TensorFlow.
"""

import time

import numpy as np

from kgan import losses as gan_losses
from kgan.jax_training import _require_jax
from kgan.models.cyclegan import _POOL_STREAMS, METRIC_NAMES, discriminator_losses, pool_update


def _variable_lists(model):
    return {
        "g_tv": model.generator.trainable_variables + model.generator_ba.trainable_variables,
        "d_tv": (model.discriminator.trainable_variables
                 + model.discriminator_a.trainable_variables),
        "g_opt": model.g_optimizer.variables,
        "d_opt": model.d_optimizer.variables,
        "pools": [v for pool in (model.pool_a, model.pool_b) for v in pool.weights],
    }


def get_state(model):
    import jax.numpy as jnp

    for net in (model.generator, model.generator_ba, model.discriminator,
                model.discriminator_a):
        if net.non_trainable_variables:
            raise ValueError(f"{net.name} has non-trainable variables, which this trainer "
                             "does not thread through; CycleGAN's networks have none.")
    return {k: [jnp.array(v.value) for v in vs] for k, vs in _variable_lists(model).items()}


def set_state(model, state):
    for key, variables in _variable_lists(model).items():
        for variable, value in zip(variables, state[key]):
            variable.assign(np.asarray(value))


def make_train_fn(model):
    """``run(state, sums, a_all, b_all, perm_a, perm_b, start, n, step)``, jitted: ``n``
    steps on batches ``a_all[perm_a[start + i]]``, ``b_all[perm_b[start + i]]``."""
    jax = _require_jax()
    jnp, lax = jax.numpy, jax.lax
    g_ab, g_ba = model.generator, model.generator_ba
    d_b, d_a = model.discriminator, model.discriminator_a
    n_gab = len(g_ab.trainable_variables)
    n_db = len(d_b.trainable_variables)
    cycle_weight, identity_weight = model.cycle_weight, model.identity_weight

    def call(net, tv, x):
        return net.stateless_call(tv, [], x, training=True)[0]

    def l1(x, y):
        return jnp.mean(jnp.abs(x.astype("float32") - y.astype("float32")))

    def g_loss_fn(g_tv, d_tv, a, b):
        gab_tv, gba_tv = g_tv[:n_gab], g_tv[n_gab:]
        db_tv, da_tv = d_tv[:n_db], d_tv[n_db:]
        fake_b = call(g_ab, gab_tv, a)
        fake_a = call(g_ba, gba_tv, b)
        adv = 2.0 * (gan_losses.least_squares_generator_loss(call(d_b, db_tv, fake_b))
                     + gan_losses.least_squares_generator_loss(call(d_a, da_tv, fake_a)))
        cycle = l1(call(g_ba, gba_tv, fake_b), a) + l1(call(g_ab, gab_tv, fake_a), b)
        total = adv + cycle_weight * cycle
        identity = jnp.zeros((), "float32")
        if identity_weight:
            identity = l1(call(g_ba, gba_tv, a), a) + l1(call(g_ab, gab_tv, b), b)
            total = total + cycle_weight * identity_weight * identity
        return total, (fake_a, fake_b, adv, cycle, identity)

    def d_loss_fn(d_tv, a, b, fake_a, fake_b):
        db_tv, da_tv = d_tv[:n_db], d_tv[n_db:]
        loss_a, loss_b, real_acc, fake_acc = discriminator_losses(
            call(d_a, da_tv, a), call(d_a, da_tv, fake_a), call(d_b, db_tv, b),
            call(d_b, db_tv, fake_b))
        return loss_a + loss_b, (loss_a, loss_b, real_acc, fake_acc)

    def pooled(pools, which, fakes, step):
        if not model.pool_size:
            return fakes, pools
        stored, count = pools[2 * which], pools[2 * which + 1]
        key = jax.random.fold_in(jax.random.fold_in(jax.random.key(model.seed), step),
                                 _POOL_STREAMS["ab"[which]])
        coin_key, noise_key = jax.random.split(key)
        coin = jax.random.uniform(coin_key, (fakes.shape[0],))
        noise = jax.random.uniform(noise_key, (stored.shape[0],))
        out, stored, count = pool_update(fakes.astype(stored.dtype), stored, count, coin, noise)
        pools = list(pools)
        pools[2 * which], pools[2 * which + 1] = stored, count
        return out.astype(fakes.dtype), pools

    def train_one(state, sums, a, b, step):
        (g_total, (fake_a, fake_b, adv, cycle, identity)), grads = jax.value_and_grad(
            g_loss_fn, has_aux=True)(state["g_tv"], state["d_tv"], a, b)
        g_tv, g_opt = model.g_optimizer.stateless_apply(state["g_opt"], grads, state["g_tv"])
        fake_a, pools = pooled(state["pools"], 0, lax.stop_gradient(fake_a), step)
        fake_b, pools = pooled(pools, 1, lax.stop_gradient(fake_b), step)
        (d_total, (loss_a, loss_b, real_acc, fake_acc)), grads = jax.value_and_grad(
            d_loss_fn, has_aux=True)(state["d_tv"], a, b, fake_a, fake_b)
        d_tv, d_opt = model.d_optimizer.stateless_apply(state["d_opt"], grads, state["d_tv"])
        state = {"g_tv": g_tv, "d_tv": d_tv, "g_opt": g_opt, "d_opt": d_opt, "pools": pools}
        values = dict(d_loss=d_total, g_loss=g_total, adv_loss=adv, cycle_loss=cycle,
                      identity_loss=identity, d_a_loss=loss_a, d_b_loss=loss_b,
                      d_real_acc=real_acc, d_fake_acc=fake_acc)
        return state, {k: sums[k] + values[k] for k in METRIC_NAMES}, step + 1

    def run(state, sums, a_all, b_all, perm_a, perm_b, start, n, step):
        def batch(images, perm, i):
            idx = lax.dynamic_index_in_dim(perm, start + i, keepdims=False)
            x = jnp.take(images, idx, axis=0).astype("float32") / 127.5 - 1.0
            return x.astype(model.compute_dtype)

        def body(i, carry):
            state, sums, step = carry
            return train_one(state, sums, batch(a_all, perm_a, i), batch(b_all, perm_b, i),
                             step)

        return lax.fori_loop(0, n, body, (state, sums, step))

    return jax.jit(run, donate_argnums=(0, 1))


def fit_jax(model, a_images, b_images, epochs=1, batch_size=16, seed=0, log_every=100,
            on_epoch_end=None, max_seconds=None, print_fn=print):
    """Trains a compiled CycleGAN on uint8 domain images ``(N, H, W, C)`` with Keras on JAX.

    Args:
        model: a compiled CycleGAN (``kgan.zoo.load(name, pretrained=False)``).
        a_images, b_images: uint8 pixels of domains A and B (scaled to [-1, 1] per batch).
        epochs: epochs of ``min(len(a), len(b)) // batch_size`` steps.
        batch_size: images per domain per step.
        seed: shuffling seed; the pools' randomness uses ``model.seed``.
        log_every: steps per jitted call (and per progress line).
        on_epoch_end: ``callable(epoch, logs)`` after each epoch, with the trained values
            back in the Keras variables.
        max_seconds: stop after the current call once this many seconds have passed.

    Returns:
        dict with ``history`` (per-epoch metric means), ``steps``, ``epochs_completed``,
        ``wall_seconds`` and ``stopped_early``.
    """
    jax = _require_jax()
    start_time = time.time()
    if not getattr(model, "compiled", False):
        raise ValueError(f"{model.name} is not compiled: call model.compile() first.")
    domains = []
    for name, images in (("a_images", a_images), ("b_images", b_images)):
        images = np.asarray(images)
        if images.dtype != np.uint8 or tuple(images.shape[1:]) != model.image_shape:
            raise ValueError(
                f"{name} must be uint8 pixels of shape (N, "
                f"{', '.join(map(str, model.image_shape))}); received {images.dtype} "
                f"{images.shape}.")
        domains.append(images)
    steps_per_epoch = min(len(x) for x in domains) // batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"batch_size={batch_size} exceeds the smaller domain's images.")
    chunk = min(int(log_every) or steps_per_epoch, steps_per_epoch)
    if not (model.d_optimizer.built and model.g_optimizer.built):
        model.build_optimizers()
    run = make_train_fn(model)
    device = jax.devices()[0]
    a_dev, b_dev = (jax.device_put(x, device) for x in domains)
    state = get_state(model)
    step = np.int32(int(np.asarray(model.g_optimizer.iterations.value)))
    history = {"epoch": [], "seconds": [], **{k: [] for k in METRIC_NAMES}}
    stopped, total, epochs_completed = False, 0, 0.0
    for epoch in range(epochs):
        rng = np.random.default_rng(seed + epoch)
        perms = [jax.device_put(
            rng.permutation(len(x))[:steps_per_epoch * batch_size]
            .reshape(steps_per_epoch, batch_size).astype("int32"), device) for x in domains]
        sums = {k: 0.0 for k in METRIC_NAMES}
        epoch_start, done = time.time(), 0
        while done < steps_per_epoch:
            if max_seconds is not None and time.time() - start_time > max_seconds:
                stopped = True
                break
            n = min(chunk, steps_per_epoch - done)
            zeros = {k: jax.numpy.zeros((), "float32") for k in METRIC_NAMES}
            state, chunk_sums, step = run(state, zeros, a_dev, b_dev, *perms, np.int32(done),
                                          np.int32(n), step)
            for k, v in jax.device_get(chunk_sums).items():
                sums[k] += float(v)
            done += n
            total += n
        if done == 0:
            break
        epochs_completed += done / steps_per_epoch
        set_state(model, state)
        logs = {k: sums[k] / done for k in METRIC_NAMES}
        seconds = time.time() - epoch_start
        history["epoch"].append(epoch + 1)
        history["seconds"].append(round(seconds, 2))
        for k in METRIC_NAMES:
            history[k].append(logs[k])
        print_fn(f"{model.name} epoch {epoch + 1}/{epochs}: "
                 + " ".join(f"{k}={v:.4f}" for k, v in logs.items()) + f" [{seconds:.1f}s]")
        if not all(np.isfinite(v) for v in logs.values()):
            stopped = True
        if on_epoch_end is not None:
            on_epoch_end(epoch, logs)
        if stopped:
            break
    return {"history": history, "steps": int(step), "epochs_completed": epochs_completed,
            "wall_seconds": round(time.time() - start_time, 1), "stopped_early": stopped}
