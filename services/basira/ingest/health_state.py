"""Each camera's current health, folded from its `camera.health.<camera>` events (the camera wall).

Ingest publishes changes only; this module keeps the latest event per (camera, kind) in the table
`ingest_camera_health`, written by a durable consumer of the HEALTH stream, and answers two
questions: what is every camera's health now (with the stream position that answer covers), and
what changed after a position (a live, resumable stream). Folding is pure (`fold`); a row is only
replaced by an event with a higher stream sequence, so redelivery and replicas never go backwards.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from psycopg_pool import AsyncConnectionPool

from basira.common.nats import Outcome, PullConsumer, decoded, follow
from basira.common.timestamps import to_datetime
from basira.v1 import camera_pb2, events_pb2

log = logging.getLogger(__name__)

HEALTH_STREAM = "HEALTH"
HEALTH_SUBJECTS = "camera.health.>"
STATE_DURABLE = "ingest-health-state"
CONDITIONS = frozenset({"offline", "blocked", "defocused", "moved"})
NOT_ONLINE_STREAM_STATES = frozenset({"STREAM_STATE_STOPPED", "STREAM_STATE_RECONNECTING",
                                      "STREAM_STATE_ENDED", "STREAM_STATE_FAILED"})


@dataclass(frozen=True)
class HealthRow:
    """The latest event of one kind for one camera."""

    camera_id: str
    kind: str
    state: str
    zone: str
    detail: str
    time: datetime | None
    power_source: int
    battery_percent: int
    sequence: int


def row_from_event(event: events_pb2.CameraHealthEvent, sequence: int) -> HealthRow:
    has_device = event.HasField("device")
    return HealthRow(camera_id=event.camera_id, kind=event.kind, state=event.state, zone=event.zone,
                     detail=event.detail, time=to_datetime(event.time),
                     power_source=event.device.power_source if has_device else 0,
                     battery_percent=event.device.battery_percent if has_device else -1, sequence=sequence)


def fold(rows: Iterable[HealthRow]) -> list[camera_pb2.CameraHealth]:
    """One CameraHealth per camera from its latest row of each kind, ordered by camera id."""
    by_camera: dict[str, camera_pb2.CameraHealth] = {}
    power_sources: dict[str, int] = {}
    for row in sorted(rows, key=lambda r: (r.camera_id, r.sequence)):
        health = by_camera.get(row.camera_id)
        if health is None:
            health = by_camera[row.camera_id] = camera_pb2.CameraHealth(
                camera_id=row.camera_id, online=True, battery_percent=-1)
        health.zone = row.zone or health.zone
        if row.kind in CONDITIONS:
            health.conditions[row.kind] = "alarm" if row.state.lower() in ("alarm", "alert") else "ok"
        elif row.kind == "stream":
            health.stream_state = row.state
        elif row.kind == "power":
            health.power_level = row.state
        if row.power_source:
            power_sources[row.camera_id] = row.power_source
            health.power_source = row.power_source  # type: ignore[assignment]
            health.battery_percent = row.battery_percent if row.power_source != 1 else -1
        if row.time is not None and (not health.HasField("updated")
                                     or row.time > health.updated.ToDatetime(tzinfo=UTC)):
            health.updated.FromDatetime(row.time)
        health.sequence = max(health.sequence, row.sequence)
    for health in by_camera.values():
        health.online = (health.conditions.get("offline") != "alarm"
                         and health.stream_state not in NOT_ONLINE_STREAM_STATES)
    return [by_camera[k] for k in sorted(by_camera)]


@dataclass(frozen=True)
class Granted:
    """What a caller may see: zones and cameras from the decision's obligations (None = no limit)."""

    zones: frozenset[str] | None
    cameras: frozenset[str]

    @classmethod
    def from_obligations(cls, obligations: dict[str, Any]) -> Granted:
        zones = obligations.get("zones")
        return cls(frozenset(zones) if isinstance(zones, list) else None,
                   frozenset(obligations.get("cameras") or ()))

    def allows(self, zone: str, camera_id: str) -> bool:
        return self.zones is None or zone in self.zones or camera_id in self.cameras


