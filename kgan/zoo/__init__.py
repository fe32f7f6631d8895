"""The kgan model zoo: registered GAN entries with published weights and model cards."""

from kgan.zoo.registry import (ZooCfg, create, create_family, family_cfg, info,
                               list_families, list_models, load, register_family,
                               register_model)

__all__ = ["ZooCfg", "create", "create_family", "family_cfg", "info", "list_families",
           "list_models", "load", "register_family", "register_model"]
