"""The two kinds of GAN: every zoo test entry is a LatentGAN (it generates) or a
TranslationGAN (it is a filter), both are ``kgan.GAN``s, and no class offers a method that
only raises (such as a ``generate`` refusing because the family has no latents)."""

import ast
import inspect
import textwrap

import numpy as np
import pytest

import kgan

TEST_ENTRIES = kgan.zoo.list_models("test_*")
#: Keras' ``evaluate()`` hook, which a GAN refuses on purpose: it has no validation loss.
REFUSED_KERAS_HOOKS = {"test_step"}


def only_raises(function):
    """Whether ``function``'s body, past its docstring, is a single ``raise``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    body = tree.body[0].body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return len(body) == 1 and isinstance(body[0], ast.Raise)


def kgan_methods(cls):
    """``(name, function)`` of the methods ``cls`` resolves to that kgan defines."""
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if member.__module__.startswith("kgan") and name not in REFUSED_KERAS_HOOKS:
            yield name, member


@pytest.mark.parametrize("name", TEST_ENTRIES)
def test_each_entry_is_of_one_kind(name):
    model = kgan.zoo.create(name)
    assert isinstance(model, kgan.GAN)
    latent = isinstance(model, kgan.LatentGAN)
    assert latent != isinstance(model, kgan.TranslationGAN)
    if latent:
        assert model.latent_dim > 0 and callable(model.generate)
        assert not hasattr(model, "translate")
    else:
        assert (model.latent_dim, model.num_classes) == (0, 0)
        assert not hasattr(model, "generate")
        sources = np.random.default_rng(0).uniform(-1, 1, (2, *model.source_shape()))
        assert model.translate(sources).shape == (2, *model.image_shape)
    refusing = [n for n, method in kgan_methods(type(model)) if only_raises(method)]
    assert not refusing, f"{type(model).__name__} has methods that only raise: {refusing}"


def test_the_only_raises_check_finds_one():
    class Refusing:
        def generate(self):
            """Not here."""
            raise ValueError("no latents")

    assert only_raises(Refusing.generate)
    assert not only_raises(test_each_entry_is_of_one_kind)