def wanted(zone: str, camera_id: str, granted: Granted, zones: Sequence[str], cameras: Sequence[str]) -> bool:
    """Granted by policy, and within the zones/cameras asked for (empty = all)."""
    return (granted.allows(zone, camera_id) and (not zones or zone in zones)
            and (not cameras or camera_id in cameras))


class HealthStateStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def apply(self, row: HealthRow) -> bool:
        """Keep `row` if it is newer (higher sequence) than the stored one; True if stored."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO ingest_camera_health (camera_id, kind, state, zone, detail, at, power_source,"
                " battery_percent, sequence) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (camera_id, kind) DO UPDATE SET state = EXCLUDED.state, zone = EXCLUDED.zone,"
                " detail = EXCLUDED.detail, at = EXCLUDED.at, power_source = EXCLUDED.power_source,"
                " battery_percent = EXCLUDED.battery_percent, sequence = EXCLUDED.sequence"
                " WHERE ingest_camera_health.sequence < EXCLUDED.sequence",
                (row.camera_id, row.kind, row.state, row.zone, row.detail, row.time, row.power_source,
                 row.battery_percent, row.sequence))
            return cur.rowcount == 1

    async def rows(self) -> list[HealthRow]:
        async with self.pool.connection() as conn:
            fetched = await (await conn.execute(
                "SELECT camera_id, kind, state, zone, detail, at, power_source, battery_percent, sequence"
                " FROM ingest_camera_health")).fetchall()
        return [HealthRow(*r) for r in fetched]


class HealthState:
    """The fold consumer, the current-state query and the live stream of one ingest process."""

    def __init__(self, js: JetStreamContext, store: HealthStateStore, *,
                 durable: str = STATE_DURABLE) -> None:
        self.js, self.store, self.durable = js, store, durable

    async def handle(self, msg: Msg) -> Outcome:
        event = decoded(msg, events_pb2.CameraHealthEvent, "camera health event", log)
        if event is None or not event.camera_id or not event.kind:
            return Outcome.TERM
        await self.store.apply(row_from_event(event, msg.metadata.sequence.stream))
        return Outcome.ACK

    def consumer(self, batch: int = 64) -> PullConsumer:
        return PullConsumer(self.js, HEALTH_STREAM, HEALTH_SUBJECTS, self.durable, self.handle, batch=batch)

    async def watermark(self) -> int:
        """A stream position every event up to which is folded into the table (the consumer's ack floor)."""
        try:
            info = await self.js.consumer_info(HEALTH_STREAM, self.durable)
        except NotFoundError:
            return 0
        return int(info.ack_floor.stream_seq) if info.ack_floor else 0

    async def current(self, granted: Granted, zones: Sequence[str], cameras: Sequence[str]
                      ) -> tuple[list[camera_pb2.CameraHealth], int]:
        """Every visible camera's health, and the position to stream from so nothing is missed."""
        mark = await self.watermark()  # read first: rows read after it cover at least up to it
        rows = [r for r in await self.store.rows() if wanted(r.zone, r.camera_id, granted, zones, cameras)]
        return fold(rows), mark

    async def changes(self, after: int, granted: Granted, zones: Sequence[str], cameras: Sequence[str]
                      ) -> AsyncIterator[camera_pb2.CameraHealthUpdate]:
        """Every visible health event after stream position `after` (0 = from now), live, in order."""
        last = after if after > 0 else int((await self.js.stream_info(HEALTH_STREAM)).state.last_seq)
        start = last + 1
        async for msg in follow(self.js, HEALTH_SUBJECTS, HEALTH_STREAM, start):
            event = decoded(msg, events_pb2.CameraHealthEvent, "camera health event", log)
            if event is None or not wanted(event.zone, event.camera_id, granted, zones, cameras):
                continue
            update = camera_pb2.CameraHealthUpdate(
                sequence=msg.metadata.sequence.stream, camera_id=event.camera_id, zone=event.zone,
                time=event.time, kind=event.kind, state=event.state, detail=event.detail)
            if event.HasField("device"):
                update.device.CopyFrom(event.device)
            yield update
