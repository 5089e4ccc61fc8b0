"""Engines chosen by config: a registry maps each `type` literal to its config model and factory.

Face, plate and counting engines (and any later plugin kind) resolve their config here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from basira.common.errors import ConfigError

T = TypeVar("T")
Registry = Mapping[str, tuple[type[BaseModel], Callable[[Any], T]]]


def resolve_plugin(registry: Registry[T], config: BaseModel | Mapping[str, Any], what: str
                   ) -> tuple[BaseModel, Callable[[Any], T]]:
    """The validated config and the factory for `config.type`.

    `what` names the plugin kind in messages ("plate engine"). Raises ConfigError for an unknown type,
    a mapping that does not validate, or a config model of the wrong class.
    """
    type_name = config.get("type") if isinstance(config, Mapping) else getattr(config, "type", None)
    if not isinstance(type_name, str) or type_name not in registry:
        raise ConfigError(f"{what} type {type_name!r} is unknown; choose one of {sorted(registry)}")
    model, factory = registry[type_name]
    if isinstance(config, Mapping):
        try:
            return model.model_validate(dict(config)), factory
        except ValidationError as exc:
            raise ConfigError(f"{what} {type_name!r} config is invalid: {exc}") from exc
    if not isinstance(config, model):
        raise ConfigError(f"{what} {type_name!r} needs a {model.__name__}, got {type(config).__name__}")
    return config, factory
