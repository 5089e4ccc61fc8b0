"""Search's plain data: sightings, query filters, the scope policy granted, paging and trajectories."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from basira.common.errors import InvalidInput

KIND_PLATE = 1
KIND_FACE = 2


@dataclass(frozen=True)
class Rect:
    """A rectangle in image pixels."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class SightingRow:
    """One stored sighting (a plate read by one camera at one time)."""

    id: str
    kind: int
    camera_id: str
    zone: str
    seen: datetime
    plate_key: str = ""
    plate_display: str = ""
    plate_country: str = ""
    confidence: float = 0.0
    box: Rect | None = None
    snapshot_id: str = ""
    latitude: float | None = None
    longitude: float | None = None
    distance: float = 0.0


@dataclass(frozen=True)
class Snapshot:
    """An evidence image and where it came from."""

    snapshot_id: str
    camera_id: str
    zone: str
    owner_agency: str
    seen: datetime
    jpeg: bytes


@dataclass(frozen=True)
class CountRow:
    camera_id: str
    minute: datetime
    vehicles: int
    persons: int


@dataclass(frozen=True)
class GrantedScope:
    """Where policy lets this caller look: obligation `zones` and/or `cameras` (None = no limit).

    A row is visible if its zone is granted or its camera is granted: agreements list zones, plus
    cameras that belong to no zone (body-worn, vehicle cameras).
    """

    zones: tuple[str, ...] | None = None
    cameras: tuple[str, ...] | None = None

    @classmethod
    def from_obligations(cls, obligations: dict[str, Any] | None) -> GrantedScope:
        obligations = obligations or {}

        def _list(name: str) -> tuple[str, ...] | None:
            value = obligations.get(name)
            if value is None:
                return None
            if isinstance(value, str):
                return (value,)
            return tuple(str(v) for v in value)

        return cls(zones=_list("zones"), cameras=_list("cameras"))

    @property
    def unlimited(self) -> bool:
        return self.zones is None and self.cameras is None

    def allows(self, zone: str, camera_id: str) -> bool:
        if self.unlimited:
            return True
        return zone in (self.zones or ()) or camera_id in (self.cameras or ())


@dataclass(frozen=True)
class SightingFilter:
    """Every field narrows; none is required. Times are a half-open interval [time_from, time_to)."""

    time_from: datetime | None = None
    time_to: datetime | None = None
    cameras: tuple[str, ...] = ()
    zone: str = ""
    granted: GrantedScope = field(default_factory=GrantedScope)


@dataclass(frozen=True)
class PageCursor:
    """Keyset position: the last (seen, id) returned, newest first."""

    seen: datetime
    id: str


def query_fingerprint(*parts: Any) -> str:
    """A short digest of a query, so a page token is only accepted for the query that made it."""
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:16]


def encode_page_token(cursor: PageCursor, fingerprint: str) -> str:
    raw = json.dumps({"s": cursor.seen.isoformat(), "i": cursor.id, "q": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, fingerprint: str) -> PageCursor | None:
    """The cursor in `token` ('' → None); raises InvalidInput if malformed or from another query."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        cursor = PageCursor(datetime.fromisoformat(data["s"]), str(data["i"]))
        owner = str(data["q"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("page_token is not a token this service issued", field="page.page_token") from exc
    if owner != fingerprint:
        raise InvalidInput("page_token belongs to a different query; start again without it",
                           field="page.page_token")
    return cursor


def page_size(asked: int, *, default: int, maximum: int, obligation_max: Any = None) -> int:
    """The page size to use: the caller's, else the default, capped by config and by policy.

    Capping by the `max_results` obligation here (not only in the gate) keeps the page token in step
    with what the caller actually receives.
    """
    if asked < 0:
        raise InvalidInput("page_size must be >= 0", field="page.page_size")
    size = min(asked or default, maximum)
    if isinstance(obligation_max, int) and not isinstance(obligation_max, bool) and obligation_max >= 0:
        size = min(size, obligation_max)
    return max(size, 1)


def collapse_visits(sightings: Iterable[SightingRow]) -> list[SightingRow]:
    """One sighting per camera visit: drop each sighting at the same camera as the one before it.

    `sightings` must be in time order; each visit is represented by its first (arrival) sighting.
    """
    visits: list[SightingRow] = []
    for sighting in sightings:
        if visits and visits[-1].camera_id == sighting.camera_id:
            continue
        visits.append(sighting)
    return visits

