"""Runs under Keras' JAX backend (no TensorFlow needed), for tests/test_jax_training.py.

    KERAS_BACKEND=jax python tests/jax_parity_worker.py NAME OUT_DIR STEPS BATCH

Builds zoo entry NAME with its recipe, saves its initial weights, trains STEPS steps with
``kgan.jax_training.fit_jax`` on deterministic random images, and saves what the
TensorFlow side needs to replay the same steps with ``GAN.train_step``: trained weights,
the batch order, every latent and interpolation draw, the per-epoch metrics and generator
outputs on fixed latents.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kgan import jax_training, zoo  # noqa: E402
from kgan.gan import _MAX_D_STEPS  # noqa: E402

N_IMAGES = 64


def main(name, out, steps, batch):
    out = os.path.abspath(out)
    if os.environ.get("KGAN_TEST_NO_DROPOUT"):
        # Dropout masks come from each backend's own RNG; the replay needs them off.
        keras.layers.Dropout.call = lambda self, inputs, training=False: inputs
    keras.utils.set_random_seed(0)
    model = zoo.load(name, pretrained=False)
    if os.environ.get("KGAN_TEST_UPDATE"):
        model.compile_from_config({**model.get_compile_config(),
                                   "update": os.environ["KGAN_TEST_UPDATE"]})
    model.build_optimizers()
    model.save_weights(os.path.join(out, "init.weights.h5"))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(N_IMAGES, *model.image_shape), dtype="uint8")
    labels = None
    if model.conditional:
        labels = (np.arange(N_IMAGES) % model.num_classes).astype("int32")
    result = jax_training.fit_jax(model, images, labels, epochs=1, batch_size=batch, seed=5,
                                  log_every=steps, max_steps=steps, verbose=0)
    model.save_weights(os.path.join(out, "trained.weights.h5"))
    perm = np.random.default_rng(5).permutation(N_IMAGES)[: steps * batch]
    z_d = np.stack([np.stack([np.asarray(jax_training.sample_latents(model, batch, s, k))
                              for k in range(model.d_steps)]) for s in range(steps)])
    z_g = np.stack([np.asarray(jax_training.sample_latents(model, batch, s, _MAX_D_STEPS))
                    for s in range(steps)])
    eps = np.stack([np.stack([np.asarray(jax_training.sample_interpolation(
        model, batch, s, _MAX_D_STEPS - 1 - k)) for k in range(model.d_steps)])
        for s in range(steps)])
    z_check = np.random.default_rng(1).normal(size=(6, model.latent_dim)).astype("float32")
    labels_check = np.arange(6) % model.num_classes if model.conditional else None
    generated = model.generate(z=z_check, labels=labels_check)
    np.savez(os.path.join(out, "ref.npz"), images=images,
             labels=labels if labels is not None else np.zeros(0, "int32"), perm=perm,
             z_d=z_d, z_g=z_g, eps=eps, z_check=z_check, generated=generated)
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
