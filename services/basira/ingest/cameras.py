"""The camera registry: validation naming the bad field, field-mask updates, the `ingest_cameras` table.

The table also records who reads each camera's stream. `stream_wanted` is what an operator asked for
(StartStream / StopStream); `stream_state` is what the reader last saw. The instance reading a stream
holds a lease on the row and renews it; a wanted stream whose lease ran out (its instance crashed or
was restarted) is claimed by whichever instance looks first, so streams survive restarts and several
ingest instances share the cameras without reading one twice.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import math
import os
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from basira.common.errors import AlreadyExists, FailedPrecondition, InvalidInput, NotFound, Unavailable
from basira.ingest.sources import redact_url
from basira.v1 import camera_pb2

CAMERA_ID = re.compile(r"[a-z0-9-]{2,64}")
MAX_URL_CHARS = 2048
MAX_NAME_CHARS = 200
MAX_LABEL_CHARS = 64
MAX_ANALYSIS_FPS = 30.0
NETWORK_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})

KIND_NAMES = {value: name.removeprefix("CAMERA_KIND_").lower().replace("_", "-")
              for name, value in camera_pb2.CameraKind.items() if value}
# Cameras that move with a person or a vehicle: they push frames (no source URL needed), and the
# motion gate is useless for them (the whole view moves all the time).
PUSHED_KINDS = frozenset({camera_pb2.CAMERA_KIND_BODY_WORN, camera_pb2.CAMERA_KIND_VEHICLE_MOUNTED,
                          camera_pb2.CAMERA_KIND_DRONE})

STOPPED = camera_pb2.STREAM_STATE_STOPPED
CONNECTING = camera_pb2.STREAM_STATE_CONNECTING
RUNNING = camera_pb2.STREAM_STATE_RUNNING
RECONNECTING = camera_pb2.STREAM_STATE_RECONNECTING
ENDED = camera_pb2.STREAM_STATE_ENDED
FAILED = camera_pb2.STREAM_STATE_FAILED

SETTABLE_FIELDS = ("name", "kind", "position", "zone", "owner_agency", "source_url", "analysis_fps", "loop",
                   "site", "power_source")
_NOT_SETTABLE = {
    "id": "a camera's id never changes; register a new camera instead",
    "decommissioned": "use DecommissionCamera",
    "stream_state": "use StartStream / StopStream",
    "created": "set by the service",
    "updated": "set by the service",
    "battery_percent": "reported by the camera (ReportCameraStatus or PushFrames status)",
    "power_state": "reported by the camera (ReportCameraStatus or PushFrames status)",
    "power_reported": "set by the service",
}
POWER_SOURCES = frozenset(value for value in camera_pb2.PowerSource.values())


@dataclass(frozen=True)
class CameraSpec:
    """What an operator says about a camera. Positions are WGS 84 degrees, None when unknown."""

    id: str
    name: str = ""
    kind: int = camera_pb2.CAMERA_KIND_UNSPECIFIED
    latitude: float | None = None
    longitude: float | None = None
    zone: str = ""
    owner_agency: str = ""
    source_url: str = ""
    analysis_fps: float = 0.0
    loop: bool = False
    site: str = ""
    power_source: int = camera_pb2.POWER_SOURCE_UNSPECIFIED

    @property
    def pushed(self) -> bool:
        """True for a camera with no source to read: its frames only come through PushFrames."""
        return not self.source_url

    @property
    def moving(self) -> bool:
        return self.kind in PUSHED_KINDS


@dataclass(frozen=True)
class CameraRecord(CameraSpec):
    """A registered camera as stored, with its stream's wanted and observed state."""

    decommissioned: bool = False
    decommission_reason: str = ""
    stream_wanted: bool = False
    stream_state: int = STOPPED
    stream_detail: str = ""
    stream_owner: str = ""
    revision: int = 1
    created: datetime | None = None
    updated: datetime | None = None
    battery_percent: int = -1
    power_state: str = ""
    power_reported: datetime | None = None

    @property
    def spec(self) -> CameraSpec:
        return CameraSpec(**{name: getattr(self, name) for name in CameraSpec.__dataclass_fields__})


