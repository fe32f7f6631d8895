"""The model zoo registry (timm's ``register_model`` + ``PretrainedCfg``, keras-hub presets).

Each family file (``kgan/models/<family>.py``) registers factories with :func:`register_model`
when it is imported; ``import kgan`` imports every family, so the registry is full before any
lookup. ``load(name)`` builds the model, compiles it with the entry's recipe and loads its
published weights after checking their sha256.
"""

import dataclasses
import difflib
import fnmatch

from kgan.zoo.weights import EntryFiles, load_into, resolve

_REGISTRY = {}
#: family name -> (template ZooCfg with the family's default builder arguments and recipe,
#: factory): what ``kgan train FAMILY --data folder:PATH`` builds for a user's own images.
_FAMILIES = {}


@dataclasses.dataclass(frozen=True)
class ZooCfg(EntryFiles):
    """Everything known about a zoo entry besides its code.

    Attributes:
        name: registry key, ``<family>_<dataset>[_<res>]``.
        family: family name (``dcgan``, ``cgan``...).
        dataset: ``kgan.data`` name the entry trains on.
        image_shape: ``(H, W, C)`` of generated samples.
        latent_dim: size of z.
        num_classes: classes for conditional entries, 0 otherwise.
        weights: file name of the published weights in ``zoo/<name>/`` (None: no weights).
        sha256: hex digest of the weights file, checked on every load.
        url: optional remote copy of the weights, downloaded once into ``$KGAN_HOME``.
        weights_dtype: how the published file stores the weights: ``"float16"`` halves a
            large entry's file, and loading casts it back to the model's float32.
        model_kwargs: keyword arguments of the family's builder.
        recipe: training recipe: ``compile`` arguments, ``epochs``, ``batch_size``, ``seed``.
        paper, license: provenance shown on the card.
    """

    name: str
    family: str
    dataset: str
    image_shape: tuple
    latent_dim: int
    num_classes: int = 0
    weights: str = None
    sha256: str = None
    url: str = None
    weights_dtype: str = "float32"
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    recipe: dict = dataclasses.field(default_factory=dict)
    paper: str = ""
    license: str = "Apache-2.0 (code); weights trained on the data set's license terms"



def register_model(cfg):
    """Decorator registering ``factory(cfg, **overrides) -> kgan.GAN`` under ``cfg.name``."""

    def wrap(factory):
        if cfg.name in _REGISTRY:
            raise ValueError(f"Zoo entry {cfg.name!r} is registered twice.")
        _REGISTRY[cfg.name] = (cfg, factory)
        return factory

    return wrap


def register_family(template, factory):
    """Registers family ``template.family``'s default builder arguments and recipe
    (``template.image_shape`` and ``dataset`` are filled in by :func:`family_cfg`)."""
    if template.family in _FAMILIES:
        raise ValueError(f"Family {template.family!r} is registered twice.")
    _FAMILIES[template.family] = (template, factory)


def list_families():
    """Sorted names of the families that build for any supported image shape."""
    return sorted(_FAMILIES)


def family_cfg(family, image_shape, dataset):
    """A :class:`ZooCfg` (no weights) for ``family`` at ``image_shape``, trained on
    ``dataset``: the family's default architecture and recipe for a user's own data."""
    if family not in _FAMILIES:
        raise ValueError(f"Unknown family {family!r}; expected one of "
                         f"{', '.join(sorted(_FAMILIES))}.")
    template = _FAMILIES[family][0]
    return dataclasses.replace(template, dataset=dataset, image_shape=tuple(image_shape))


def create_family(cfg, **overrides):
    """Builds ``cfg.family``'s model for a :func:`family_cfg`, uncompiled and fresh."""
    return _FAMILIES[cfg.family][1](cfg, **overrides)


def list_models(pattern="*"):
    """Sorted names of the registered entries matching an fnmatch ``pattern``."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def info(name):
    """The :class:`ZooCfg` of an entry; unknown names raise a ``ValueError`` with close matches."""
    if not isinstance(name, str) or name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=5, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown zoo entry {name!r}.{hint} kgan.zoo.list_models() lists all "
            f"{len(_REGISTRY)} entries."
        )
    return _REGISTRY[name][0]


def create(name, **overrides):
    """Builds the entry's model, uncompiled and with fresh weights."""
    cfg = info(name)
    return _REGISTRY[name][1](cfg, **overrides)


def load(name, pretrained=True, compile=True, **overrides):
    """Builds a zoo model, compiled with its recipe and, by default, with trained weights.

    Args:
        name: a name from :func:`list_models`.
        pretrained: load the published weights (sha256-checked). An entry without
            weights raises a ``ValueError`` rather than silently returning random weights.
        compile: compile with the recipe's optimizers and loss (needed for ``fit``).
        **overrides: builder arguments (e.g. ``seed``); architecture changes make the
            published weights unusable, so they require ``pretrained=False``.

    Returns:
        A ``kgan.GAN``, ready for ``generate`` and ``fit``.
    """
    cfg = info(name)
    if pretrained and not cfg.weights:
        raise ValueError(
            f"Zoo entry {name!r} has no published weights yet; use "
            f"kgan.zoo.load({name!r}, pretrained=False) for a freshly initialised model."
        )
    model = create(name, **overrides)
    if compile:
        model.compile(**cfg.recipe.get("compile", {}))
    if pretrained:
        load_into(model, resolve(cfg))
    return model
