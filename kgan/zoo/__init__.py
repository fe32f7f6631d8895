"""The kgan model zoo: registered GAN entries with published weights and model cards."""

from kgan.zoo._registry import ZooCfg, create, info, list_models, load, register_model

__all__ = ["ZooCfg", "create", "info", "list_models", "load", "register_model"]
