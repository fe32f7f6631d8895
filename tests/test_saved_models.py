"""``.keras`` files saved by earlier kgan versions still load and give the same outputs.

``tests/data/saved_v1/`` holds compiled test entries (a latent family, the three image
filters, a text-conditioned stage model, StyleGAN and the 3-D GAN) saved with
``model.save`` before the base classes were split by kind (LatentGAN / TranslationGAN) and
CycleGAN's networks were named for their directions, with their outputs on fixed inputs.
"""

import pathlib

import keras
import numpy as np
import pytest

import kgan  # noqa: F401  (registers kgan's serializable classes)
from test_zoo_outputs import CAPTIONS

SAVED = pathlib.Path(__file__).parent / "data" / "saved_v1"
NAMES = sorted(path.stem for path in SAVED.glob("*.keras"))


def test_saved_files_are_present():
    assert len(NAMES) >= 7, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_old_keras_file_loads_and_generates_the_same(name):
    model = keras.saving.load_model(SAVED / f"{name}.keras")
    rng = np.random.RandomState(0)
    if hasattr(model, "translate"):
        out = model.translate(rng.uniform(-1, 1, (2, *model.source_shape())).astype("float32"))
    else:
        z = rng.normal(size=(2, model.latent_dim)).astype("float32")
        if name == "test_stackgan":
            out = model.generate(z=z, text=CAPTIONS, seed=0)
        else:
            out = model.generate(z=z, labels=[0, 1] if model.num_classes else None, seed=0)
    np.testing.assert_allclose(out, np.load(SAVED / "outputs.npz")[name], rtol=0, atol=1e-5)
    assert model.compiled, "the compile config saved with the model must be restored"
