"""Plugin config resolution: one place for every engine kind's `type` registry."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict

from basira.common.errors import ConfigError
from basira.common.plugins import resolve_plugin


class FastConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["fast"] = "fast"
    threads: int = 1


class OtherConfig(BaseModel):
    type: Literal["other"] = "other"


REGISTRY: dict[str, tuple[type[BaseModel], Any]] = {
    "fast": (FastConfig, lambda c: ("fast", c.threads)),
    "other": (OtherConfig, lambda c: ("other", 0)),
}


def test_a_mapping_is_validated_into_its_model() -> None:
    config, factory = resolve_plugin(REGISTRY, {"type": "fast", "threads": 3}, "engine")
    assert config == FastConfig(threads=3)
    assert factory(config) == ("fast", 3)


def test_a_model_instance_passes_through() -> None:
    given = FastConfig(threads=2)
    config, _ = resolve_plugin(REGISTRY, given, "engine")
    assert config is given


@pytest.mark.parametrize(("config", "message"), [
    ({"type": "slow"}, "engine type 'slow' is unknown; choose one of \\['fast', 'other'\\]"),
    ({}, "engine type None is unknown"),
    ({"type": "fast", "threds": 2}, "engine 'fast' config is invalid"),
    (OtherConfig.model_construct(type="fast"), "engine 'fast' needs a FastConfig, got OtherConfig"),
])
def test_bad_configs_name_the_problem(config: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_plugin(REGISTRY, config, "engine")
