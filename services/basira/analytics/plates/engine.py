"""The plate-reading interface every engine implements, and the registry that builds one from config.

Engines are plugins: each module registers its config model (a pydantic model whose `type` literal
names the engine) and a factory; `create_plate_engine` picks the engine by that `type`. Callers see
only `PlateEngine.read(image) -> list[PlateRead]`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ValidationError

from basira.common.errors import ConfigError


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One plate found in an image.

    text: canonical key (A-Z, 0-9; see basira.common.plate_text); display: as printed on the plate;
    country: ISO 3166-1 alpha-2 code of the layout it fits; "" if only a generic layout fits or
    layouts of several enabled countries fit it equally well;
    confidence: 0..1, recogniser confidence times layout plausibility;
    box: (x, y, width, height) of the plate in the input image's pixels.
    """

    text: str
    display: str
    country: str
    confidence: float
    box: tuple[int, int, int, int]


@runtime_checkable
class PlateEngine(Protocol):
    """Finds and reads licence plates in one image."""

    def read(self, image_bgr: np.ndarray) -> list[PlateRead]:
        """Plates in `image_bgr` (H×W×3 uint8 BGR, or H×W grey), most confident first.

        Returns [] for images too small, empty or featureless to hold a plate; never raises for such
        input. Validating sizes and formats of untrusted uploads is the caller's job.
        """
        ...


EngineFactory = Callable[[Any], PlateEngine]

_REGISTRY: dict[str, tuple[type[BaseModel], EngineFactory]] = {}


def register_plate_engine(type_name: str, config_model: type[BaseModel], factory: EngineFactory) -> None:
    """Make `type_name` available to create_plate_engine (called by each engine module at import)."""
    if type_name in _REGISTRY and _REGISTRY[type_name][0] is not config_model:
        raise ValueError(f"plate engine type {type_name!r} is already registered")
    _REGISTRY[type_name] = (config_model, factory)


def plate_engine_types() -> list[str]:
    """The engine `type` names that can be configured."""
    _load_builtin_engines()
    return sorted(_REGISTRY)


def _load_builtin_engines() -> None:
    # Importing a built-in engine module registers it; kept lazy so this module stays cheap to import.
    from basira.analytics.plates import rapid  # noqa: F401


def create_plate_engine(config: BaseModel | Mapping[str, Any]) -> PlateEngine:
    """Build the engine named by `config.type` (a validated config model or a plain mapping).

    Raises ConfigError naming the problem when the type is unknown or the mapping does not validate.
    """
    _load_builtin_engines()
    type_name = config.get("type") if isinstance(config, Mapping) else getattr(config, "type", None)
    if not isinstance(type_name, str) or type_name not in _REGISTRY:
        raise ConfigError(f"plate engine type {type_name!r} is unknown; choose one of {sorted(_REGISTRY)}")
    config_model, factory = _REGISTRY[type_name]
    if isinstance(config, Mapping):
        try:
            config = config_model.model_validate(dict(config))
        except ValidationError as exc:
            raise ConfigError(f"plate engine {type_name!r} config is invalid: {exc}") from exc
    elif not isinstance(config, config_model):
        raise ConfigError(
            f"plate engine {type_name!r} needs a {config_model.__name__}, got {type(config).__name__}"
        )
    return factory(config)
