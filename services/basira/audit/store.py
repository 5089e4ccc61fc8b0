"""The access log in PostgreSQL: sequenced appends, signed tree heads, queries, proofs and export.

One writer sequences the log: every append takes a transaction-level advisory lock, re-reads the size
and keeps an in-memory compact range (frontier) of the tree, so an append costs O(batch) hashing plus
one COPY of leaves and one of the interior nodes they complete. Proofs at any size are a few indexed
lookups of those persisted nodes. Records are deduplicated by their id, so a redelivered record is
never appended twice. Schema: `migrations/001_log.sql`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from importlib import resources
from typing import IO, Any

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from basira.common.access_record import AccessRecord, canonical_json, utc_now_iso
from basira.common.errors import BasiraError, FailedPrecondition, InvalidInput, NotFound, TooLarge

from . import merkle
from .merkle import CompactRange, NodeId
from .sth import SignedTreeHead, TreeHeadSigner, now_ms, public_key_b64

LOCK_KEY = 0x62617369_72616175  # "basiraau": the log's advisory lock (one log per database)
EXPORT_FORMAT = "basira-audit-export"
EXPORT_VERSION = 1
MAX_BATCH = 50_000
MAX_PAGE = 1_000

Database = AsyncConnectionPool | AsyncConnection
_RECORD_FIELDS = tuple(f.name for f in fields(AccessRecord))


class StorageCorrupted(BasiraError):
    """The log's tables disagree with themselves (a missing node or leaf): stop and investigate."""


@dataclass(frozen=True)
class PreparedRecord:
    """An access record ready to append: its id, exact canonical text and leaf hash."""

    record_id: str
    canonical: str
    leaf_hash: bytes
    at: datetime | None


@dataclass(frozen=True)
class AppendResult:
    """New leaves are `[first_index, new_size)`; `indexes[i]` is where `records[i]` sits in the log
    (its earlier index when it was a redelivery); `sth` is the tree head signed with this batch."""

    first_index: int
    new_size: int
    indexes: tuple[int, ...]
    sth: SignedTreeHead | None = None

    @property
    def appended(self) -> int:
        return self.new_size - self.first_index


@dataclass(frozen=True)
class LogEntry:
    index: int
    leaf_hash: bytes
    canonical: bytes
    """The exact bytes the leaf hash covers."""
    appended_at: datetime

    @property
    def record(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.canonical)
        return value


@dataclass(frozen=True)
class LogQuery:
    """Filters for `AuditStore.query`; all given filters must match. Times are inclusive-exclusive."""

    user: str | None = None
    agency: str | None = None
    case_id: str | None = None
    action: str | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None
    authorization_id: str | None = None
    allowed: bool | None = None  # only allowed (True) or only denied (False) accesses
    snapshot_ids: tuple[str, ...] = ()  # records about these evidence snapshots
    below_index: int | None = None  # only leaves before this index (a signed tree's size)


@dataclass(frozen=True)
class QueryPage:
    entries: list[LogEntry]
    next_page_token: str
    """Empty when there are no more results."""


@dataclass(frozen=True)
class InclusionProof:
    """Leaf `index` with `leaf_hash` is in the tree of `tree_size` whose root is `root_hash`."""

    index: int
    tree_size: int
    leaf_hash: bytes
    hashes: list[bytes]
    root_hash: bytes
    sth: SignedTreeHead | None = None
    """The signed tree head at `tree_size`, when one was signed at exactly that size."""


@dataclass(frozen=True)
class ConsistencyProof:
    size1: int
    size2: int
    hashes: list[bytes]
    root1: bytes
    root2: bytes


@dataclass(frozen=True)
class ExportSummary:
    tree_size: int
    tree_heads: int
    bytes_written: int


@dataclass
class _Cache:
    frontier: CompactRange | None = None


