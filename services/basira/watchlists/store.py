"""PostgreSQL storage of hotlists and face watchlists (tables `watchlists_*`, see migrations/).

Entries are never deleted: removal stamps who, when and why, so oversight can reconstruct what was on
a list at any time. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncCursor
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from basira.common.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from basira.watchlists.facelists import EnrolledFace, FaceTemplate, Watchlist, WatchlistSubject
from basira.watchlists.hotlist import (
    HotlistEntry,
    HotlistReason,
    LegalBasis,
    NewHotlistEntry,
)

MAX_PAGE = 1000
DEFAULT_PAGE = 100

_HOTLIST_COLUMNS = """id, seq, plate, country, reason, legal_kind, legal_reference, legal_issued_by,
    owner_agency, created_by, created, expires, confusable_tolerant, note, removed"""


def page_size(requested: int) -> int:
    """The page size to use: DEFAULT_PAGE when unset, at most MAX_PAGE."""
    if requested < 0:
        raise InvalidInput(f"page.page_size must be >= 0, got {requested}", field="page.page_size")
    return min(requested or DEFAULT_PAGE, MAX_PAGE)


def page_after(token: str) -> int:
    """The position a `page_token` points after (0 for the first page)."""
    if not token:
        return 0
    if not token.isdigit():
        raise InvalidInput("page.page_token is not a token this service returned", field="page.page_token")
    return int(token)


def _dicts(conn: Any) -> AsyncCursor[dict[str, Any]]:
    """A cursor returning rows as dicts keyed by column name."""
    cursor: AsyncCursor[dict[str, Any]] = conn.cursor(row_factory=dict_row)
    return cursor


def _hotlist_entry(row: dict[str, Any]) -> HotlistEntry:
    return HotlistEntry(
        id=str(row["id"]), plate=row["plate"], country=row["country"], reason=HotlistReason(row["reason"]),
        legal_basis=LegalBasis(row["legal_kind"], row["legal_reference"], row["legal_issued_by"]),
        owner_agency=row["owner_agency"], expires=row["expires"],
        confusable_tolerant=row["confusable_tolerant"], note=row["note"], created=row["created"],
        created_by=row["created_by"], removed=row["removed"],
    )


class WatchlistStore:
    """Reads and writes the `watchlists_*` tables through a connection pool (autocommit)."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    # -- plate hotlist -----------------------------------------------------------------------

    async def add_hotlist_entry(self, new: NewHotlistEntry, *, created_by: str, now: datetime
                                ) -> HotlistEntry:
        """Store a validated entry; AlreadyExists if the agency has an active entry for that plate."""
        entry_id = uuid.uuid4()
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                               (f"hotlist:{new.owner_agency}:{new.plate}",))
            cur = await conn.execute(
                """SELECT id FROM watchlists_hotlist WHERE owner_agency = %s AND plate = %s
                   AND country = %s AND removed IS NULL AND expires > %s""",
                (new.owner_agency, new.plate, new.country, now))
            existing = await cur.fetchone()
            if existing is not None:
                raise AlreadyExists(f"{new.owner_agency} already has hotlist entry {existing[0]} for plate "
                                    f"{new.plate}; remove it first or let it expire")
            rows = _dicts(conn)
            await rows.execute(
                f"""INSERT INTO watchlists_hotlist (id, plate, plate_as_reported, country, reason, legal_kind,
                       legal_reference, legal_issued_by, owner_agency, created_by, created, expires,
                       confusable_tolerant, note)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                   RETURNING {_HOTLIST_COLUMNS}""",
                (entry_id, new.plate, new.plate_as_reported, new.country, int(new.reason),
                 new.legal_basis.kind, new.legal_basis.reference, new.legal_basis.issued_by,
                 new.owner_agency, created_by, now, new.expires, new.confusable_tolerant, new.note))
            row = await rows.fetchone()
        assert row is not None
        return _hotlist_entry(row)

    async def get_hotlist_entry(self, entry_id: uuid.UUID) -> HotlistEntry:
        """The entry (removed or not); NotFound if there is none with that id."""
        async with self.pool.connection() as conn:
            cur = _dicts(conn)
            await cur.execute(f"SELECT {_HOTLIST_COLUMNS} FROM watchlists_hotlist WHERE id = %s", (entry_id,))
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no hotlist entry {entry_id}")
        return _hotlist_entry(row)

    async def remove_hotlist_entry(self, entry_id: uuid.UUID, *, agency: str, removed_by: str, reason: str,
                                   now: datetime) -> HotlistEntry:
        """Take an entry off the list. NotFound if absent or already removed; PermissionDenied if
        `agency` does not own it."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = _dicts(conn)
            await cur.execute(f"SELECT {_HOTLIST_COLUMNS} FROM watchlists_hotlist WHERE id = %s FOR UPDATE",
                              (entry_id,))
            row = await cur.fetchone()
            if row is None or row["removed"] is not None:
                raise NotFound(f"no hotlist entry {entry_id} on the list")
            if row["owner_agency"] != agency:
                raise PermissionDenied(f"hotlist entry {entry_id} belongs to {row['owner_agency']}; only "
                                       "the owning agency can remove it")
            await cur.execute(
                f"""UPDATE watchlists_hotlist SET removed = %s, removed_by = %s, removal_reason = %s
                   WHERE id = %s RETURNING {_HOTLIST_COLUMNS}""", (now, removed_by, reason, entry_id))
            updated = await cur.fetchone()
        assert updated is not None
        return _hotlist_entry(updated)

    async def list_hotlist(self, *, now: datetime, include_expired: bool, after: int, limit: int
                           ) -> tuple[list[HotlistEntry], str]:
        """Entries on the list (not removed), oldest first; returns (page, next page token or "")."""
        async with self.pool.connection() as conn:
            cur = _dicts(conn)
            await cur.execute(
                f"""SELECT {_HOTLIST_COLUMNS} FROM watchlists_hotlist
                   WHERE removed IS NULL AND seq > %s AND (%s OR expires > %s)
                   ORDER BY seq LIMIT %s""", (after, include_expired, now, limit + 1))
            rows = await cur.fetchall()
        token = str(rows[limit - 1]["seq"]) if len(rows) > limit else ""
        return [_hotlist_entry(r) for r in rows[:limit]], token

    async def active_hotlist(self, now: datetime) -> list[HotlistEntry]:
        """Every entry that may match at `now` (for the in-memory matcher)."""
        async with self.pool.connection() as conn:
            cur = _dicts(conn)
            await cur.execute(f"""SELECT {_HOTLIST_COLUMNS} FROM watchlists_hotlist
                                 WHERE removed IS NULL AND expires > %s ORDER BY seq""", (now,))
            rows = await cur.fetchall()
        return [_hotlist_entry(r) for r in rows]

    # -- face watchlists ---------------------------------------------------------------------

    async def create_watchlist(self, *, name: str, description: str, owner_agency: str, created_by: str,
                               now: datetime) -> Watchlist:
        """A new, empty list; AlreadyExists if the agency has a list of that name."""
        list_id = uuid.uuid4()
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                """INSERT INTO watchlists_lists (id, name, owner_agency, description, created_by, created)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (owner_agency, name) DO NOTHING RETURNING id""",
                (list_id, name, owner_agency, description, created_by, now))
            if await cur.fetchone() is None:
                raise AlreadyExists(f"{owner_agency} already has a watchlist named {name!r}")
        return Watchlist(id=str(list_id), name=name, owner_agency=owner_agency, description=description,
                         created=now, subject_count=0)

    async def _watchlists(self, where: str, params: Sequence[Any], now: datetime) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = _dicts(conn)
            await cur.execute(
                f"""SELECT l.id, l.seq, l.name, l.owner_agency, l.description, l.created,
                       (SELECT count(*) FROM watchlists_subjects s WHERE s.watchlist_id = l.id
                           AND s.removed IS NULL AND s.expires > %s) AS subject_count
                   FROM watchlists_lists l WHERE {where}""", (now, *params))
            return await cur.fetchall()

    @staticmethod
    def _watchlist(row: dict[str, Any]) -> Watchlist:
        return Watchlist(id=str(row["id"]), name=row["name"], owner_agency=row["owner_agency"],
                         description=row["description"], created=row["created"],
                         subject_count=int(row["subject_count"]))

    async def get_watchlist(self, list_id: uuid.UUID, now: datetime) -> Watchlist:
        rows = await self._watchlists("l.id = %s", (list_id,), now)
        if not rows:
            raise NotFound(f"no watchlist {list_id}")
        return self._watchlist(rows[0])

    async def list_watchlists(self, *, owner_agency: str, now: datetime, after: int, limit: int
                              ) -> tuple[list[Watchlist], str]:
        """The agency's own lists, oldest first; returns (page, next page token or "")."""
        rows = await self._watchlists("l.owner_agency = %s AND l.seq > %s ORDER BY l.seq LIMIT %s",
                                      (owner_agency, after, limit + 1), now)
        token = str(rows[limit - 1]["seq"]) if len(rows) > limit else ""
        return [self._watchlist(r) for r in rows[:limit]], token

    async def enrol_subject(self, *, watchlist_id: uuid.UUID, label: str, legal_basis: LegalBasis,
                            expires: datetime, templates: Sequence[FaceTemplate], created_by: str,
                            now: datetime, access_pb: bytes = b"") -> WatchlistSubject:
        """Store a subject (with the AccessContext it is enrolled under) and one embedding per image."""
        subject_id = uuid.uuid4()
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO watchlists_subjects (id, watchlist_id, label, legal_kind, legal_reference,
                       legal_issued_by, created_by, created, expires, access_pb)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (subject_id, watchlist_id, label, legal_basis.kind, legal_basis.reference,
                 legal_basis.issued_by, created_by, now, expires, access_pb))
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO watchlists_embeddings (subject_id, model, embedding) VALUES (%s, %s, %s)",
                    [(subject_id, t.model, list(t.embedding)) for t in templates])
        return WatchlistSubject(id=str(subject_id), watchlist_id=str(watchlist_id), label=label,
                                legal_kind=legal_basis.kind, legal_reference=legal_basis.reference,
                                legal_issued_by=legal_basis.issued_by, expires=expires,
                                enrolled_images=len(templates),
                                models=tuple(sorted({t.model for t in templates})))

    async def remove_subject(self, *, watchlist_id: uuid.UUID, subject_id: uuid.UUID, removed_by: str,
                             reason: str, now: datetime) -> None:
        """Take a subject off its list; NotFound if it is not (or no longer) on that list."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                """UPDATE watchlists_subjects SET removed = %s, removed_by = %s, removal_reason = %s
                   WHERE id = %s AND watchlist_id = %s AND removed IS NULL RETURNING id""",
                (now, removed_by, reason, subject_id, watchlist_id))
            if await cur.fetchone() is None:
                raise NotFound(f"no subject {subject_id} on watchlist {watchlist_id}")

    async def subjects_without_model(self, watchlist_ids: Sequence[str], model: str, now: datetime
                                     ) -> dict[str, int]:
        """Per watchlist: active subjects with no enrolment embedding of `model` (they cannot match)."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                """SELECT s.watchlist_id::text, count(*) FROM watchlists_subjects s
                   WHERE s.watchlist_id = ANY(%s::uuid[]) AND s.removed IS NULL AND s.expires > %s
                   AND NOT EXISTS (SELECT 1 FROM watchlists_embeddings e
                                   WHERE e.subject_id = s.id AND e.model = %s)
                   GROUP BY s.watchlist_id""", (list(watchlist_ids), now, model))).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    async def subjects_to_reenrol(self, watchlist_ids: Sequence[str], model: str, now: datetime, *,
                                  limit: int = 100) -> dict[str, list[WatchlistSubject]]:
        """Per watchlist: up to `limit` active subjects with no enrolment embedding of `model`, oldest
        first, each with the models it was enrolled with (what the operator must re-enrol)."""
        async with self.pool.connection() as conn:
            cur = _dicts(conn)
            await cur.execute(
                """SELECT * FROM (
                       SELECT s.id, s.watchlist_id, s.label, s.legal_kind, s.legal_reference,
                           s.legal_issued_by, s.expires,
                           (SELECT count(*) FROM watchlists_embeddings e WHERE e.subject_id = s.id) AS images,
                           ARRAY(SELECT DISTINCT e.model FROM watchlists_embeddings e
                                 WHERE e.subject_id = s.id ORDER BY e.model) AS models,
                           row_number() OVER (PARTITION BY s.watchlist_id ORDER BY s.created, s.id) AS n
                       FROM watchlists_subjects s
                       WHERE s.watchlist_id = ANY(%s::uuid[]) AND s.removed IS NULL AND s.expires > %s
                       AND NOT EXISTS (SELECT 1 FROM watchlists_embeddings e
                                       WHERE e.subject_id = s.id AND e.model = %s)) stale
                   WHERE n <= %s ORDER BY watchlist_id, n""", (list(watchlist_ids), now, model, limit))
            rows = await cur.fetchall()
        found: dict[str, list[WatchlistSubject]] = {}
        for r in rows:
            found.setdefault(str(r["watchlist_id"]), []).append(WatchlistSubject(
                id=str(r["id"]), watchlist_id=str(r["watchlist_id"]), label=r["label"],
                legal_kind=r["legal_kind"], legal_reference=r["legal_reference"],
                legal_issued_by=r["legal_issued_by"], expires=r["expires"], enrolled_images=int(r["images"]),
                models=tuple(r["models"])))
        return found

    async def active_faces(self, now: datetime) -> list[EnrolledFace]:
        """Every enrolment image of every subject that may match at `now` (for the live matcher)."""
        async with self.pool.connection() as conn:
            cur = _dicts(conn)
            await cur.execute(
                """SELECT s.id AS subject_id, s.watchlist_id, l.owner_agency, s.label, s.expires, s.access_pb,
                       e.model, e.embedding
                   FROM watchlists_subjects s JOIN watchlists_lists l ON l.id = s.watchlist_id
                   JOIN watchlists_embeddings e ON e.subject_id = s.id
                   WHERE s.removed IS NULL AND s.expires > %s ORDER BY e.id""", (now,))
            rows = await cur.fetchall()
        return [EnrolledFace(subject_id=str(r["subject_id"]), watchlist_id=str(r["watchlist_id"]),
                             owner_agency=r["owner_agency"], label=r["label"], expires=r["expires"],
                             access_pb=bytes(r["access_pb"]), model=r["model"],
                             embedding=tuple(r["embedding"])) for r in rows]