# ---- validation (pure) ----

def _label(value: str, field: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{field} is required: the {what}", field=field)
    if len(value) > MAX_LABEL_CHARS or any(c.isspace() or ord(c) < 32 for c in value):
        raise InvalidInput(f"{field} {value[:80]!r} must be at most {MAX_LABEL_CHARS} characters with no "
                           "spaces", field=field)
    return value


def check_camera_id(camera_id: str, field: str = "camera.id") -> str:
    """Raise InvalidInput unless `camera_id` is a valid camera id (it becomes a NATS subject token)."""
    if not CAMERA_ID.fullmatch(camera_id or ""):
        shown = repr(camera_id[:80]) if camera_id else "empty"
        raise InvalidInput(f"{field} is {shown}; it must be 2–64 characters of a-z, 0-9 and '-' "
                           "(it is used in NATS subjects)", field=field)
    return camera_id


def check_source_url(url: str, kind: int, *, path_exists: Callable[[str], bool] = os.path.isfile) -> str:
    """The normalised source URL, or InvalidInput naming `camera.source_url` and what to send instead.

    Accepted: rtsp://, rtsps://, http(s):// (MJPEG) with a host, file:///path and plain paths of files
    that exist on the ingest host (stored absolute). Empty only for pushed kinds.
    """
    field = "camera.source_url"
    url = url.strip()
    if not url:
        if kind in PUSHED_KINDS:
            return ""
        raise InvalidInput(
            f"{field} is required for a {KIND_NAMES.get(kind, 'fixed')} camera: rtsp://, rtsps://, "
            "http(s)://, file:// or a file path; only body-worn, vehicle-mounted and drone cameras may "
            "leave it empty and push frames instead", field=field)
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"{field} is {len(url)} characters, over {MAX_URL_CHARS}", field=field)
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidInput(f"{field} must not contain spaces or control characters (percent-encode "
                           "them)", field=field)
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in NETWORK_SCHEMES:
            _ = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise InvalidInput(f"{field} {redact_url(url)!r} is not a valid URL: {exc}", field=field) from exc
    if scheme in NETWORK_SCHEMES:
        if not parts.hostname:
            raise InvalidInput(f"{field} {redact_url(url)!r} has no host", field=field)
        return url
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise InvalidInput(f"{field} {url!r}: a file URL must be file:///absolute/path on the ingest "
                               "host", field=field)
        if not path_exists(parts.path):
            raise InvalidInput(f"{field}: no video file at {parts.path} on the ingest host", field=field)
        return url
    if scheme == "":
        if not path_exists(url):
            raise InvalidInput(f"{field}: no video file at {url} on the ingest host (give an existing "
                               "path, or a URL with a scheme)", field=field)
        return os.path.abspath(url)
    raise InvalidInput(f"{field} scheme {scheme!r} is not supported; use rtsp://, rtsps://, http(s)://, "
                       "file:// or a file path", field=field)


