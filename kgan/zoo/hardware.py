"""What a zoo entry was trained on, for its card: one line naming the CPU, the accelerators
and the framework. Kept apart from :mod:`kgan.zoo.publish` so that every module that records
its hardware (classifiers, text encoders, training tools) can import it without importing the
publishing code and what it imports."""

import os
import platform

import keras


def hardware():
    """A one-line description of the machine and accelerators used."""
    if keras.backend.backend() == "jax":  # the GPU machines have JAX but no TensorFlow
        import jax

        gpus = [d.device_kind for d in jax.devices() if d.platform != "cpu"]
        framework = f"JAX {jax.__version__}, Keras {keras.__version__}"
    else:
        import tensorflow as tf

        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        framework = f"TensorFlow {tf.__version__}"
    return (f"{platform.machine()} CPU x{os.cpu_count()}, "
            f"{', '.join(gpus) if gpus else 'no GPU'}, {framework}")
