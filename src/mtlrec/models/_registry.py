"""Registry of model classes by config name."""

from __future__ import annotations

from collections.abc import Callable

from mtlrec.config import ModelConfig
from mtlrec.models._base import MultiTaskModel

__all__ = ["get_model_class", "get_model_config_class", "list_models", "register"]

_MODELS: dict[str, type[MultiTaskModel]] = {}


def register(name: str) -> Callable[[type[MultiTaskModel]], type[MultiTaskModel]]:
    """Class decorator adding a model to the registry under ``name``.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def add(cls: type[MultiTaskModel]) -> type[MultiTaskModel]:
        if name in _MODELS:
            raise ValueError(f"model name {name!r} is already registered")
        _MODELS[name] = cls
        return cls

    return add


def get_model_class(name: str) -> type[MultiTaskModel]:
    """Return the model class registered as ``name``.

    Raises:
        KeyError: No such model; the message lists the registered names.
    """
    if name not in _MODELS:
        raise KeyError(
            f"unknown model name {name!r}; choose one of {sorted(_MODELS)!r} "
            "(see `mtlrec models`)"
        )
    return _MODELS[name]


def get_model_config_class(name: str) -> type[ModelConfig]:
    """Return the config class of the model registered as ``name``."""
    return get_model_class(name).config_class


def list_models() -> dict[str, type[MultiTaskModel]]:
    """Return ``{name: class}`` for every registered model, sorted by name."""
    return dict(sorted(_MODELS.items()))
