"""Training kgan models with Keras on the JAX backend: one jitted loop, no TensorFlow.

Superseded: ``model.fit`` now trains the families of the base game on JAX through Keras' own
loop and callbacks (:mod:`kgan.trainers.jax`). This loop stays until
``tools/train_zoo_jax.py`` moves to ``kgan train`` / ``tools/train_zoo.py`` (issue 19).

``GAN.train_step`` is written with ``tf.GradientTape``; this module re-states the same game
with ``stateless_call`` / ``optimizer.stateless_apply`` and ``jax.grad`` so that the *same*
builders, loss functions and recipes train on machines that have JAX but no TensorFlow.
The trained ``.weights.h5`` files are backend-independent and load under TensorFlow.

Per batch, exactly as ``GAN.train_step`` (here with ``update="alternating"``; the
``"simultaneous"`` update is mirrored too: one forward pass, both players updated from it):

* ``model.d_steps`` discriminator updates, each with fresh latents and the real batch's
  labels for the fakes (conditional models); the loss is the pair named by
  ``model.loss_name`` plus ``gp_weight`` x the WGAN-GP penalty on per-example interpolates
  and ``r1_weight / 2`` x R1, with input gradients from ``jax.grad`` of the critic;
* one generator update;
* every network call runs with ``training=True``, in the order of ``train_step``
  (G(z), D(real), D(fake), D(x_hat), D(real) for R1; then D(G(z))), so BatchNorm moving
  statistics and dropout seed states (non-trainable variables) evolve the same way;
* latents and interpolation coefficients come from a stateless RNG keyed on
  ``(model.seed, generator step, stream)`` with ``train_step``'s stream numbers. JAX's
  generator is not TensorFlow's, so the numbers differ, not the distribution.

The data are numpy arrays kept on the device: uint8 pixels, scaled to [-1, 1] per batch, or
floats already in [-1, 1] (audio, spectrograms); each epoch shuffles with
``np.random.default_rng(seed + epoch)`` and drops the remainder.

Example (``KERAS_BACKEND=jax``):
    >>> import kgan.jax_training as jt, kgan
    >>> model = kgan.zoo.load("test_dcgan", pretrained=False)
    >>> result = jt.fit_jax(model, images_uint8, epochs=1, batch_size=64)
    >>> model.save_weights("test_dcgan.weights.h5")   # loads under TensorFlow too
"""

import time

import keras
import numpy as np

from kgan import losses as gan_losses
from kgan.gan import _MAX_D_STEPS, METRIC_NAMES


def _require_jax():
    if keras.backend.backend() != "jax":
        raise RuntimeError(
            "kgan.jax_training needs Keras' JAX backend: set KERAS_BACKEND=jax before "
            f"importing keras (the active backend is {keras.backend.backend()!r}). Under "
            "TensorFlow, train with model.fit() or kgan.training.train()."
        )
    import jax

    return jax


def _variable_lists(model):
    """The Keras variables whose values make up the training state, by state key."""
    return {
        "g_tv": model.generator.trainable_variables,
        "g_ntv": model.generator.non_trainable_variables,
        "d_tv": model.discriminator.trainable_variables,
        "d_ntv": model.discriminator.non_trainable_variables,
        "g_opt": model.g_optimizer.variables,
        "d_opt": model.d_optimizer.variables,
    }


def get_state(model):
    """The model's training state as a pytree of arrays (a copy of the variables' values)."""
    import jax.numpy as jnp

    return {k: [jnp.array(v.value) for v in vs] for k, vs in _variable_lists(model).items()}


def set_state(model, state):
    """Writes a training state back into the Keras variables (for save_weights, generate).

    Values are copied through the host so that the variables never share buffers with a
    state that a later jitted call donates.
    """
    for key, variables in _variable_lists(model).items():
        values = state[key]
        if len(values) != len(variables):
            raise ValueError(f"State {key!r} has {len(values)} values for {len(variables)} "
                             "variables: it belongs to another model.")
        for variable, value in zip(variables, values):
            variable.assign(np.asarray(value))


def step_key(seed, step, stream):
    """JAX key of RNG ``stream`` at generator step ``step`` (``train_step``'s numbering).

    Streams: ``k`` for discriminator update k's latents, ``_MAX_D_STEPS - 1 - k`` for its
    interpolation coefficients, ``_MAX_D_STEPS`` for the generator update's latents.
    """
    import jax

    key = jax.random.fold_in(jax.random.key(seed), step)
    return jax.random.fold_in(key, stream)


