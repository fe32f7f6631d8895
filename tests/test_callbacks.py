"""SampleGrid, and BackupAndRestore resuming a GAN with both optimizers' state."""

import keras
import pytest

import kgan
from gan_checks import tiny_dataset


def test_sample_grid_writes_png_and_tensorboard(tmp_path):
    from PIL import Image

    model = kgan.zoo.load("test_cgan", pretrained=False)
    grid = kgan.callbacks.SampleGrid(tmp_path / "png", n=20, every_n_epochs=2,
                                     log_dir=tmp_path / "tb")
    model.fit(tiny_dataset(model), epochs=2, steps_per_epoch=1, callbacks=[grid], verbose=0)
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["epoch_0002.png"]
    width, height = Image.open(grid.last_path).size
    assert height > width  # one row per class: 10 rows of 2 samples
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


@pytest.mark.parametrize("name", ["test_wavegan", "test_gan3d"])
def test_sample_grid_pictures_audio_and_voxels(tmp_path, name):
    """kgan train's callback on clips (waveform + spectrogram per clip) and voxel grids
    (isometric views): it used to call the image tiler on them and crash at the first
    epoch end."""
    import numpy as np
    from PIL import Image

    model = kgan.zoo.load(name, pretrained=False)
    grid = kgan.callbacks.SampleGrid(tmp_path / "png", n=4, log_dir=tmp_path / "tb")
    grid.set_model(model)
    grid.on_epoch_end(0)
    picture = np.asarray(Image.open(grid.last_path))
    assert picture.ndim == 3 and picture.shape[-1] == 3 and picture.std() > 0
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


class _StopAfter(keras.callbacks.Callback):
    """Simulates a crash: raises after ``epochs`` epochs."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt


def test_backup_and_restore_resumes_both_optimizers(tmp_path):
    def fresh():
        model = kgan.zoo.load("test_dcgan", pretrained=False)
        return model, keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))

    model, backup = fresh()
    with pytest.raises(KeyboardInterrupt):
        model.fit(tiny_dataset(model), epochs=3, steps_per_epoch=2,
                  callbacks=[backup, _StopAfter(2)], verbose=0)

    resumed, backup = fresh()
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))
    first_batch = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append(
            ("restored", int(resumed.d_optimizer.iterations.numpy()),
             int(resumed.g_optimizer.iterations.numpy()))))
    resumed.fit(tiny_dataset(resumed), epochs=3, steps_per_epoch=2,
                callbacks=[backup, first_batch, record], verbose=0)
    # Restored at epoch 2 of 3 with both optimizers' counters, then ran the last epoch.
    assert seen[0] == ("restored", 4, 4)
    assert seen[1:] == [2]
    assert int(resumed.g_optimizer.iterations.numpy()) == 6
