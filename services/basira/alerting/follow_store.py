"""The `alerting_follows` table: follows started, stopped, found by target, and their sighting tally."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from basira.alerting.follows import ACTIVE, FollowRecord
from basira.common.errors import NotFound

_COLUMNS = ("id, agency, state, target_kind, target, started_by, context, expires, zones, cameras, note, "
            "started, stopped, stopped_by, stop_reason, sightings, last_seen, last_camera_id")


def _record(row: Sequence[Any]) -> FollowRecord:
    (id_, agency, state, kind, target, started_by, context, expires, zones, cameras, note, started, stopped,
     stopped_by, stop_reason, sightings, last_seen, last_camera_id) = row
    return FollowRecord(id=id_, agency=agency, state=state, target_kind=kind, target=target,
                        started_by=started_by, context=dict(context), expires=expires,
                        zones=tuple(zones) if zones is not None else None,
                        cameras=tuple(cameras) if cameras is not None else None, note=note, started=started,
                        stopped=stopped, stopped_by=stopped_by, stop_reason=stop_reason, sightings=sightings,
                        last_seen=last_seen, last_camera_id=last_camera_id)


class FollowStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def add(self, f: FollowRecord) -> FollowRecord:
        async with self.pool.connection() as conn:
            await conn.execute(
                f"INSERT INTO alerting_follows ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s, %s, %s, %s, %s, %s, %s)",
                (f.id, f.agency, f.state, f.target_kind, f.target, f.started_by, Jsonb(f.context), f.expires,
                 list(f.zones) if f.zones is not None else None,
                 list(f.cameras) if f.cameras is not None else None, f.note, f.started, f.stopped,
                 f.stopped_by, f.stop_reason, f.sightings, f.last_seen, f.last_camera_id))
        return f

    async def get(self, follow_id: str) -> FollowRecord | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(f"SELECT {_COLUMNS} FROM alerting_follows WHERE id = %s",
                                            (follow_id,))).fetchone()
        return _record(row) if row else None

    async def live_for(self, target_kind: str, target: str, now: datetime) -> list[FollowRecord]:
        """Active follows of this target whose authorization has not expired."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                f"SELECT {_COLUMNS} FROM alerting_follows WHERE state = %s AND target_kind = %s"
                " AND target = %s AND expires > %s ORDER BY started", (ACTIVE, target_kind, target, now))
            ).fetchall()
        return [_record(r) for r in rows]

    async def of_agency(self, agency: str, *, include_ended: bool, now: datetime, limit: int = 500
                        ) -> list[FollowRecord]:
        sql = f"SELECT {_COLUMNS} FROM alerting_follows WHERE agency = %s"
        params: list[Any] = [agency]
        if not include_ended:
            sql += " AND state = %s AND expires > %s"
            params += [ACTIVE, now]
        sql += " ORDER BY started DESC LIMIT %s"
        params.append(limit)
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(sql, params)).fetchall()  # type: ignore[arg-type]
        return [_record(r) for r in rows]

    async def change(self, follow_id: str, agency: str, change: Callable[[FollowRecord], FollowRecord]
                     ) -> FollowRecord:
        """Apply `change` to one of `agency`'s follows under its row lock; NotFound for another's."""
        async with self.pool.connection() as conn, conn.transaction():
            row = await (await conn.execute(
                f"SELECT {_COLUMNS} FROM alerting_follows WHERE id = %s FOR UPDATE", (follow_id,))).fetchone()
            if row is None or row[1] != agency:
                raise NotFound(f"no follow {follow_id!r} for agency {agency!r}")
            f = change(_record(row))
            await conn.execute(
                "UPDATE alerting_follows SET state = %s, stopped = %s, stopped_by = %s, stop_reason = %s"
                " WHERE id = %s", (f.state, f.stopped, f.stopped_by, f.stop_reason, f.id))
        return f

    async def note_sighting(self, follow_id: str, seen: datetime, camera_id: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE alerting_follows SET sightings = sightings + 1,"
                " last_camera_id = CASE WHEN last_seen IS NULL OR %s >= last_seen THEN %s"
                " ELSE last_camera_id END, last_seen = GREATEST(last_seen, %s) WHERE id = %s",
                (seen, camera_id, seen, follow_id))
