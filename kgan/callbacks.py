"""Keras callbacks for GAN training.

``SampleGrid`` writes the same fixed latents' samples every few epochs, to PNG and to
TensorBoard, so progress (and mode collapse) is visible. Generator EMA is built into the
generator optimizer (``compile(ema_decay=0.999)``); ``keras.callbacks.BackupAndRestore``
works as it is, restoring both optimizers and the step counter that keys the latent RNG.
"""

from pathlib import Path

import keras

from kgan.images import image_grid, sample_images, save_grid
from kgan.translation import comparison_images


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of samples from fixed latents every ``every_n_epochs`` epochs.

    Args:
        out_dir: folder for ``epoch_XXXX.png`` files (None: no PNGs).
        n: number of samples (conditional models: rows cycle through the classes).
        every_n_epochs: how often to write.
        seed: seed of the fixed latents.
        log_dir: TensorBoard log folder; the grid is also written there as an image summary.
    """

    def __init__(self, out_dir=None, n=64, every_n_epochs=1, seed=0, log_dir=None):
        super().__init__()
        self.out_dir = Path(out_dir) if out_dir else None
        self.n, self.every_n_epochs, self.seed = int(n), int(every_n_epochs), seed
        self.log_dir = log_dir
        self._writer = None
        self.last_path = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        images, rows = sample_images(self.model, self.n, self.seed)
        self._write(epoch, images, rows)

    def _write(self, epoch, images, rows):
        if self.out_dir:
            self.last_path = save_grid(self.out_dir / f"epoch_{epoch + 1:04d}.png", images, rows)
        if self.log_dir:
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(self.log_dir))
            with self._writer.as_default():
                grid = image_grid(images, rows)[None].astype("float32") / 255.0
                tf.summary.image("samples", grid, step=epoch + 1)
            self._writer.flush()


class TranslationGrid(SampleGrid):
    """``SampleGrid`` for image-to-image models: rows of ``source | output | target`` for
    fixed ``sources`` / ``targets`` (float [-1, 1]), e.g. from
    ``kgan.translation.paired_preview(dataset)``."""

    def __init__(self, out_dir=None, sources=None, targets=None, every_n_epochs=1,
                 log_dir=None):
        super().__init__(out_dir, n=len(sources), every_n_epochs=every_n_epochs,
                         log_dir=log_dir)
        self.sources, self.targets = sources, targets

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        images, rows = comparison_images(self.model, self.sources, self.targets)
        self._write(epoch, images, rows)