def parse_time(value: Any) -> datetime | None:
    """A record's `time` as an aware datetime (naive means UTC); None when absent or unparsable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


Appendable = AccessRecord | Mapping[str, Any] | bytes | PreparedRecord


def prepare_record(record: Appendable) -> PreparedRecord:
    """Canonicalise and hash one record. Bytes must already be canonical JSON of an object.

    Raises InvalidInput when the record has no string id, is not a JSON object or cannot be encoded.
    """
    if isinstance(record, PreparedRecord):
        return record
    data: Any
    canonical: bytes | None = None
    if isinstance(record, AccessRecord):
        # A shallow dict encodes to the same JSON as `to_dict()`, whose deep copy costs several times
        # the encoding; fall back to it only for values that `asdict` alone can convert.
        data = {name: getattr(record, name) for name in _RECORD_FIELDS}
        try:
            canonical = canonical_json(data)
        except (TypeError, ValueError):
            data = record.to_dict()
    elif isinstance(record, bytes | bytearray):
        try:
            data = json.loads(record)
        except ValueError as exc:
            raise InvalidInput(f"access record is not JSON: {exc}") from exc
    else:
        data = dict(record)
    if not isinstance(data, dict):
        raise InvalidInput("access record must be a JSON object")
    record_id = data.get("id")
    if not isinstance(record_id, str) or not record_id:
        raise InvalidInput("access record needs a non-empty string `id`")
    if canonical is None:
        try:
            canonical = canonical_json(data)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"access record {record_id} cannot be canonicalised: {exc}") from exc
    if isinstance(record, bytes | bytearray) and canonical != bytes(record):
        raise InvalidInput(f"access record {record_id} is not in canonical JSON form")
    return PreparedRecord(record_id, canonical.decode("utf-8"), merkle.leaf_hash(canonical),
                          parse_time(data.get("time")))


async def apply_schema(conn: AsyncConnection) -> None:
    """Create or update the log's tables (idempotent; serialised across processes by a lock)."""
    folder = resources.files("basira.audit.migrations")
    scripts = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql") and p.name[:3].isdigit())
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY + 1,))
        for name in scripts:
            await conn.execute((folder / name).read_text("utf-8").encode("utf-8"))


def _sth_from_row(row: Sequence[Any]) -> SignedTreeHead:
    log_id, tree_size, root_hash, timestamp, signature = row
    return SignedTreeHead(int(tree_size), bytes(root_hash), int(timestamp), bytes(signature), log_id)


_STH_COLUMNS = "log_id, tree_size, root_hash, timestamp, signature"


