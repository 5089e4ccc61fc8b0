"""Crowd and congestion thresholds: which per-minute counts of a camera raise an alert. No I/O.

Thresholds are configuration, per zone and per camera (a camera's own rule overrides its zone's,
field by field): `persons_per_minute` for crowd density, `vehicles_per_minute` for congestion. A
minute whose count reaches a threshold raises (or, minute after minute, keeps updating) one alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from basira.alerting.alerts import KIND_CONGESTION, KIND_CROWD


class CountThreshold(BaseModel):
    """One rule: a zone or a camera, and the per-minute counts that raise an alert there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zone: str = Field(default="", description="The zone the rule covers ('' when camera_id is set).")
    camera_id: str = Field(default="", description="The camera the rule covers (overrides its zone's).")
    persons_per_minute: int | None = Field(default=None, ge=1,
                                           description="Crowd alert at this many people in a minute.")
    vehicles_per_minute: int | None = Field(default=None, ge=1,
                                            description="Congestion alert at this many vehicles in a minute.")

    @model_validator(mode="after")
    def _one_place(self) -> CountThreshold:
        if bool(self.zone) == bool(self.camera_id):
            raise ValueError("a count threshold names exactly one of zone or camera_id")
        if self.persons_per_minute is None and self.vehicles_per_minute is None:
            raise ValueError("a count threshold sets persons_per_minute and/or vehicles_per_minute")
        return self


@dataclass(frozen=True)
class Crossing:
    """A minute's count at or over its threshold."""

    kind: int
    count: int
    threshold: int

    @property
    def noun(self) -> str:
        return "people" if self.kind == KIND_CROWD else "vehicles"


def limits_for(rules: Iterable[CountThreshold], camera_id: str, zone: str) -> tuple[int | None, int | None]:
    """(persons, vehicles) per minute for this camera: its own rule's fields first, then its zone's."""
    persons = vehicles = None
    camera_rules = [r for r in rules if r.camera_id == camera_id]
    zone_rules = [r for r in rules if r.zone and r.zone == zone]
    for rule in (*camera_rules, *zone_rules):
        persons = persons if persons is not None else rule.persons_per_minute
        vehicles = vehicles if vehicles is not None else rule.vehicles_per_minute
    return persons, vehicles


def crossings(rules: Sequence[CountThreshold], camera_id: str, zone: str, persons: int, vehicles: int
              ) -> list[Crossing]:
    """The thresholds this minute's counts reach (crowd first, then congestion)."""
    max_persons, max_vehicles = limits_for(rules, camera_id, zone)
    found = []
    if max_persons is not None and persons >= max_persons:
        found.append(Crossing(KIND_CROWD, persons, max_persons))
    if max_vehicles is not None and vehicles >= max_vehicles:
        found.append(Crossing(KIND_CONGESTION, vehicles, max_vehicles))
    return found
