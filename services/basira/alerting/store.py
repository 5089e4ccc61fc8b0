"""Alerting's tables (alerting_*): alert rows, applied event ids, actions, and the publish outbox.

An alert row carries `version` (bumped by every change) and `published_version`/`sequence` (the last
version JetStream accepted, and where). Publishing happens under the row's lock and always sends the
row as it is now, so an agency's stream never ends on a stale version even with several replicas.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from basira.alerting.alerts import STILL_OPEN, AlertRecord, fold_sighting, within_window
from basira.common.errors import NotFound

_COLUMNS = ("id, kind, state, agency, zone, camera_id, target, raised, last_seen, sightings, summary, "
            "plate_pb, entry_pb, snapshot_id, acknowledged_by, confirmed_by, escalated_to, rejected_by, "
            "actor, version, sequence, escalated_from, escalated_alert_id, follow_id, count, threshold, "
            "face_pb")

_STILL_OPEN_SQL = ", ".join(str(int(state)) for state in STILL_OPEN)  # matches the partial index

Publisher = Callable[[AlertRecord], Awaitable[int]]


def _record(row: Sequence[Any]) -> AlertRecord:
    (id_, kind, state, agency, zone, camera_id, target, raised, last_seen, sightings, summary, plate_pb,
     entry_pb, snapshot_id, acked, confirmed, escalated_to, rejected_by, actor, version, sequence,
     escalated_from, escalated_alert_id, follow_id, count, threshold, face_pb) = row
    return AlertRecord(id=id_, kind=kind, state=state, agency=agency, zone=zone, camera_id=camera_id,
                       target=target, raised=raised, last_seen=last_seen, sightings=sightings,
                       summary=summary, plate_pb=bytes(plate_pb), entry_pb=bytes(entry_pb),
                       snapshot_id=snapshot_id, acknowledged_by=tuple(acked), confirmed_by=tuple(confirmed),
                       escalated_to=escalated_to, rejected_by=rejected_by, actor=actor, version=version,
                       sequence=sequence, escalated_from=escalated_from,
                       escalated_alert_id=escalated_alert_id, follow_id=follow_id, count=count,
                       threshold=threshold, face_pb=bytes(face_pb))


async def _save(conn: AsyncConnection[Any], a: AlertRecord) -> None:
    await conn.execute(
        "UPDATE alerting_alerts SET state = %s, last_seen = %s, sightings = %s, snapshot_id = %s,"
        " acknowledged_by = %s, confirmed_by = %s, escalated_to = %s, rejected_by = %s, actor = %s,"
        " version = %s, count = %s, updated = now() WHERE id = %s",
        (a.state, a.last_seen, a.sightings, a.snapshot_id, list(a.acknowledged_by), list(a.confirmed_by),
         a.escalated_to, a.rejected_by, a.actor, a.version, a.count, a.id))


class AlertStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def apply_sighting(self, new: AlertRecord, event_id: str, window: timedelta) -> AlertRecord:
        """Record that event `event_id` showed `new.target` at `new.camera_id` for `new.agency`.

        Folds into an alert of the same agency, kind, camera and target last seen within `window`
        of this sighting, else inserts `new`. Applying the same event id twice changes nothing and
        returns the alert it was applied to.
        """
        async with self.pool.connection() as conn, conn.transaction():
            done = await (await conn.execute(
                f"SELECT {_COLUMNS} FROM alerting_alerts WHERE id = (SELECT alert_id FROM alerting_applied"
                " WHERE event_id = %s AND agency = %s)", (event_id, new.agency))).fetchone()
            if done is not None:
                return _record(done)
            # Serialise writers of one dedupe key (replicas of this service) for this transaction.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                               (f"{new.agency}|{new.kind}|{new.camera_id}|{new.target}",))
            row = await (await conn.execute(
                f"SELECT {_COLUMNS} FROM alerting_alerts WHERE agency = %s AND kind = %s AND camera_id = %s"
                " AND target = %s AND last_seen BETWEEN %s AND %s ORDER BY last_seen DESC LIMIT 1"
                " FOR UPDATE",
                (new.agency, new.kind, new.camera_id, new.target, new.raised - window,
                 new.raised + window))).fetchone()
            existing = _record(row) if row is not None else None
            if existing is not None and within_window(existing.last_seen, new.raised, window):
                alert = fold_sighting(existing, new.raised, new.snapshot_id, count=new.count)
                await _save(conn, alert)
            else:
                alert = new
                await conn.execute(
                    "INSERT INTO alerting_alerts (id, kind, state, agency, zone, camera_id, target, raised,"
                    " last_seen, sightings, summary, plate_pb, entry_pb, snapshot_id, version, follow_id,"
                    " count, threshold, face_pb) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                    " %s, %s, %s, %s, %s, %s, %s)",
                    (alert.id, alert.kind, alert.state, alert.agency, alert.zone, alert.camera_id,
                     alert.target, alert.raised, alert.last_seen, alert.sightings, alert.summary,
                     alert.plate_pb, alert.entry_pb, alert.snapshot_id, alert.version, alert.follow_id,
                     alert.count, alert.threshold, alert.face_pb))
            await conn.execute("INSERT INTO alerting_applied (event_id, agency, alert_id)"
                               " VALUES (%s, %s, %s)", (event_id, new.agency, alert.id))
        return alert

    async def receive_escalation(self, copy: AlertRecord, event_id: str) -> AlertRecord:
        """Store the receiving agency's copy of an escalated alert once per (event id, agency)."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{event_id}|{copy.agency}",))
            done = await (await conn.execute(
                f"SELECT {_COLUMNS} FROM alerting_alerts WHERE id = (SELECT alert_id FROM alerting_applied"
                " WHERE event_id = %s AND agency = %s)", (event_id, copy.agency))).fetchone()
            if done is not None:
                return _record(done)
            await conn.execute(
                "INSERT INTO alerting_alerts (id, kind, state, agency, zone, camera_id, target, raised,"
                " last_seen, sightings, summary, plate_pb, entry_pb, snapshot_id, version, escalated_from,"
                " escalated_alert_id, count, threshold, face_pb)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (copy.id, copy.kind, copy.state, copy.agency, copy.zone, copy.camera_id, copy.target,
                 copy.raised, copy.last_seen, copy.sightings, copy.summary, copy.plate_pb, copy.entry_pb,
                 copy.snapshot_id, copy.version, copy.escalated_from, copy.escalated_alert_id, copy.count,
                 copy.threshold, copy.face_pb))
            await conn.execute("INSERT INTO alerting_applied (event_id, agency, alert_id)"
                               " VALUES (%s, %s, %s)", (event_id, copy.agency, copy.id))
        return copy

    async def get(self, alert_id: str) -> AlertRecord | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(f"SELECT {_COLUMNS} FROM alerting_alerts WHERE id = %s",
                                            (alert_id,))).fetchone()
        return _record(row) if row else None

    async def transition(self, alert_id: str, agency: str, change: Callable[[AlertRecord], AlertRecord],
                         *, action: str, actor: str, note: str = "") -> AlertRecord:
        """Apply a person's action to one of `agency`'s alerts (row-locked); raises NotFound.

        An alert of another agency is reported as not found: its existence is not theirs to learn.
        """
        async with self.pool.connection() as conn, conn.transaction():
            row = await (await conn.execute(
                f"SELECT {_COLUMNS} FROM alerting_alerts WHERE id = %s FOR UPDATE", (alert_id,))).fetchone()
            if row is None or row[3] != agency:
                raise NotFound(f"no alert {alert_id!r} for agency {agency!r}")
            alert = change(_record(row))
            await _save(conn, alert)
            await conn.execute("INSERT INTO alerting_actions (alert_id, action, actor, note)"
                               " VALUES (%s, %s, %s, %s)", (alert_id, action, actor, note))
        return alert

    async def publish_latest(self, alert_id: str, publisher: Publisher) -> AlertRecord | None:
        """Publish the alert's current version if JetStream has not accepted it yet; return the row.

        Runs under the row lock, so concurrent publishers of one alert go one after the other and
        the later one finds nothing left to do. `publisher` raises Unavailable if NATS refuses.
        """
        async with self.pool.connection() as conn, conn.transaction():
            row = await (await conn.execute(
                f"SELECT {_COLUMNS}, published_version FROM alerting_alerts WHERE id = %s FOR UPDATE",
                (alert_id,))).fetchone()
            if row is None:
                return None
            alert, published_version = _record(row[:-1]), row[-1]
            if published_version >= alert.version:
                return alert
            sequence = await publisher(alert)
            await conn.execute("UPDATE alerting_alerts SET published_version = %s, sequence = %s"
                               " WHERE id = %s", (alert.version, sequence, alert.id))
        return replace(alert, sequence=sequence)

    async def unpublished(self, *, older_than: datetime, limit: int = 100) -> list[str]:
        """Ids of alerts changed before `older_than` whose latest version is not published."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT id FROM alerting_alerts WHERE published_version < version AND updated < %s"
                " ORDER BY updated LIMIT %s", (older_than, limit))).fetchall()
        return [r[0] for r in rows]

    async def open_alerts(self, agency: str, *, up_to_sequence: int, limit: int) -> list[AlertRecord]:
        """The agency's most recent still-open alerts published at or before `up_to_sequence`, oldest
        first."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                f"SELECT {_COLUMNS} FROM alerting_alerts WHERE agency = %s AND state IN ({_STILL_OPEN_SQL})"
                " AND sequence > 0 AND sequence <= %s ORDER BY sequence DESC LIMIT %s",
                (agency, up_to_sequence, limit))).fetchall()
        return [_record(r) for r in reversed(rows)]
