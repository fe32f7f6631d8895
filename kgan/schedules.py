"""Learning-rate schedules of kgan's recipes, serializable with the optimizers that use them."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kgan")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant ``initial_learning_rate`` for ``hold_steps``, then linearly to 0 over
    ``decay_steps`` (CycleGAN's paper: 100 epochs constant, 100 decaying); 0 afterwards.

    The step is the optimizer's own update count, so the schedule resumes with the
    optimizer state (``BackupAndRestore``, ``.keras`` files) and needs no callback.
    """

    def __init__(self, initial_learning_rate, hold_steps, decay_steps):
        if decay_steps < 1 or hold_steps < 0:
            raise ValueError(
                f"LinearDecay needs decay_steps >= 1 and hold_steps >= 0; received "
                f"hold_steps={hold_steps!r}, decay_steps={decay_steps!r}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.hold_steps = int(hold_steps)
        self.decay_steps = int(decay_steps)

    def __call__(self, step):
        progress = (ops.cast(step, "float32") - self.hold_steps) / self.decay_steps
        return self.initial_learning_rate * ops.clip(1.0 - progress, 0.0, 1.0)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "hold_steps": self.hold_steps, "decay_steps": self.decay_steps}
