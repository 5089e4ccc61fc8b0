"""Search's tables (search_*): writes from the indexer, keyset-paged reads for the servicer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from basira.common.errors import FailedPrecondition
from basira.common.plate_text import confusable_skeleton
from basira.search.domain import (
    KIND_FACE,
    KIND_PLATE,
    CountRow,
    GrantedScope,
    PageCursor,
    Rect,
    SightingFilter,
    SightingRow,
    Snapshot,
)
from basira.search.plate_index import FuzzyPlan, skeleton_grams

_SIGHTING_COLUMNS = ("id, kind, camera_id, zone, seen, plate_key, plate_display, plate_country, "
                     "confidence, box_x, box_y, box_w, box_h, snapshot_id, latitude, longitude")


@dataclass(frozen=True)
class PlateSightingIn:
    """A plate sighting as the indexer stores it."""

    id: str
    camera_id: str
    zone: str
    owner_agency: str
    seen: datetime
    plate_key: str
    plate_display: str
    plate_country: str
    confidence: float
    box: Rect | None
    snapshot_id: str
    frame_id: str
    latitude: float | None
    longitude: float | None
    snapshot_jpeg: bytes = b""


@dataclass(frozen=True)
class FaceSightingIn:
    """A face sighting as the indexer stores it (unit embedding of `model`)."""

    id: str
    camera_id: str
    zone: str
    owner_agency: str
    seen: datetime
    box: Rect | None
    snapshot_id: str
    track_id: str
    model: str
    embedding: tuple[float, ...]
    latitude: float | None
    longitude: float | None
    snapshot_jpeg: bytes = b""


_FACE_COLUMNS = ("id, camera_id, zone, seen, box_x, box_y, box_w, box_h, snapshot_id, latitude, longitude")


@dataclass(frozen=True)
class VectorHome:
    """Where embeddings of one dimension live: SFace and dlib (128-d) in search_faces itself, ArcFace
    (512-d) in a table beside it keyed by the face id; each has its own HNSW index (migration 004)."""

    table: str

    @property
    def beside(self) -> bool:
        """True if the vectors are in their own table (joined to search_faces by id)."""
        return self.table != "search_faces"


VECTOR_HOMES = {128: VectorHome("search_faces"), 512: VectorHome("search_face_vectors_512")}
FACE_DIMENSIONS = tuple(sorted(VECTOR_HOMES))
MAX_EF_SEARCH = 1000  # pgvector's largest hnsw.ef_search


def vector_home(dimensions: int, model: str) -> VectorHome:
    """The home of `model`'s `dimensions`-d embeddings; FailedPrecondition if search indexes none."""
    home = VECTOR_HOMES.get(dimensions)
    if home is None:
        raise FailedPrecondition(f"face model {model} gives {dimensions}-d embeddings; face search indexes "
                                 f"only {', '.join(map(str, FACE_DIMENSIONS))}-d ones")
    return home


def _vector(values: Sequence[float]) -> str:
    """pgvector's text form of a vector."""
    return "[" + ",".join(f"{v:.7g}" for v in values) + "]"


def _face_row(row: Sequence[Any]) -> SightingRow:
    (id_, camera_id, zone, seen, bx, by, bw, bh, snapshot_id, lat, lon, distance) = row
    return SightingRow(id=id_, kind=KIND_FACE, camera_id=camera_id, zone=zone, seen=seen,
                       box=Rect(bx, by, bw, bh) if bw and bh else None, snapshot_id=snapshot_id,
                       latitude=lat, longitude=lon, distance=round(float(distance), 4))


async def _keep_snapshot(conn: Any, s: PlateSightingIn | FaceSightingIn) -> None:
    """The sighting's evidence frame, stored once per snapshot id."""
    if s.snapshot_id and s.snapshot_jpeg:
        await conn.execute(
            "INSERT INTO search_snapshots (snapshot_id, camera_id, zone, owner_agency, seen, jpeg)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (snapshot_id) DO NOTHING",
            (s.snapshot_id, s.camera_id, s.zone, s.owner_agency, s.seen, s.snapshot_jpeg))