def validate_camera(spec: CameraSpec, *, default_fps: float,
                    path_exists: Callable[[str], bool] = os.path.isfile) -> CameraSpec:
    """Check every field and return the normalised spec; InvalidInput names the first bad field.

    An `analysis_fps` of 0 (unset) becomes `default_fps`; an empty name becomes the id.
    """
    check_camera_id(spec.id)
    if spec.kind not in KIND_NAMES:
        raise InvalidInput("camera.kind is required: one of " + ", ".join(
            camera_pb2.CameraKind.Name(k) for k in KIND_NAMES), field="camera.kind")
    name = spec.name.strip() or spec.id
    if len(name) > MAX_NAME_CHARS or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"camera.name must be at most {MAX_NAME_CHARS} printable characters",
                           field="camera.name")
    zone = _label(spec.zone, "camera.zone", "policy zone the camera watches (e.g. 'medina')")
    owner = _label(spec.owner_agency, "camera.owner_agency", "agency that owns and administers it")
    fps = spec.analysis_fps or default_fps
    if not (math.isfinite(fps) and 0 < fps <= MAX_ANALYSIS_FPS):
        raise InvalidInput(f"camera.analysis_fps is {spec.analysis_fps}; it must be in (0, "
                           f"{MAX_ANALYSIS_FPS:g}] frames per second (0 = the default, {default_fps:g})",
                           field="camera.analysis_fps")
    for value, field, limit in ((spec.latitude, "camera.position.latitude", 90.0),
                                (spec.longitude, "camera.position.longitude", 180.0)):
        if value is not None and not (math.isfinite(value) and -limit <= value <= limit):
            raise InvalidInput(f"{field} is {value}; it must be between -{limit:g} and {limit:g} degrees",
                               field=field)
    if (spec.latitude is None) != (spec.longitude is None):
        raise InvalidInput("camera.position needs both latitude and longitude", field="camera.position")
    url = check_source_url(spec.source_url, spec.kind, path_exists=path_exists)
    site = spec.site.strip()
    if site:
        site = _label(site, "camera.site", "pole or site the camera is mounted on")
    if spec.power_source not in POWER_SOURCES:
        raise InvalidInput(f"camera.power_source {spec.power_source} is not a PowerSource",
                           field="camera.power_source")
    return replace(spec, name=name, zone=zone, owner_agency=owner, analysis_fps=fps, source_url=url,
                   site=site)


def mask_fields(paths: Sequence[str]) -> tuple[str, ...]:
    """The settable top-level fields an update mask names (all of them for an empty mask).

    Paths may be relative to the camera (`zone`) or to the request (`camera.zone`); nested paths
    select their top-level field (`position.latitude` → `position`).
    """
    if not paths:
        return SETTABLE_FIELDS
    fields: list[str] = []
    for path in paths:
        top = path.removeprefix("camera.").split(".", 1)[0]
        if top in _NOT_SETTABLE:
            raise InvalidInput(f"update_mask path {path!r} cannot be updated: {_NOT_SETTABLE[top]}",
                               field="update_mask")
        if top not in SETTABLE_FIELDS:
            raise InvalidInput(f"update_mask path {path!r} is not a camera field; settable: "
                               + ", ".join(SETTABLE_FIELDS), field="update_mask")
        if top not in fields:
            fields.append(top)
    return tuple(fields)


def apply_update(current: CameraSpec, change: CameraSpec, fields: Iterable[str]) -> CameraSpec:
    """`current` with the `fields` taken from `change` (not yet validated).

    A source URL equal to the redacted form of the current one (as GetCamera shows it) keeps the
    current URL, so a read-modify-write never replaces a password with `***`.
    """
    values: dict[str, Any] = {}
    for name in fields:
        if name == "position":
            values["latitude"], values["longitude"] = change.latitude, change.longitude
        elif name == "source_url" and change.source_url.strip() == redact_url(current.source_url):
            continue
        else:
            values[name] = getattr(change, name)
    return replace(current, **values)


# ---- listing and paging (pure) ----