def sample_latents(model, batch_size, step, stream):
    """The latents ``fit_jax`` draws at ``(step, stream)``: N(0, I), ``(batch, latent_dim)``."""
    import jax

    return jax.random.normal(step_key(int(model.seed), step, stream),
                             (batch_size, model.latent_dim), "float32")


def sample_interpolation(model, batch_size, step, stream):
    """The WGAN-GP coefficients ``fit_jax`` draws: U[0, 1), ``(batch, 1, ..., 1)``."""
    import jax

    return jax.random.uniform(step_key(int(model.seed), step, stream),
                              (batch_size,) + (1,) * len(model.image_shape), "float32")


def make_train_fn(model, batch_size):
    """Builds ``run(state, sums, images, labels, perm, start, n, step)``, jitted.

    Runs ``n`` training steps (``train_step``'s d_steps + 1 updates each) on the batches
    ``perm[start], ..., perm[start + n - 1]`` (rows of indices into the device-resident
    ``images`` (uint8 pixels or floats in [-1, 1]) / int32 ``labels``). ``step`` is the
    generator step counter that keys the latent RNG. Returns ``(state, sums, step)``; ``sums`` accumulates each metric's
    sum over the updates it was measured on (d metrics per discriminator update).
    """
    jax = _require_jax()
    jnp = jax.numpy
    lax = jax.lax

    generator, discriminator = model.generator, model.discriminator
    g_optimizer, d_optimizer = model.g_optimizer, model.d_optimizer
    generator_loss_fn, discriminator_loss_fn = gan_losses.get(model.loss_name)
    d_steps, gp_weight, r1_weight = model.d_steps, model.gp_weight, model.r1_weight
    threshold = 0.5 if model.loss_name == "least_squares" else 0.0
    conditional = model.conditional
    b = int(batch_size)

    def g_call(tv, ntv, z, cond):
        return generator.stateless_call(tv, ntv, [z, *cond] if cond else z, training=True)

    def d_call(tv, ntv, x, cond):
        logits, ntv = discriminator.stateless_call(
            tv, ntv, [x, *cond] if cond else x, training=True)
        return logits.astype("float32"), ntv

    def input_gradients(d_tv, d_ntv, x, cond):
        """d sum(D(x)) / dx, threading D's state (BatchNorm, dropout seeds) through."""

        def critic_sum(x_, ntv):
            logits, ntv = d_call(d_tv, ntv, x_, cond)
            return jnp.sum(logits), ntv

        return jax.grad(critic_sum, has_aux=True)(x, d_ntv)

    def critic_loss(d_tv, d_ntv, images, fake, cond, step, k):
        """``GAN._critic_loss``: D's loss with penalties, threading D's state."""
        real_logits, d_ntv = d_call(d_tv, d_ntv, images, cond)
        fake_logits, d_ntv = d_call(d_tv, d_ntv, fake, cond)
        total = discriminator_loss_fn(real_logits, fake_logits)
        gp = r1 = jnp.zeros((), "float32")
        if gp_weight:
            eps = sample_interpolation(model, b, step, _MAX_D_STEPS - 1 - k)
            eps = eps.astype(images.dtype)
            fixed = lax.stop_gradient(fake).astype(images.dtype)
            grads, d_ntv = input_gradients(d_tv, d_ntv, images + eps * (fixed - images), cond)
            gp = gan_losses.gradient_penalty_from_gradients(grads)
            total = total + gp_weight * gp
        if r1_weight:
            grads, d_ntv = input_gradients(d_tv, d_ntv, images, cond)
            r1 = gan_losses.r1_penalty_from_gradients(grads)
            total = total + 0.5 * r1_weight * r1
        return total, (d_ntv, real_logits, fake_logits, gp, r1)

    def track_d(sums, total, real_logits, fake_logits, gp, r1):
        return {
            **sums,
            "d_loss": sums["d_loss"] + total,
            "gp": sums["gp"] + gp,
            "r1": sums["r1"] + r1,
            "d_real_acc": sums["d_real_acc"] + jnp.mean(
                (real_logits > threshold).astype("float32")),
            "d_fake_acc": sums["d_fake_acc"] + jnp.mean(
                (fake_logits <= threshold).astype("float32")),
        }

    def d_update(k, carry):
        state, sums, images, cond, step = carry
        z = sample_latents(model, b, step, k)
        fake, g_ntv = g_call(state["g_tv"], state["g_ntv"], z, cond)
        fake = lax.stop_gradient(fake)  # GradientTape in train_step starts after G(z)

        def loss_fn(d_tv, d_ntv):
            return critic_loss(d_tv, d_ntv, images, fake, cond, step, k)

        (total, (d_ntv, real_logits, fake_logits, gp, r1)), grads = jax.value_and_grad(
            loss_fn, has_aux=True)(state["d_tv"], state["d_ntv"])
        d_tv, d_opt = d_optimizer.stateless_apply(state["d_opt"], grads, state["d_tv"])
        state = {**state, "g_ntv": g_ntv, "d_tv": d_tv, "d_ntv": d_ntv, "d_opt": d_opt}
        sums = track_d(sums, total, real_logits, fake_logits, gp, r1)
        return state, sums, images, cond, step

    def simultaneous_update(state, sums, images, cond, step):
        """``GAN._simultaneous_update``: one forward pass, one backward pass per player."""
        z = sample_latents(model, b, step, 0)

        def losses(g_tv, d_tv):
            fake, g_ntv = g_call(g_tv, state["g_ntv"], z, cond)
            total, aux = critic_loss(d_tv, state["d_ntv"], images, fake, cond, step, 0)
            return (total, generator_loss_fn(aux[2])), (g_ntv, *aux)

        (total, g_loss), pullback, (g_ntv, d_ntv, real_logits, fake_logits, gp, r1) = jax.vjp(
            losses, state["g_tv"], state["d_tv"], has_aux=True)
        one, zero = jnp.ones_like(total), jnp.zeros_like(total)
        _, d_grads = pullback((one, zero))
        g_grads, _ = pullback((zero, one))
        d_tv, d_opt = d_optimizer.stateless_apply(state["d_opt"], d_grads, state["d_tv"])
        g_tv, g_opt = g_optimizer.stateless_apply(state["g_opt"], g_grads, state["g_tv"])
        state = {**state, "g_tv": g_tv, "g_ntv": g_ntv, "d_tv": d_tv, "d_ntv": d_ntv,
                 "d_opt": d_opt, "g_opt": g_opt}
        sums = track_d(sums, total, real_logits, fake_logits, gp, r1)
        return state, {**sums, "g_loss": sums["g_loss"] + g_loss}

    def g_update(state, sums, cond, step):
        z = sample_latents(model, b, step, _MAX_D_STEPS)

        def loss_fn(g_tv, g_ntv, d_ntv):
            fake, g_ntv = g_call(g_tv, g_ntv, z, cond)
            fake_logits, d_ntv = d_call(state["d_tv"], d_ntv, fake, cond)
            return generator_loss_fn(fake_logits), (g_ntv, d_ntv)

        (g_loss, (g_ntv, d_ntv)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state["g_tv"], state["g_ntv"], state["d_ntv"])
        g_tv, g_opt = g_optimizer.stateless_apply(state["g_opt"], grads, state["g_tv"])
        state = {**state, "g_tv": g_tv, "g_ntv": g_ntv, "d_ntv": d_ntv, "g_opt": g_opt}
        return state, {**sums, "g_loss": sums["g_loss"] + g_loss}

    def train_one(state, sums, images, cond, step):
        if model.update == "simultaneous":
            state, sums = simultaneous_update(state, sums, images, cond, step)
            return state, sums, step + 1
        carry = (state, sums, images, cond, step)
        if d_steps == 1:
            carry = d_update(0, carry)
        else:
            carry = lax.fori_loop(0, d_steps, d_update, carry)
        state, sums = carry[0], carry[1]
        state, sums = g_update(state, sums, cond, step)
        return state, sums, step + 1

    def run(state, sums, all_images, all_labels, perm, start, n, step):
        def body(i, carry):
            state, sums, step = carry
            idx = lax.dynamic_index_in_dim(perm, start + i, keepdims=False)
            images = jnp.take(all_images, idx, axis=0).astype("float32")
            if all_images.dtype == jnp.uint8:  # kgan.data's scaling: pixels / 127.5 - 1.
                images = images / 127.5 - 1.0
            images = images.astype(model.compute_dtype)
            cond = (jnp.take(all_labels, idx, axis=0),) if conditional else ()
            return train_one(state, sums, images, cond, step)

        return lax.fori_loop(0, n, body, (state, sums, step))

    return jax.jit(run, donate_argnums=(0, 1))