def _row_to_sighting(row: Sequence[Any], distance: float = 0.0) -> SightingRow:
    (id_, kind, camera_id, zone, seen, key, display, country, confidence, bx, by, bw, bh, snapshot_id,
     lat, lon) = row
    box = Rect(bx, by, bw, bh) if bw and bh else None
    return SightingRow(id=id_, kind=kind, camera_id=camera_id, zone=zone, seen=seen, plate_key=key,
                       plate_display=display, plate_country=country, confidence=confidence, box=box,
                       snapshot_id=snapshot_id, latitude=lat, longitude=lon, distance=distance)


def _scope_sql(granted: GrantedScope, params: list[Any]) -> str:
    if granted.unlimited:
        return ""
    params.extend([list(granted.zones or ()), list(granted.cameras or ())])
    return " AND (zone = ANY(%s) OR camera_id = ANY(%s))"


def _filter_sql(flt: SightingFilter, params: list[Any]) -> str:
    """WHERE fragments (fixed text; values only as parameters) for a SightingFilter."""
    sql = ""
    if flt.time_from is not None:
        sql += " AND seen >= %s"
        params.append(flt.time_from)
    if flt.time_to is not None:
        sql += " AND seen < %s"
        params.append(flt.time_to)
    if flt.cameras:
        sql += " AND camera_id = ANY(%s)"
        params.append(list(flt.cameras))
    if flt.zone:
        sql += " AND zone = %s"
        params.append(flt.zone)
    return sql + _scope_sql(flt.granted, params)


