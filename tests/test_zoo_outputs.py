"""Every published zoo entry still loads and produces the outputs it produced when published.

``tests/data/zoo_outputs.npz`` holds, for each entry with weights, two outputs on fixed inputs
(latents and labels or captions for generators, fixed source images for image filters), written
by this file's ``--write`` mode from the weights as published. Refactors of the builders, the
layers or the loading code must leave them unchanged: the comparison allows 1e-5, the spread of
float32 kernels that sum in another order on another CPU; on the machine that wrote them the
outputs are bit-identical.

Regenerate only when an entry's weights are republished (its sha256 changes)::

    python tests/test_zoo_outputs.py --write
"""

import pathlib
import sys

import numpy as np
import pytest

import kgan

GOLDEN = pathlib.Path(__file__).parent / "data" / "zoo_outputs.npz"
CAPTIONS = ["a dark ankle boot", "a pair of trousers"]


def published_entries():
    return [name for name in kgan.zoo.list_models() if kgan.zoo.info(name).weights]


def fixed_outputs(name):
    """The entry's outputs on inputs drawn from a fixed NumPy seed (no backend RNG involved)."""
    model = kgan.zoo.load(name)
    rng = np.random.RandomState(0)
    if hasattr(model, "translate"):
        sources = rng.uniform(-1.0, 1.0, (2, *model.source_shape())).astype("float32")
        return model.translate(sources)
    z = rng.normal(size=(2, model.latent_dim)).astype("float32")
    if name.startswith(("text2image", "stackgan")):
        return model.generate(z=z, text=CAPTIONS, seed=0)
    labels = [0, 1] if model.num_classes else None
    return model.generate(z=z, labels=labels, seed=0)


def test_every_published_entry_has_a_golden_output():
    stored = set(np.load(GOLDEN).files)
    assert stored == set(published_entries()), (
        "published entries and tests/data/zoo_outputs.npz differ: after publishing, run "
        "`python tests/test_zoo_outputs.py --write`")


@pytest.mark.parametrize("name", published_entries())
def test_published_entry_generates_as_published(name):
    expected = np.load(GOLDEN)[name]
    np.testing.assert_allclose(fixed_outputs(name), expected, rtol=0, atol=1e-5)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN.parent.mkdir(exist_ok=True)
    np.savez_compressed(GOLDEN, **{name: fixed_outputs(name) for name in published_entries()})
    print(f"wrote {GOLDEN}")