@dataclass(frozen=True)
class CameraQuery:
    """ListCameras filters. `zones`/`cameras` (from the policy's obligations) restrict rows to those
    zones or cameras when `zones` is not None."""

    zone: str = ""
    owner_agency: str = ""
    include_decommissioned: bool = False
    zones: tuple[str, ...] | None = None
    cameras: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        blob = json.dumps([self.zone, self.owner_agency, self.include_decommissioned,
                           None if self.zones is None else sorted(self.zones), sorted(self.cameras)])
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def encode_page_token(after_id: str, query: CameraQuery) -> str:
    raw = json.dumps({"after": after_id, "q": query.fingerprint()}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, query: CameraQuery) -> str:
    """The id to list after ('' for the first page); InvalidInput if the token is foreign or stale."""
    if not token:
        return ""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, fingerprint = str(data["after"]), str(data["q"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidInput("page.page_token is not a token this service issued",
                           field="page.page_token") from exc
    if fingerprint != query.fingerprint():
        raise InvalidInput("page.page_token belongs to a listing with other filters; start again "
                           "without it", field="page.page_token")
    return after


# ---- the table ----

_COLUMNS = ("id, name, kind, latitude, longitude, zone, owner_agency, source_url, analysis_fps, loop, "
            "decommissioned, decommission_reason, stream_wanted, stream_state, stream_detail, "
            "stream_owner, revision, created, updated, site, power_source, battery_percent, power_state, "
            "power_reported")
_LEASE = "now() + %(lease)s * interval '1 second'"
_LEASE_FREE = ("(stream_owner = '' OR stream_owner = %(me)s OR stream_lease_until IS NULL"
               " OR stream_lease_until < now())")
_STREAMABLE = "stream_wanted AND NOT decommissioned AND source_url <> ''"
_LIVE = f"(stream_wanted OR stream_state IN ({CONNECTING}, {RUNNING}, {RECONNECTING}))"  # read or pushed


def _record(row: Sequence[Any]) -> CameraRecord:
    (id_, name, kind, lat, lon, zone, owner, url, fps, loop, decommissioned, reason, wanted, state,
     detail, stream_owner, revision, created, updated, site, power_source, battery, power_state,
     power_reported) = row
    return CameraRecord(id=id_, name=name, kind=kind, latitude=lat, longitude=lon, zone=zone,
                        owner_agency=owner, source_url=url, analysis_fps=fps, loop=loop,
                        decommissioned=decommissioned, decommission_reason=reason, stream_wanted=wanted,
                        stream_state=state, stream_detail=detail, stream_owner=stream_owner,
                        revision=revision, created=created, updated=updated, site=site,
                        power_source=power_source, battery_percent=battery, power_state=power_state,
                        power_reported=power_reported)


class CameraStore:
    """`ingest_cameras`: registration, queries, and the stream leases (see the module docstring)."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; an unreachable database becomes Unavailable (callers retry later)."""
        try:
            async with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise Unavailable(f"the camera registry (PostgreSQL) is unreachable: {exc}") from exc

    async def _one(self, sql: str, params: Any) -> CameraRecord | None:
        async with self._connection() as conn:
            row = await (await conn.execute(sql, params)).fetchone()  # type: ignore[arg-type]
        return _record(row) if row is not None else None

    async def _many(self, sql: str, params: Any) -> list[CameraRecord]:
        async with self._connection() as conn:
            rows = await (await conn.execute(sql, params)).fetchall()  # type: ignore[arg-type]
        return [_record(row) for row in rows]

    async def register(self, spec: CameraSpec) -> CameraRecord:
        """Insert a validated camera; AlreadyExists if the id is taken (also by a decommissioned one)."""
        try:
            record = await self._one(
                f"INSERT INTO ingest_cameras (id, name, kind, latitude, longitude, zone, owner_agency,"
                f" source_url, analysis_fps, loop, site, power_source) VALUES (%s, %s, %s, %s, %s, %s, %s,"
                f" %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
                (spec.id, spec.name, spec.kind, spec.latitude, spec.longitude, spec.zone,
                 spec.owner_agency, spec.source_url, spec.analysis_fps, spec.loop, spec.site,
                 spec.power_source))
        except psycopg.errors.UniqueViolation as exc:
            raise AlreadyExists(f"camera {spec.id} is already registered (ids are never reused, even "
                                "after decommissioning); update it or pick another id") from exc
        assert record is not None
        return record

    async def find(self, camera_id: str) -> CameraRecord | None:
        return await self._one(f"SELECT {_COLUMNS} FROM ingest_cameras WHERE id = %s", (camera_id,))

    async def get(self, camera_id: str) -> CameraRecord:
        record = await self.find(camera_id)
        if record is None:
            raise NotFound(f"camera {camera_id} is not registered")
        return record

    async def update(self, camera_id: str, expected_revision: int, spec: CameraSpec) -> CameraRecord:
        """Write a validated spec if the row is still at `expected_revision` (FailedPrecondition if it
        changed meanwhile or was decommissioned). Clearing the source URL stops the stream."""
        record = await self._one(
            f"UPDATE ingest_cameras SET name = %(name)s, kind = %(kind)s, latitude = %(lat)s,"
            f" longitude = %(lon)s, zone = %(zone)s, owner_agency = %(owner)s, source_url = %(url)s,"
            f" analysis_fps = %(fps)s, loop = %(loop)s, site = %(site)s, power_source = %(power)s,"
            f" revision = revision + 1, updated = now(),"
            f" stream_wanted = stream_wanted AND %(url)s <> '',"
            f" stream_state = CASE WHEN %(url)s = '' AND stream_wanted THEN {STOPPED} ELSE stream_state END"
            f" WHERE id = %(id)s AND revision = %(rev)s AND NOT decommissioned RETURNING {_COLUMNS}",
            {"id": camera_id, "rev": expected_revision, "name": spec.name, "kind": spec.kind,
             "lat": spec.latitude, "lon": spec.longitude, "zone": spec.zone, "owner": spec.owner_agency,
             "url": spec.source_url, "fps": spec.analysis_fps, "loop": spec.loop, "site": spec.site,
             "power": spec.power_source})
        if record is None:
            current = await self.get(camera_id)
            if current.decommissioned:
                raise FailedPrecondition(f"camera {camera_id} is decommissioned; it cannot be changed")
            raise FailedPrecondition(f"camera {camera_id} was changed by someone else meanwhile; read it "
                                     "again and retry")
        return record

    async def list_cameras(self, query: CameraQuery, *, after: str, limit: int) -> list[CameraRecord]:
        """Cameras matching `query` with id > `after`, in id order, at most `limit`."""
        where = ["id > %(after)s"]
        params: dict[str, Any] = {"after": after, "limit": limit}
        if query.zone:
            where.append("zone = %(zone)s")
            params["zone"] = query.zone
        if query.owner_agency:
            where.append("owner_agency = %(owner)s")
            params["owner"] = query.owner_agency
        if not query.include_decommissioned:
            where.append("NOT decommissioned")
        if query.zones is not None:
            where.append("(zone = ANY(%(zones)s) OR id = ANY(%(cameras)s))")
            params["zones"], params["cameras"] = list(query.zones), list(query.cameras)
        return await self._many(f"SELECT {_COLUMNS} FROM ingest_cameras WHERE {' AND '.join(where)}"
                                " ORDER BY id LIMIT %(limit)s", params)

    async def decommission(self, camera_id: str, reason: str) -> CameraRecord:
        """Mark decommissioned (idempotent) and stop its stream; the first reason is kept."""
        record = await self._one(
            f"UPDATE ingest_cameras SET decommissioned = true, decommission_reason = CASE WHEN"
            f" decommissioned THEN decommission_reason ELSE %s END, stream_wanted = false,"
            f" stream_state = CASE WHEN {_LIVE} THEN {STOPPED} ELSE stream_state END,"
            f" stream_detail = CASE WHEN {_LIVE} THEN 'camera decommissioned' ELSE stream_detail END,"
            f" stream_owner = '', stream_lease_until = NULL, updated = now() WHERE id = %s"
            f" RETURNING {_COLUMNS}", (reason, camera_id))
        if record is None:
            raise NotFound(f"camera {camera_id} is not registered")
        return record

    # ---- stream control ----

    async def want_stream(self, camera_id: str, wanted: bool, detail: str) -> CameraRecord:
        """Record StartStream (CONNECTING unless already wanted) or StopStream (STOPPED)."""
        if wanted:
            sql = (f"UPDATE ingest_cameras SET stream_state = CASE WHEN stream_wanted THEN stream_state"
                   f" ELSE {CONNECTING} END, stream_detail = CASE WHEN stream_wanted THEN stream_detail"
                   f" ELSE %(detail)s END, stream_wanted = true, updated = now()"
                   f" WHERE id = %(id)s AND NOT decommissioned AND source_url <> '' RETURNING {_COLUMNS}")
        else:
            sql = (f"UPDATE ingest_cameras SET stream_wanted = false, stream_state = {STOPPED},"
                   f" stream_detail = %(detail)s, stream_owner = '', stream_lease_until = NULL,"
                   f" updated = now() WHERE id = %(id)s RETURNING {_COLUMNS}")
        record = await self._one(sql, {"id": camera_id, "detail": detail})
        if record is None:
            current = await self.get(camera_id)
            if current.decommissioned:
                raise FailedPrecondition(f"camera {camera_id} is decommissioned; its stream cannot start")
            raise FailedPrecondition(f"camera {camera_id} has no source_url: it is a pushed-frame camera "
                                     "(devices send its frames with FrameIngestService.PushFrames)")
        return record

    async def claim(self, camera_id: str, me: str, lease_s: float) -> CameraRecord | None:
        """Take the lease of one wanted stream if nobody live holds it; None otherwise."""
        return await self._one(
            f"UPDATE ingest_cameras SET stream_owner = %(me)s, stream_lease_until = {_LEASE}"
            f" WHERE id = %(id)s AND {_STREAMABLE} AND {_LEASE_FREE} RETURNING {_COLUMNS}",
            {"id": camera_id, "me": me, "lease": lease_s})

    async def claim_orphans(self, me: str, lease_s: float, limit: int, running: Sequence[str]
                            ) -> list[CameraRecord]:
        """Take up to `limit` wanted streams nobody live reads (not those in `running`)."""
        if limit <= 0:
            return []
        return await self._many(
            f"UPDATE ingest_cameras SET stream_owner = %(me)s, stream_lease_until = {_LEASE}"
            f" WHERE id IN (SELECT id FROM ingest_cameras WHERE {_STREAMABLE} AND {_LEASE_FREE}"
            f" AND NOT (id = ANY(%(running)s)) ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
            f" RETURNING {_COLUMNS}",
            {"me": me, "lease": lease_s, "limit": limit, "running": list(running)})

    async def renew(self, me: str, camera_ids: Sequence[str], lease_s: float) -> dict[str, int]:
        """Extend this instance's leases; returns id → revision for those still ours and wanted."""
        if not camera_ids:
            return {}
        async with self._connection() as conn:
            rows = await (await conn.execute(
                f"UPDATE ingest_cameras SET stream_lease_until = {_LEASE} WHERE stream_owner = %(me)s"
                f" AND id = ANY(%(ids)s) AND {_STREAMABLE} RETURNING id, revision",
                {"me": me, "ids": list(camera_ids), "lease": lease_s})).fetchall()
        return {row[0]: row[1] for row in rows}

    async def release(self, me: str, camera_ids: Sequence[str]) -> None:
        """Give leases back (shutdown): the streams stay wanted, so the next instance resumes them."""
        if not camera_ids:
            return
        async with self._connection() as conn:
            await conn.execute("UPDATE ingest_cameras SET stream_owner = '', stream_lease_until = NULL"
                               " WHERE stream_owner = %s AND id = ANY(%s)", (me, list(camera_ids)))

    async def set_stream_state(self, camera_id: str, me: str, state: int, detail: str) -> bool:
        """Record a stream state seen by the lease holder; False if `me` no longer holds it."""
        async with self._connection() as conn:
            cur = await conn.execute(
                "UPDATE ingest_cameras SET stream_state = %s, stream_detail = %s, updated = now()"
                " WHERE id = %s AND stream_owner = %s AND stream_wanted", (state, detail, camera_id, me))
            return cur.rowcount > 0

    async def finish_stream(self, camera_id: str, me: str, state: int, detail: str) -> bool:
        """The source ended (file done) or failed for good: not wanted any more, lease released."""
        async with self._connection() as conn:
            cur = await conn.execute(
                "UPDATE ingest_cameras SET stream_state = %s, stream_detail = %s, stream_wanted = false,"
                " stream_owner = '', stream_lease_until = NULL, updated = now()"
                " WHERE id = %s AND stream_owner = %s", (state, detail, camera_id, me))
            return cur.rowcount > 0

    async def set_push_state(self, camera_id: str, state: int, detail: str) -> None:
        """The state of a push session (cameras whose stream is not read from a source)."""
        async with self._connection() as conn:
            await conn.execute(
                "UPDATE ingest_cameras SET stream_state = %s, stream_detail = %s, updated = now()"
                " WHERE id = %s AND NOT stream_wanted AND NOT decommissioned", (state, detail, camera_id))

    # ---- the estate: power reports and latest health states ----

    async def set_power(self, camera_id: str, battery_percent: int, power_state: str, at: datetime) -> None:
        """Record a camera's last power report (battery -1: not reported)."""
        async with self._connection() as conn:
            await conn.execute(
                "UPDATE ingest_cameras SET battery_percent = %s, power_state = %s, power_reported = %s"
                " WHERE id = %s", (battery_percent, power_state, at, camera_id))

    async def health_of(self, query: CameraQuery, *, after: str, limit: int
                        ) -> list[tuple[CameraRecord, list[tuple[str, str, str, datetime]]]]:
        """Cameras matching `query` (id > `after`, id order) that have a recorded health state, each
        with its (kind, state, detail, since) rows; at most `limit` cameras."""
        cameras = await self.list_cameras_with_health(query, after=after, limit=limit)
        if not cameras:
            return []
        async with self._connection() as conn:
            rows = await (await conn.execute(
                "SELECT camera_id, kind, state, detail, coalesce(at, now()) FROM ingest_camera_health"
                " WHERE camera_id = ANY(%s) ORDER BY camera_id, kind", ([c.id for c in cameras],))).fetchall()
        by_camera: dict[str, list[tuple[str, str, str, datetime]]] = {}
        for camera_id, kind, state, detail, since in rows:
            by_camera.setdefault(camera_id, []).append((kind, state, detail, since))
        return [(c, by_camera.get(c.id, [])) for c in cameras]

    async def list_cameras_with_health(self, query: CameraQuery, *, after: str, limit: int
                                       ) -> list[CameraRecord]:
        where = ["id > %(after)s", "NOT decommissioned",
                 "EXISTS (SELECT 1 FROM ingest_camera_health h WHERE h.camera_id = ingest_cameras.id)"]
        params: dict[str, Any] = {"after": after, "limit": limit}
        if query.zone:
            where.append("zone = %(zone)s")
            params["zone"] = query.zone
        if query.zones is not None:
            where.append("(zone = ANY(%(zones)s) OR id = ANY(%(cameras)s))")
            params["zones"], params["cameras"] = list(query.zones), list(query.cameras)
        return await self._many(f"SELECT {_COLUMNS} FROM ingest_cameras WHERE {' AND '.join(where)}"
                                " ORDER BY id LIMIT %(limit)s", params)

    async def unusable(self, camera_ids: Sequence[str]) -> set[str]:
        """Of `camera_ids`, those decommissioned or gone (push sessions for them must end)."""
        if not camera_ids:
            return set()
        async with self._connection() as conn:
            rows = await (await conn.execute(
                "SELECT id FROM ingest_cameras WHERE id = ANY(%s) AND NOT decommissioned",
                (list(camera_ids),))).fetchall()
        return set(camera_ids) - {row[0] for row in rows}