class SearchStore:
    """All SQL of the search service; every method is one short transaction or query."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    # ---- indexer writes ----

    async def add_plate_sighting(self, s: PlateSightingIn) -> bool:
        """Store one sighting (and its snapshot, plate key, bigrams); False if the id was seen before."""
        box = s.box or Rect(0, 0, 0, 0)
        async with self.pool.connection() as conn, conn.transaction():
            inserted = await (await conn.execute(
                "INSERT INTO search_sightings (id, kind, camera_id, zone, owner_agency, seen, plate_key,"
                " plate_display, plate_country, confidence, box_x, box_y, box_w, box_h, snapshot_id,"
                " frame_id, latitude, longitude) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id",
                (s.id, KIND_PLATE, s.camera_id, s.zone, s.owner_agency, s.seen, s.plate_key,
                 s.plate_display, s.plate_country, s.confidence, box.x, box.y, box.width, box.height,
                 s.snapshot_id, s.frame_id, s.latitude, s.longitude))).fetchone()
            if inserted is None:
                return False
            await _keep_snapshot(conn, s)
            new_key = await (await conn.execute(
                "INSERT INTO search_plate_keys (plate_key, skeleton, length, first_seen)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (plate_key) DO NOTHING RETURNING plate_key",
                (s.plate_key, confusable_skeleton(s.plate_key), len(s.plate_key), s.seen))).fetchone()
            if new_key is not None:
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO search_plate_grams (gram, plate_key) VALUES (%s, %s)"
                        " ON CONFLICT DO NOTHING",
                        [(gram, s.plate_key) for gram in sorted(skeleton_grams(s.plate_key))])
        return True

    async def add_face_sighting(self, s: FaceSightingIn) -> bool:
        """Store one face (and its snapshot); False if the id was seen before.

        Raises FailedPrecondition if search indexes no vectors of the embedding's dimension.
        """
        home = vector_home(len(s.embedding), s.model)
        box = s.box or Rect(0, 0, 0, 0)
        inline = None if home.beside else _vector(s.embedding)
        async with self.pool.connection() as conn, conn.transaction():
            inserted = await (await conn.execute(
                "INSERT INTO search_faces (id, camera_id, zone, owner_agency, seen, box_x, box_y, box_w,"
                " box_h, snapshot_id, track_id, model, embedding, latitude, longitude)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::vector, %s, %s)"
                " ON CONFLICT (id) DO NOTHING RETURNING id",
                (s.id, s.camera_id, s.zone, s.owner_agency, s.seen, box.x, box.y, box.width, box.height,
                 s.snapshot_id, s.track_id, s.model, inline, s.latitude, s.longitude))).fetchone()
            if inserted is None:
                return False
            if home.beside:
                await conn.execute(f"INSERT INTO {home.table} (id, model, embedding)"  # type: ignore[arg-type]
                                   " VALUES (%s, %s, %s::vector)", (s.id, s.model, _vector(s.embedding)))
            await _keep_snapshot(conn, s)
        return True

    async def search_faces(self, model: str, vector: Sequence[float], flt: SightingFilter, *,
                           max_distance: float, limit: int, ef_search: int) -> list[SightingRow]:
        """The `limit` nearest faces of `model` within `max_distance` (cosine) and the filter, nearest first.

        Served by the HNSW index: `ef_search` candidates are visited (at least `limit`, at most
        pgvector's 1000: the index returns no more than it visits), then the filter applies, so a narrow
        filter may return fewer than exist (raise ef_search); see `make bench-search`.
        """
        home = vector_home(len(vector), model)
        params: list[Any] = [_vector(vector), model]
        source = (f"{home.table} v JOIN search_faces USING (id) WHERE v.model = %s" if home.beside
                  else "search_faces v WHERE model = %s")
        sql = (f"SELECT {_FACE_COLUMNS}, v.embedding <=> %s::vector AS distance FROM {source}"
               + _filter_sql(flt, params) + " ORDER BY distance LIMIT %s")
        params.append(limit)
        async with self.pool.connection() as conn, conn.transaction():
            visited = min(MAX_EF_SEARCH, max(int(ef_search), limit))
            await conn.execute(f"SET LOCAL hnsw.ef_search = {visited}")  # type: ignore[arg-type]
            rows = await (await conn.execute(sql, params)).fetchall()  # type: ignore[arg-type]
        return [_face_row(r) for r in rows if float(r[-1]) <= max_distance]

    async def purge(self, table: str, older_than: datetime, limit: int, *, held: bool | None = None
                    ) -> list[str]:
        """Delete up to `limit` rows of `table` seen before `older_than`; the camera of each row erased.

        `held` picks face rows by evidence hold: False only faces no hold keeps (a confirmed match or
        an open candidate; and snapshots no held face shows), True only held faces (whose holds go
        with them); None all.
        """
        if table not in ("search_faces", "search_sightings", "search_snapshots"):
            raise ValueError(f"no retention purge for table {table!r}")
        key = "snapshot_id" if table == "search_snapshots" else "id"
        where = ""
        if held is not None and table == "search_faces":
            where = (f" AND {'' if held else 'NOT '}EXISTS (SELECT 1 FROM search_face_holds h"
                     " WHERE h.sighting_id = search_faces.id)")
        elif held is False and table == "search_snapshots":
            where = (" AND NOT EXISTS (SELECT 1 FROM search_faces f JOIN search_face_holds h"
                     " ON h.sighting_id = f.id WHERE f.snapshot_id = search_snapshots.snapshot_id)")
        elif held is not None:
            raise ValueError(f"no evidence holds on table {table!r}")
        async with self.pool.connection() as conn, conn.transaction():
            rows = await (await conn.execute(
                f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE seen < %s{where}"  # type: ignore[arg-type]
                f" ORDER BY seen LIMIT %s) RETURNING {key}, camera_id", (older_than, limit))).fetchall()
            if held:  # the holds of the faces erased, and of faces never indexed or long gone
                await conn.execute("DELETE FROM search_face_holds WHERE sighting_id = ANY(%s) OR"
                                   " (created < %s AND NOT EXISTS (SELECT 1 FROM search_faces f"
                                   " WHERE f.id = sighting_id))", ([r[0] for r in rows], older_than))
        return [r[1] for r in rows]

    async def hold_face(self, sighting_id: str, alert_id: str, confirmed: datetime) -> bool:
        """Keep a face sighting as evidence of a confirmed match (idempotent: the first confirmation
        stays; an open candidate's hold becomes this one). True if the face sighting is stored."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO search_face_holds (sighting_id, alert_id, confirmed, decided)"
                " VALUES (%s, %s, %s, true) ON CONFLICT (sighting_id) DO UPDATE SET alert_id ="
                " EXCLUDED.alert_id, confirmed = EXCLUDED.confirmed, decided = true"
                " WHERE NOT search_face_holds.decided", (sighting_id, alert_id, confirmed))
            row = await (await conn.execute("SELECT 1 FROM search_faces WHERE id = %s",
                                            (sighting_id,))).fetchone()
        return row is not None

    async def hold_candidate(self, sighting_id: str, alert_id: str) -> None:
        """Keep an open candidate's face from the unmatched purge until it is decided (idempotent)."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO search_face_holds (sighting_id, alert_id, confirmed, decided)"
                " VALUES (%s, %s, NULL, false) ON CONFLICT (sighting_id) DO NOTHING", (sighting_id, alert_id))

    async def release_candidate(self, sighting_id: str, alert_id: str) -> None:
        """A rejected candidate: its face is unmatched again (a confirmed match's hold is never released)."""
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM search_face_holds WHERE sighting_id = %s AND alert_id = %s"
                               " AND NOT decided", (sighting_id, alert_id))

    async def _newest_first(self, sql: str, params: list[Any], cursor: PageCursor | None,
                            limit: int) -> list[Any]:
        """`sql`'s rows newest first (seen, id descending) after `cursor`, `limit` at most: one keyset
        page, the same for plate and face sightings."""
        if cursor is not None:
            sql += " AND (seen, id) < (%s, %s)"
            params.extend([cursor.seen, cursor.id])
        sql += " ORDER BY seen DESC, id DESC LIMIT %s"
        params.append(limit)
        async with self.pool.connection() as conn:
            return await (await conn.execute(sql, params)).fetchall()  # type: ignore[arg-type]

    async def list_face_sightings(self, flt: SightingFilter, *, limit: int, cursor: PageCursor | None
                                  ) -> list[SightingRow]:
        """Face sightings newest first (seen, id descending) after `cursor`; `limit` rows at most."""
        params: list[Any] = []
        sql = f"SELECT {_FACE_COLUMNS}, 0.0 FROM search_faces WHERE true" + _filter_sql(flt, params)
        rows = await self._newest_first(sql, params, cursor, limit)
        return [_face_row(r) for r in rows]

    async def face_sighting(self, sighting_id: str) -> tuple[SightingRow, str, list[float]] | None:
        """A stored face sighting with its model and embedding (to follow that person), or None."""
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                f"SELECT {_FACE_COLUMNS}, 0.0, search_faces.model, COALESCE(search_faces.embedding,"
                " v.embedding)::text FROM search_faces LEFT JOIN search_face_vectors_512 v USING (id)"
                " WHERE id = %s", (sighting_id,))).fetchone()
        if row is None:
            return None
        return _face_row(row[:-2]), row[-2], [float(v) for v in row[-1].strip("[]").split(",")]

    async def upsert_count(self, event_id: str, camera_id: str, zone: str, minute: datetime,
                           vehicles: int, persons: int, frames: int) -> None:
        """One bucket per camera and minute; a later event replaces it unless it saw fewer frames.

        The frames guard keeps a redelivered, older partial bucket from overwriting a fuller one.
        """
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO search_counts (camera_id, minute, zone, vehicles, persons, frames, event_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (camera_id, minute) DO UPDATE SET"
                " zone = EXCLUDED.zone, vehicles = EXCLUDED.vehicles, persons = EXCLUDED.persons,"
                " frames = EXCLUDED.frames, event_id = EXCLUDED.event_id, updated = now()"
                " WHERE EXCLUDED.frames >= search_counts.frames",
                (camera_id, minute, zone, vehicles, persons, frames, event_id))

    # ---- reads ----

    async def list_sightings(self, flt: SightingFilter, *, limit: int, cursor: PageCursor | None,
                             plate_keys: Sequence[str] | None = None,
                             distances: dict[str, float] | None = None) -> list[SightingRow]:
        """Sightings newest first (seen, id descending) after `cursor`; `limit` rows at most.

        `plate_keys` (if given) restricts to those canonical keys; `distances` sets each row's distance.
        """
        params: list[Any] = [KIND_PLATE]
        sql = f"SELECT {_SIGHTING_COLUMNS} FROM search_sightings WHERE kind = %s"
        if plate_keys is not None:
            if not plate_keys:
                return []
            if len(plate_keys) == 1:
                sql += " AND plate_key = %s"
                params.append(plate_keys[0])
            else:
                sql += " AND plate_key = ANY(%s)"
                params.append(list(plate_keys))
        sql += _filter_sql(flt, params)
        rows = await self._newest_first(sql, params, cursor, limit)
        distances = distances or {}
        return [_row_to_sighting(r, distances.get(r[5], 0.0)) for r in rows]

    async def fuzzy_candidates(self, plan: FuzzyPlan, *, limit: int) -> list[str]:
        """Distinct stored plate keys that may be within the plan's distance (a superset)."""
        async with self.pool.connection() as conn:
            if plan.skeleton_equal:
                rows = await (await conn.execute(
                    "SELECT plate_key FROM search_plate_keys WHERE skeleton = %s LIMIT %s",
                    (plan.skeleton, limit))).fetchall()
            elif plan.uses_grams:
                # Aggregate the (indexed) bigram rows first; only the few survivors meet the keys table.
                rows = await (await conn.execute(
                    "SELECT k.plate_key FROM (SELECT plate_key FROM search_plate_grams"
                    " WHERE gram = ANY(%s) GROUP BY plate_key HAVING count(*) >= %s) g"
                    " JOIN search_plate_keys k ON k.plate_key = g.plate_key"
                    " WHERE k.length BETWEEN %s AND %s LIMIT %s",
                    (list(plan.grams), plan.min_shared_grams, plan.min_length, plan.max_length,
                     limit))).fetchall()
            else:
                rows = await (await conn.execute(
                    "SELECT plate_key FROM search_plate_keys WHERE length BETWEEN %s AND %s LIMIT %s",
                    (plan.min_length, plan.max_length, limit))).fetchall()
        return [r[0] for r in rows]

    async def sighting(self, sighting_id: str) -> SightingRow | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                f"SELECT {_SIGHTING_COLUMNS} FROM search_sightings WHERE id = %s",
                (sighting_id,))).fetchone()
        return _row_to_sighting(row) if row else None

    async def plate_trajectory(self, plate_key: str, flt: SightingFilter, *, limit: int
                               ) -> list[SightingRow]:
        """A plate's sightings in time order (oldest first), at most `limit`."""
        params: list[Any] = [KIND_PLATE, plate_key]
        sql = (f"SELECT {_SIGHTING_COLUMNS} FROM search_sightings WHERE kind = %s AND plate_key = %s"
               + _filter_sql(flt, params) + " ORDER BY seen, id LIMIT %s")
        params.append(limit)
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(sql, params)).fetchall()  # type: ignore[arg-type]
        return [_row_to_sighting(r) for r in rows]

    async def snapshot(self, snapshot_id: str) -> Snapshot | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT snapshot_id, camera_id, zone, owner_agency, seen, jpeg FROM search_snapshots"
                " WHERE snapshot_id = %s", (snapshot_id,))).fetchone()
        if row is None:
            return None
        return Snapshot(snapshot_id=row[0], camera_id=row[1], zone=row[2], owner_agency=row[3], seen=row[4],
                        jpeg=bytes(row[5]))

    async def snapshot_place(self, snapshot_id: str) -> tuple[str, str, str] | None:
        """(camera_id, zone, owner_agency) of a snapshot, without loading the image."""
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT camera_id, zone, owner_agency FROM search_snapshots WHERE snapshot_id = %s",
                (snapshot_id,))).fetchone()
        return (row[0], row[1], row[2]) if row else None

    async def face_boxes(self, snapshot_id: str) -> list[Rect]:
        """Boxes of every indexed face in a snapshot (masked besides what the masking detector finds)."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT box_x, box_y, box_w, box_h FROM search_faces WHERE snapshot_id = %s"
                " AND box_w > 0 AND box_h > 0 ORDER BY id", (snapshot_id,))).fetchall()
        return [Rect(*r) for r in rows]

    async def plate_boxes(self, snapshot_id: str) -> list[Rect]:
        """Boxes of every plate read in a snapshot (for masking)."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT box_x, box_y, box_w, box_h FROM search_sightings WHERE snapshot_id = %s"
                " AND box_w > 0 AND box_h > 0 ORDER BY id", (snapshot_id,))).fetchall()
        return [Rect(*r) for r in rows]

    async def counts(self, cameras: Sequence[str], time_from: datetime | None, time_to: datetime | None,
                     granted: GrantedScope, *, limit: int) -> list[CountRow]:
        params: list[Any] = []
        sql = "SELECT camera_id, minute, vehicles, persons FROM search_counts WHERE true"
        if cameras:
            sql += " AND camera_id = ANY(%s)"
            params.append(list(cameras))
        if time_from is not None:
            sql += " AND minute >= %s"
            params.append(time_from)
        if time_to is not None:
            sql += " AND minute < %s"
            params.append(time_to)
        sql += _scope_sql(granted, params) + " ORDER BY camera_id, minute LIMIT %s"
        params.append(limit)
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(sql, params)).fetchall()  # type: ignore[arg-type]
        return [CountRow(*r) for r in rows]

