"""Following a target across cameras, as plain functions over time-ordered sightings with positions.

Works on any sighting that has a camera, a time and (optionally) a position: plate sightings today,
face sightings as soon as they are stored. For each move between two consecutive sightings it
computes the straight-line distance between the cameras and the speed the move needed, and flags
moves faster than the target can go (a misread or cloned plate, a wrong camera clock, a wrong
position in the camera registry). Sightings close in time form one passage (one journey).

Straight-line distance is a lower bound of the road distance, so a flagged speed is a lower bound
too: a flag is never caused by a winding road. Positions are WGS 84 degrees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), metres."""


class Placed(Protocol):
    """What trajectory maths needs of a sighting."""

    @property
    def camera_id(self) -> str: ...
    @property
    def seen(self) -> datetime: ...
    @property
    def latitude(self) -> float | None: ...
    @property
    def longitude(self) -> float | None: ...


@dataclass(frozen=True)
class SpeedLimits:
    """How fast a target can move between cameras (km/h), and how close two cameras may be and still
    be told apart (metres: below it, positions' own errors dominate and no speed is judged).

    `min_seconds` guards against dividing by a clock jitter: moves faster than that are judged as if
    they took `min_seconds`.
    """

    max_kmh: float
    min_distance_m: float = 50.0
    min_seconds: float = 1.0

    def __post_init__(self) -> None:
        if not (self.max_kmh > 0 and self.min_distance_m >= 0 and self.min_seconds > 0):
            raise ValueError("speed limits need max_kmh > 0, min_distance_m >= 0, min_seconds > 0")


@dataclass(frozen=True)
class Leg:
    """sightings[from_index] → sightings[to_index]; distance and speed are -1 when unknown."""

    from_index: int
    to_index: int
    distance_m: float
    seconds: float
    speed_kmh: float
    implausible: bool
    reason: str = ""


@dataclass(frozen=True)
class PassageSpan:
    """Sightings first_index..last_index (inclusive) form one journey."""

    first_index: int
    last_index: int
    start: datetime
    end: datetime
    camera_ids: tuple[str, ...]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two WGS 84 points, in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _position(sighting: Placed) -> tuple[float, float] | None:
    if sighting.latitude is None or sighting.longitude is None:
        return None
    return sighting.latitude, sighting.longitude


def leg(sightings: Sequence[Placed], i: int, limits: SpeedLimits) -> Leg:
    """The move from sightings[i] to sightings[i + 1] (time-ordered), judged against `limits`."""
    a, b = sightings[i], sightings[i + 1]
    seconds = (b.seen - a.seen).total_seconds()
    pa, pb = _position(a), _position(b)
    if pa is None or pb is None:
        missing = a.camera_id if pa is None else b.camera_id
        return Leg(i, i + 1, -1.0, seconds, -1.0, False, f"camera {missing} has no position")
    distance = haversine_m(*pa, *pb)
    if distance < limits.min_distance_m:
        return Leg(i, i + 1, distance, seconds, 0.0, False)
    speed = distance / max(seconds, limits.min_seconds) * 3.6
    if speed <= limits.max_kmh:
        return Leg(i, i + 1, distance, seconds, speed, False)
    reason = (f"{distance / 1000:.1f} km from {a.camera_id} to {b.camera_id} in {seconds:.0f} s needs "
              f"{speed:.0f} km/h, over the {limits.max_kmh:.0f} km/h limit")
    return Leg(i, i + 1, distance, seconds, speed, True, reason)


def legs(sightings: Sequence[Placed], limits: SpeedLimits) -> list[Leg]:
    """Every consecutive move of a time-ordered trajectory; raises ValueError if out of order."""
    for i in range(len(sightings) - 1):
        if sightings[i + 1].seen < sightings[i].seen:
            raise ValueError(f"sightings are not in time order at index {i + 1}")
    return [leg(sightings, i, limits) for i in range(len(sightings) - 1)]


def passages(sightings: Sequence[Placed], max_gap_s: float) -> list[PassageSpan]:
    """Group time-ordered sightings into journeys: a gap longer than `max_gap_s` starts a new one."""
    spans: list[PassageSpan] = []
    start = 0
    for i in range(1, len(sightings) + 1):
        if i == len(sightings) or (sightings[i].seen - sightings[i - 1].seen).total_seconds() > max_gap_s:
            group = sightings[start:i]
            cameras = tuple(dict.fromkeys(s.camera_id for s in group))
            spans.append(PassageSpan(start, i - 1, group[0].seen, group[-1].seen, cameras))
            start = i
    return spans if sightings else []