class AuditStore:
    """The log behind the audit service. Give it a pool (or one connection) and the STH signer.

    Without a signer the store can be read, queried and exported but not appended to with `sign`.
    """

    def __init__(self, db: Database, signer: TreeHeadSigner | None = None) -> None:
        self._db = db
        self._signer = signer
        self._conn_lock = asyncio.Lock()
        self._append_lock = asyncio.Lock()
        self._cache = _Cache()

    @property
    def signer(self) -> TreeHeadSigner | None:
        return self._signer

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[AsyncConnection]:
        if isinstance(self._db, AsyncConnectionPool):
            async with self._db.connection() as conn:
                yield conn
        else:
            async with self._conn_lock:
                yield self._db

    async def migrate(self) -> None:
        async with self._conn() as conn:
            await apply_schema(conn)

    # -----------------------------------------------------------------------------------------------
    # writing

    async def append_batch(self, records: Sequence[Appendable], *, sign: bool | None = None) -> AppendResult:
        """Append records durably in one transaction, in order; redelivered ids are not re-appended.

        `sign` (default: whenever a signer is configured) also signs and stores a tree head for the
        new size in the same transaction, so a committed batch is always covered by a signed head.
        Raises InvalidInput for a malformed record (nothing is appended), TooLarge over MAX_BATCH.
        """
        if len(records) > MAX_BATCH:
            raise TooLarge(f"{len(records)} records in one batch; the limit is {MAX_BATCH}")
        sign = self._signer is not None if sign is None else sign
        if sign and self._signer is None:
            raise FailedPrecondition("this audit store has no tree-head signer")
        prepared = [prepare_record(r) for r in records]
        unique: dict[str, PreparedRecord] = {}
        for p in prepared:
            unique.setdefault(p.record_id, p)
        async with self._append_lock, self._conn() as conn:
            async with conn.transaction():
                frontier, latest = await self._lock_and_load(conn)
                first_index = frontier.size
                existing: dict[str, int] = {}
                if unique:
                    # Not prepared: a generic plan cached while the table was small seq-scans later.
                    cur = await conn.execute(
                        "SELECT l.record_id, l.idx FROM unnest(%s::text[]) AS w(id) "
                        "JOIN audit_leaves l ON l.record_id = w.id", (list(unique),), prepare=False,
                    )
                    existing = {rid: int(idx) for rid, idx in await cur.fetchall()}
                new = [p for rid, p in unique.items() if rid not in existing]
                frontier = frontier.copy()
                created: list[tuple[int, int, bytes]] = []
                positions = dict(existing)
                for p in new:
                    positions[p.record_id] = frontier.size
                    frontier.append(p.leaf_hash, created)
                if new:
                    await self._copy_leaves(conn, first_index, new)
                    await self._copy_nodes(conn, created)
                sth = None
                if sign and (new or latest is None or latest.tree_size != frontier.size):
                    sth = await self._insert_sth(conn, frontier, latest)
            self._cache.frontier = frontier
        return AppendResult(first_index, frontier.size, tuple(positions[p.record_id] for p in prepared), sth)

    async def sign_tree_head(self, *, force: bool = False) -> SignedTreeHead:
        """Sign and store a tree head for the current size; reuse the latest if it already covers it.

        `force` signs anew even at an unchanged size (a fresh timestamp for witnesses).
        """
        if self._signer is None:
            raise FailedPrecondition("this audit store has no tree-head signer")
        async with self._append_lock, self._conn() as conn:
            async with conn.transaction():
                frontier, latest = await self._lock_and_load(conn)
                if latest is not None and latest.tree_size == frontier.size and not force:
                    return latest
                sth = await self._insert_sth(conn, frontier, latest)
            self._cache.frontier = frontier
        return sth

    async def _lock_and_load(self, conn: AsyncConnection) -> tuple[CompactRange, SignedTreeHead | None]:
        """Take the writer lock (until commit) and return the current frontier and latest tree head.

        When the frontier is (re)loaded from the tables, the stored tree must still give the latest
        signed root: a writer never signs on top of a tree that was altered under it (StorageCorrupted).
        """
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        size = await self._size(conn)
        latest = await self._latest_sth(conn)
        frontier = self._cache.frontier
        if frontier is None or frontier.size != size:
            if latest is not None and latest.tree_size > size:
                raise StorageCorrupted(f"the log has {size} leaves but a tree head signed {latest.tree_size}")
            frontier = await self._load_frontier(conn, size)
            if latest is not None:
                root = (frontier.root() if latest.tree_size == size
                        else await self._root(conn, latest.tree_size))
                if root != latest.root_hash:
                    raise StorageCorrupted(
                        f"the stored tree at size {latest.tree_size} has root {root.hex()}, but the signed "
                        f"tree head says {latest.root_hash.hex()}: the log's tables were altered")
        return frontier, latest

    async def _insert_sth(
        self, conn: AsyncConnection, frontier: CompactRange, latest: SignedTreeHead | None
    ) -> SignedTreeHead:
        assert self._signer is not None
        timestamp = now_ms() if latest is None else max(now_ms(), latest.timestamp)
        sth = self._signer.sign(frontier.size, frontier.root(), timestamp)
        await conn.execute(
            f"INSERT INTO audit_tree_heads ({_STH_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",
            (sth.log_id, sth.tree_size, sth.root_hash, sth.timestamp, sth.signature),
        )
        return sth

    @staticmethod
    async def _copy_leaves(conn: AsyncConnection, first_index: int, new: Sequence[PreparedRecord]) -> None:
        async with conn.cursor() as cur, cur.copy(
            "COPY audit_leaves (idx, record_id, leaf_hash, canonical, at) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "text", "bytea", "text", "timestamptz"])
            for offset, p in enumerate(new):
                await copy.write_row((first_index + offset, p.record_id, p.leaf_hash, p.canonical, p.at))

    @staticmethod
    async def _copy_nodes(conn: AsyncConnection, created: Sequence[tuple[int, int, bytes]]) -> None:
        if not created:
            return
        async with conn.cursor() as cur, cur.copy(
            "COPY audit_nodes (level, idx, hash) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int2", "int8", "bytea"])
            for row in created:
                await copy.write_row(row)

    # -----------------------------------------------------------------------------------------------
    # tree state

    @staticmethod
    async def _size(conn: AsyncConnection) -> int:
        cur = await conn.execute("SELECT idx FROM audit_leaves ORDER BY idx DESC LIMIT 1")
        row = await cur.fetchone()
        return 0 if row is None else int(row[0]) + 1

    async def size(self) -> int:
        """Number of leaves appended (committed), signed or not."""
        async with self._conn() as conn, conn.transaction():
            return await self._size(conn)

    async def _load_frontier(self, conn: AsyncConnection, size: int) -> CompactRange:
        ids = merkle.frontier_ids(size)
        found = await self._fetch_nodes(conn, ids)
        return CompactRange(size, [found[i] for i in ids])

    @staticmethod
    async def _fetch_nodes(conn: AsyncConnection, ids: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """Hashes of perfect nodes (leaves from audit_leaves); raises StorageCorrupted if any is missing."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        leaves = [n.index for n in wanted if n.level == 0]
        inner = [n for n in wanted if n.level > 0]
        # One round trip; not prepared, as a generic plan cached while the table was small seq-scans.
        cur = await conn.execute(
            "SELECT 0::smallint, idx, leaf_hash FROM audit_leaves WHERE idx = ANY(%s::bigint[]) "
            "UNION ALL "
            "SELECT n.level, n.idx, n.hash FROM audit_nodes n "
            "JOIN unnest(%s::smallint[], %s::bigint[]) AS w(level, idx) "
            "ON n.level = w.level AND n.idx = w.idx",
            (leaves, [n.level for n in inner], [n.index for n in inner]), prepare=False,
        )
        found = {NodeId(int(level), int(idx)): bytes(h) for level, idx, h in await cur.fetchall()}
        missing = [n for n in wanted if n not in found]
        if missing:
            raise StorageCorrupted(f"audit log storage is missing tree nodes {missing[:5]}")
        return found

    async def _resolve(self, conn: AsyncConnection, nodes: Sequence[NodeId], size: int) -> list[bytes]:
        found = await self._fetch_nodes(conn, merkle.required_perfect_nodes(nodes, size))
        return merkle.resolve_proof(nodes, size, found)

    async def _root(self, conn: AsyncConnection, size: int) -> bytes:
        return merkle.fold_right(await self._resolve(conn, merkle.frontier_ids(size), size))

    async def root(self, size: int | None = None) -> bytes:
        """Merkle root of the first `size` leaves (default: all), from the persisted nodes."""
        async with self._conn() as conn, conn.transaction():
            current = await self._size(conn)
            size = current if size is None else size
            if not 0 <= size <= current:
                raise InvalidInput(f"tree size {size} is beyond the log's {current} leaves")
            return await self._root(conn, size)

    # -----------------------------------------------------------------------------------------------
    # tree heads

    @staticmethod
    async def _latest_sth(conn: AsyncConnection) -> SignedTreeHead | None:
        cur = await conn.execute(f"SELECT {_STH_COLUMNS} FROM audit_tree_heads ORDER BY seq DESC LIMIT 1")
        row = await cur.fetchone()
        return None if row is None else _sth_from_row(row)

    async def latest_tree_head(self) -> SignedTreeHead | None:
        async with self._conn() as conn, conn.transaction():
            return await self._latest_sth(conn)

    async def tree_head(self, size: int | None = None) -> SignedTreeHead:
        """The latest signed tree head, or the first one signed at exactly `size`; NotFound otherwise."""
        async with self._conn() as conn, conn.transaction():
            if size is None:
                sth = await self._latest_sth(conn)
                if sth is None:
                    raise NotFound("no tree head has been signed yet")
                return sth
            return await self._sth_at(conn, size)

    @staticmethod
    async def _sth_at(conn: AsyncConnection, size: int) -> SignedTreeHead:
        cur = await conn.execute(
            f"SELECT {_STH_COLUMNS} FROM audit_tree_heads WHERE tree_size = %s ORDER BY seq LIMIT 1", (size,)
        )
        row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no tree head was signed at size {size}")
        return _sth_from_row(row)

    async def tree_heads(self, *, max_size: int | None = None) -> list[SignedTreeHead]:
        """Every signed tree head (up to `max_size`), oldest first."""
        async with self._conn() as conn, conn.transaction():
            return await self._tree_heads(conn, max_size)

    @staticmethod
    async def _tree_heads(conn: AsyncConnection, max_size: int | None) -> list[SignedTreeHead]:
        cur = await conn.execute(
            f"SELECT {_STH_COLUMNS} FROM audit_tree_heads WHERE %s::bigint IS NULL OR tree_size <= %s "
            "ORDER BY seq",
            (max_size, max_size),
        )
        return [_sth_from_row(r) for r in await cur.fetchall()]

    # -----------------------------------------------------------------------------------------------
    # reading

    async def get_entry(self, index: int) -> LogEntry:
        async with self._conn() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT idx, leaf_hash, canonical, appended_at FROM audit_leaves WHERE idx = %s", (index,)
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no log entry at index {index}")
        return _entry(row)

    async def query(self, q: LogQuery, *, page_size: int = 100, page_token: str = "",
                    descending: bool = False) -> QueryPage:
        """Entries matching `q` in index order (or reverse), one page at a time (keyset paging).

        `page_token` is the previous page's `next_page_token`. Raises InvalidInput for a bad token or
        a page size outside 1..MAX_PAGE.
        """
        if not 1 <= page_size <= MAX_PAGE:
            raise InvalidInput(f"page_size must be 1..{MAX_PAGE}, got {page_size}")
        after: int | None = None
        if page_token:
            try:
                after = int(page_token)
            except ValueError:
                raise InvalidInput(f"bad page_token {page_token!r}") from None
        conditions: list[sql.Composable] = []
        params: list[Any] = []
        for key, value in (("user", q.user), ("agency", q.agency), ("case_id", q.case_id),
                           ("action", q.action), ("authorization_id", q.authorization_id)):
            if value is not None:
                conditions.append(sql.SQL("record->>{} = %s").format(sql.Literal(key)))
                params.append(value)
        if q.allowed is not None:
            conditions.append(sql.SQL("record->>'allowed' = %s"))
            params.append("true" if q.allowed else "false")
        if q.snapshot_ids:
            conditions.append(sql.SQL("record->'resource' ? 'snapshot_id'"
                                      " AND record->'resource'->>'snapshot_id' = ANY(%s)"))
            params.append(list(q.snapshot_ids))
        if q.below_index is not None:
            conditions.append(sql.SQL("idx < %s"))
            params.append(q.below_index)
        if q.time_from is not None:
            conditions.append(sql.SQL("at >= %s"))
            params.append(q.time_from)
        if q.time_to is not None:
            conditions.append(sql.SQL("at < %s"))
            params.append(q.time_to)
        if after is not None:
            conditions.append(sql.SQL("idx < %s" if descending else "idx > %s"))
            params.append(after)
        where = sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("TRUE")
        query = sql.SQL(
            "SELECT idx, leaf_hash, canonical, appended_at FROM audit_leaves "
            "WHERE {} ORDER BY idx {} LIMIT %s"
        ).format(where, sql.SQL("DESC" if descending else "ASC"))
        params.append(page_size + 1)
        async with self._conn() as conn, conn.transaction():
            cur = await conn.execute(query, params)
            rows = await cur.fetchall()
        entries = [_entry(r) for r in rows[:page_size]]
        token = str(entries[-1].index) if len(rows) > page_size else ""
        return QueryPage(entries, token)

    # -----------------------------------------------------------------------------------------------
    # proofs

    async def _proof_size(self, conn: AsyncConnection, size: int | None) -> tuple[int, SignedTreeHead | None]:
        """The tree size to prove against: given, or the latest signed one."""
        if size is None:
            latest = await self._latest_sth(conn)
            if latest is None:
                raise FailedPrecondition("no tree head has been signed yet")
            return latest.tree_size, latest
        current = await self._size(conn)
        if not 0 <= size <= current:
            raise InvalidInput(f"tree size {size} is beyond the log's {current} leaves")
        try:
            return size, await self._sth_at(conn, size)
        except NotFound:
            return size, None

    async def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        """Proof that leaf `index` is in the tree of `size` (default: the latest signed tree head).

        Raises InvalidInput when index >= size, FailedPrecondition when nothing has been signed.
        """
        async with self._conn() as conn, conn.transaction():
            tree_size, sth = await self._proof_size(conn, size)
            if not 0 <= index < tree_size:
                raise InvalidInput(f"leaf index {index} is not in a tree of size {tree_size}")
            return await self._inclusion(conn, index, tree_size, sth)

    async def inclusion_proof_by_hash(self, leaf_hash: bytes, size: int | None = None) -> InclusionProof:
        """Like `inclusion_proof`, for the leaf with this hash; NotFound if it is not in that tree."""
        async with self._conn() as conn, conn.transaction():
            tree_size, sth = await self._proof_size(conn, size)
            cur = await conn.execute(
                "SELECT idx FROM audit_leaves WHERE leaf_hash = %s AND idx < %s ORDER BY idx LIMIT 1",
                (leaf_hash, tree_size),
            )
            row = await cur.fetchone()
            if row is None:
                raise NotFound(f"no leaf with hash {leaf_hash.hex()} in a tree of size {tree_size}")
            return await self._inclusion(conn, int(row[0]), tree_size, sth)

    async def _inclusion(self, conn: AsyncConnection, index: int, size: int,
                         sth: SignedTreeHead | None) -> InclusionProof:
        path = merkle.inclusion_proof_nodes(index, size)
        frontier = merkle.frontier_ids(size)
        wanted = [NodeId(0, index), *path, *frontier]
        found = await self._fetch_nodes(conn, merkle.required_perfect_nodes(wanted, size))
        hashes = merkle.resolve_proof(path, size, found)
        root = merkle.fold_right([found[n] for n in frontier])
        return InclusionProof(index, size, found[NodeId(0, index)], hashes, root, sth)

    async def consistency_proof(self, size1: int, size2: int | None = None) -> ConsistencyProof:
        """Proof that the tree of size2 (default: latest signed) extends the tree of size1."""
        async with self._conn() as conn, conn.transaction():
            size2, _ = await self._proof_size(conn, size2)
            if not 0 <= size1 <= size2:
                raise InvalidInput(f"first size {size1} must be within 0..{size2}")
            path = merkle.consistency_proof_nodes(size1, size2)
            front1, front2 = merkle.frontier_ids(size1), merkle.frontier_ids(size2)
            needed = merkle.required_perfect_nodes([*path, *front2], size2) + front1
            found = await self._fetch_nodes(conn, needed)
            hashes = merkle.resolve_proof(path, size2, found)
            root1 = merkle.fold_right([found[n] for n in front1])
            root2 = merkle.fold_right([found[n] for n in front2])
        return ConsistencyProof(size1, size2, hashes, root1, root2)

    # -----------------------------------------------------------------------------------------------
    # export

    async def export(self, out: IO[bytes], *, tree_size: int | None = None,
                     chunk_rows: int = 10_000) -> ExportSummary:
        """Write the log as JSON lines for an offline verifier (see `verify.py` for the format).

        Exports the leaves up to `tree_size`, which must be a signed size (default: the latest signed
        tree head), and every tree head signed up to it, from one consistent snapshot.
        """
        written = 0

        def emit(data: bytes) -> None:
            nonlocal written
            out.write(data)
            written += len(data)

        async with self._conn() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            if tree_size is None:
                latest = await self._latest_sth(conn)
                if latest is None:
                    raise FailedPrecondition("no tree head has been signed yet: nothing to export")
                tree_size = latest.tree_size
            else:
                await self._sth_at(conn, tree_size)  # NotFound unless signed at that size
            heads = await self._tree_heads(conn, tree_size)
            header: dict[str, Any] = {
                "type": "header", "format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                "hash": "sha256", "leaf": "sha256(0x00 || record)", "tree_size": tree_size,
                "tree_heads": len(heads), "log_id": heads[-1].log_id, "exported_at": utc_now_iso(),
            }
            if self._signer is not None:
                header["public_key"] = public_key_b64(self._signer.public_key)
            emit(canonical_json(header) + b"\n")
            for sth in heads:
                emit(canonical_json({"type": "sth", **sth.to_dict()}) + b"\n")
            start = 0
            while start < tree_size:
                stop = min(start + chunk_rows, tree_size)
                cur = await conn.execute(
                    "SELECT idx, leaf_hash, canonical FROM audit_leaves WHERE idx >= %s AND idx < %s "
                    "ORDER BY idx", (start, stop), binary=True,
                )
                lines = []
                for idx, h, canonical in await cur.fetchall():
                    lines.append(b'{"type":"leaf","index":%d,"leaf_hash":"%s","record":%s}\n'
                                 % (idx, bytes(h).hex().encode("ascii"), canonical.encode("utf-8")))
                emit(b"".join(lines))
                start = stop
        return ExportSummary(tree_size, len(heads), written)


def _entry(row: Sequence[Any]) -> LogEntry:
    idx, h, canonical, appended_at = row
    return LogEntry(int(idx), bytes(h), canonical.encode("utf-8"), appended_at)


def sth_json(sth: SignedTreeHead) -> str:
    """One tree head as the JSON a witness or the verifier's `--sth` takes."""
    return json.dumps(sth.to_dict(), sort_keys=True)

