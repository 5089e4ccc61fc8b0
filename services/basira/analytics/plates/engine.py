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
from pydantic import BaseModel

from basira.common.plugins import resolve_plugin


@dataclass(frozen=True, slots=True)
class PlateAlternative:
    """Another reading of the same plate (a runner-up layout fit, or another crop's read)."""

    text: str
    display: str
    country: str
    confidence: float


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One plate found in an image.

    text: canonical key (A-Z, 0-9; see basira.common.plate_text); display: as printed on the plate;
    country: ISO 3166-1 alpha-2 code of the layout it fits; "" if only a generic layout fits or
    layouts of several enabled countries fit it equally well;
    confidence: 0..1, recogniser confidence times layout plausibility;
    box: (x, y, width, height) of the plate in the input image's pixels;
    alternatives: the next best readings with other texts, best first (at most MAX_ALTERNATIVES), so
    a hotlist can match a plate whose runner-up read was the right one.
    """

    text: str
    display: str
    country: str
    confidence: float
    box: tuple[int, int, int, int]
    alternatives: tuple[PlateAlternative, ...] = ()


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

MAX_ALTERNATIVES = 2
"""Runner-up readings kept per plate: with the best one, the top 3."""

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
    validated, factory = resolve_plugin(_REGISTRY, config, "plate engine")
    return factory(validated)
