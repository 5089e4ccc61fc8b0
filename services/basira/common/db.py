"""PostgreSQL access: a connection pool and per-service migrations (`<package>/migrations/NNN_*.sql`)."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from basira.common.errors import Unavailable

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    service text NOT NULL,
    version text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, version)
)
"""


WAIT_FOR_CONNECTION_S = 5.0
"""How long a request waits for a pooled connection before failing with Unavailable: shorter than a
caller's usual deadline, so a database outage answers UNAVAILABLE rather than DEADLINE_EXCEEDED."""


async def open_pool(url: str, *, min_size: int = 1, max_size: int = 8, timeout_s: float = 10.0
                    ) -> AsyncConnectionPool:
    """Open a pool and check one connection; raises Unavailable naming the database if it can't.

    Each connection is checked as it leaves the pool, so after a database restart requests get fresh
    connections instead of failing on the dead ones.
    """
    pool = AsyncConnectionPool(url, min_size=min_size, max_size=max_size, open=False,
                               kwargs={"autocommit": True}, timeout=WAIT_FOR_CONNECTION_S,
                               check=AsyncConnectionPool.check_connection)
    try:
        await pool.open(wait=True, timeout=timeout_s)
    except (psycopg.Error, TimeoutError, OSError) as exc:
        await pool.close()
        raise Unavailable(f"cannot reach PostgreSQL ({redact(url)}): {exc}") from exc
    return pool


def database_down(exc: BaseException) -> Unavailable | None:
    """The Unavailable to answer when `exc` says the database cannot serve (down, restarting, no
    connection free in time, out of disk); None for any other error. The message names no internals."""
    if isinstance(exc, (psycopg.OperationalError, PoolTimeout)):
        return Unavailable("the database cannot be reached right now; no data was returned (retry later)")
    return None


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.split("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


def migration_files(directory: Path) -> list[Path]:
    """SQL files in apply order (by name: `001_x.sql`, `002_y.sql`, ...)."""
    return sorted(p for p in directory.glob("*.sql") if p.name[:3].isdigit())


async def migrate(pool: AsyncConnectionPool, service: str, directory: Path) -> list[str]:
    """Apply the service's pending migrations, each in a transaction, under an advisory lock.

    Returns the versions applied now (empty if up to date).
    """
    applied_now: list[str] = []
    async with pool.connection() as conn, conn.transaction():
        # Services start together: serialise them before even creating the bookkeeping table.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('basira-migrate'))")
        # A service that logs in with row rights only (basira.runtime.postgres_roles) may not create
        # tables: only make the bookkeeping table when it is missing.
        found = await (await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")).fetchone()
        if not (found and found[0]):
            await conn.execute(MIGRATIONS_TABLE)
        rows = await (await conn.execute(
            "SELECT version FROM schema_migrations WHERE service = %s", (service,))).fetchall()
        done = {r[0] for r in rows}
        for path in migration_files(directory):
            version = path.stem
            if version in done:
                continue
            await conn.execute(path.read_text())  # type: ignore[arg-type]
            await conn.execute("INSERT INTO schema_migrations (service, version) VALUES (%s, %s)",
                               (service, version))
            applied_now.append(version)
            log.info("migration applied", extra={"migration": f"{service}/{version}"})
    return applied_now