def _zero_sums():
    import jax.numpy as jnp

    return {name: jnp.zeros((), "float32") for name in METRIC_NAMES}


def fit_jax(model, images, labels=None, epochs=1, batch_size=128, seed=0, log_every=100,
            on_epoch_end=None, max_steps=None, max_seconds=None, initial_epoch=0, verbose=1,
            print_fn=print):
    """Trains a compiled ``kgan.GAN`` with Keras on JAX, with ``GAN.train_step``'s semantics.

    Args:
        model: a compiled kgan model (``kgan.zoo.load(name, pretrained=False)``).
        images: ``(N, *model.image_shape)`` uint8 pixels, or floats in [-1, 1] (kept as
            float32); ``(N, H, W)`` gets a channel axis.
        labels: ``(N,)`` integer classes; required for conditional models.
        epochs: epochs to train (up to; ``max_steps`` / ``max_seconds`` stop earlier).
        batch_size: examples per step; the last partial batch of each epoch is dropped.
        seed: shuffling seed (epoch e uses ``np.random.default_rng(seed + e)``); latents use
            ``model.seed`` like ``train_step``.
        log_every: steps per jitted call, and a progress line every that many steps when
            ``verbose > 1`` (0: a whole epoch per call).
        on_epoch_end: ``callable(epoch, logs)`` called after each epoch, once the trained
            values are back in the Keras variables (so ``model.generate`` and
            ``model.save_weights`` see them). ``logs`` holds the epoch's metric means.
        max_steps: stop after this many training steps in total (None: no limit).
        max_seconds: stop gracefully (after the current call of ``log_every`` steps) once
            this many seconds have passed since ``fit_jax`` started, compile included.
        initial_epoch: first epoch index (for shuffling seeds and logs when resuming).
        verbose: 0 silent, 1 a line per epoch, 2 also a line every ``log_every`` steps.

    Returns:
        dict: ``history`` (per-epoch lists: ``epoch``, ``steps``, ``seconds`` and the active
        metrics), ``steps`` (total generator steps), ``epochs_completed`` (a float when the
        last epoch was cut short), ``wall_seconds``, ``compile_seconds``, ``stopped_early``.
    """
    jax = _require_jax()
    start_time = time.time()
    if not getattr(model, "compiled", False):
        raise ValueError(f"{model.name} is not compiled: call model.compile() first.")
    if getattr(model, "augment", None) is not None:
        raise NotImplementedError(f"fit_jax does not apply compile(augment={model.augment!r}) "
                                  "yet; train augmented models with model.fit on TensorFlow.")
    if keras.mixed_precision.dtype_policy().name == "mixed_float16":
        raise ValueError("fit_jax does not implement loss scaling: use float32 or bfloat16.")
    images = np.asarray(images)
    if images.ndim == len(model.image_shape) and images.shape[1:] == model.image_shape[:-1]:
        images = images[..., None]
    if np.issubdtype(images.dtype, np.floating):
        images = images.astype("float32")
        if images.size and (images.min() < -1.0001 or images.max() > 1.0001):
            raise ValueError("Float training data must be in [-1, 1]; received values in "
                             f"[{images.min():.3g}, {images.max():.3g}].")
    elif images.dtype != np.uint8:
        raise ValueError(f"fit_jax takes uint8 pixels or floats in [-1, 1]; received dtype "
                         f"{images.dtype}.")
    if tuple(images.shape[1:]) != tuple(model.image_shape):
        raise ValueError(f"Images of shape {images.shape} do not fit {model.name}: expected "
                         f"(N, {', '.join(map(str, model.image_shape))}).")
    if model.conditional:
        if labels is None:
            raise ValueError(f"{model.name} is conditional: pass labels=.")
        labels = np.asarray(labels).astype("int32").reshape(-1)
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels.")
        if labels.min() < 0 or labels.max() >= model.num_classes:
            raise ValueError(f"labels must be in [0, {model.num_classes}).")
    else:
        labels = np.zeros((len(images),), "int32")  # unused; keeps one signature
    steps_per_epoch = len(images) // batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"batch_size={batch_size} exceeds the {len(images)} images.")
    chunk = int(log_every) if log_every and log_every > 0 else steps_per_epoch
    chunk = min(chunk, steps_per_epoch)

    if not (model.d_optimizer.built and model.g_optimizer.built):
        model.build_optimizers()
    run = make_train_fn(model, batch_size)
    device = jax.devices()[0]
    images_dev = jax.device_put(images, device)
    labels_dev = jax.device_put(labels, device)
    state = get_state(model)
    step = np.int32(int(np.asarray(model.g_optimizer.iterations.value)))

    active = [n for n in METRIC_NAMES if n in model._active_metric_names]
    history = {"epoch": [], "steps": [], "seconds": [], **{n: [] for n in active}}
    compiled = None
    compile_seconds = 0.0
    total_steps = 0
    stopped = False
    epochs_completed = 0.0
    for epoch in range(initial_epoch, epochs):
        perm = np.random.default_rng(seed + epoch).permutation(len(images))
        perm = perm[: steps_per_epoch * batch_size].reshape(steps_per_epoch, batch_size)
        perm_dev = jax.device_put(perm.astype("int32"), device)
        epoch_start = time.time()
        sums = {n: 0.0 for n in METRIC_NAMES}
        done = 0
        while done < steps_per_epoch:
            if max_steps is not None and total_steps >= max_steps:
                stopped = True
                break
            if max_seconds is not None and time.time() - start_time > max_seconds:
                stopped = True
                break
            n = min(chunk, steps_per_epoch - done)
            if max_steps is not None:
                n = min(n, max_steps - total_steps)
            args = (state, _zero_sums(), images_dev, labels_dev, perm_dev,
                    np.int32(done), np.int32(n), step)
            if compiled is None:
                t0 = time.time()
                compiled = run.lower(*args).compile()
                compile_seconds = time.time() - t0
                if verbose:
                    print_fn(f"{model.name}: compiled the training loop in "
                             f"{compile_seconds:.1f}s on {device.device_kind}")
                epoch_start += compile_seconds
            state, chunk_sums, step = compiled(*args)
            chunk_sums = jax.device_get(chunk_sums)  # also waits for the steps to finish
            for name in METRIC_NAMES:
                sums[name] += float(chunk_sums[name])
            done += n
            total_steps += n
            if verbose > 1:
                print_fn(f"  epoch {epoch + 1} step {done}/{steps_per_epoch}: " + " ".join(
                    f"{k}={_mean_of(k, sums, done, model.d_steps):.4f}" for k in active))
        if done == 0:
            break
        seconds = time.time() - epoch_start
        epochs_completed += done / steps_per_epoch
        set_state(model, state)
        logs = {k: _mean_of(k, sums, done, model.d_steps) for k in active}
        history["epoch"].append(epoch + 1)
        history["steps"].append(done)
        history["seconds"].append(round(seconds, 3))
        for k in active:
            history[k].append(logs[k])
        if verbose:
            partial = "" if done == steps_per_epoch else f" ({done}/{steps_per_epoch} steps)"
            print_fn(f"{model.name} epoch {epoch + 1}/{epochs}{partial}: "
                     + " ".join(f"{k}={v:.4f}" for k, v in logs.items())
                     + f" [{seconds:.1f}s, {done / max(seconds, 1e-9):.0f} steps/s]")
        if not all(np.isfinite(v) for v in logs.values()):
            stopped = True
            if verbose:
                print_fn(f"{model.name}: non-finite loss, stopping.")
        if on_epoch_end is not None:
            on_epoch_end(epoch, logs)
        if stopped:
            break
    set_state(model, state)
    return {
        "history": history,
        "steps": total_steps,
        "epochs_completed": round(epochs_completed, 4),
        "wall_seconds": round(time.time() - start_time, 2),
        "compile_seconds": round(compile_seconds, 2),
        "stopped_early": stopped,
        "device": device.device_kind,
    }


def _mean_of(name, sums, steps, d_steps):
    count = steps if name == "g_loss" else steps * d_steps
    return sums[name] / max(count, 1)
