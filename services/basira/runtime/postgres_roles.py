"""One PostgreSQL role per service, allowed only its own tables (issue 10; DESIGN §9).

The supervisor applies each service's migrations itself, as a role that cannot log in and owns that
service's tables (`basira_<service>_owner`). Each service then logs in as `basira_<service>`, with a
password of its own (a passfile under `<data dir>/keys/postgres`, never in a URL or the environment),
and holds only the row rights it uses on its own tables: reading, writing and deleting its rows; the
audit service only reading and appending, so not even it can change, empty or drop the log or turn
its append-only triggers off (they belong to the owner). A service taken over through its queries
reads nothing of another's: search cannot read the access log, ingest no faces. Each service's tables
carry its prefix (`SERVICE_TABLES`), which is how tables made before roles existed are handed over.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from basira.common.db import MIGRATIONS_TABLE, migrate, open_pool
from basira.runtime.postgres import DATABASE, ensure_passfile

PACKAGES = Path(__file__).resolve().parents[1]
# Each database service's migrations: (the name they are recorded under, their directory).
SERVICE_MIGRATIONS: dict[str, tuple[str, Path]] = {
    "audit": ("audit", PACKAGES / "audit" / "migrations"),
    "ingest": ("ingest", PACKAGES / "ingest" / "migrations"),
    "analytics": ("watchlists", PACKAGES / "watchlists" / "migrations"),  # analytics hosts watchlists
    "search": ("search", PACKAGES / "search" / "migrations"),
    "alerting": ("alerting", PACKAGES / "alerting" / "migrations"),
}
SERVICE_TABLES: dict[str, tuple[str, ...]] = {
    "audit": ("audit_",), "ingest": ("ingest_",), "analytics": ("watchlists_", "analytics_"),
    "search": ("search_",), "alerting": ("alerting_",),
}
ROW_RIGHTS: dict[str, tuple[str, ...]] = {"audit": ("SELECT", "INSERT")}
DEFAULT_ROW_RIGHTS = ("SELECT", "INSERT", "UPDATE", "DELETE")
AUDIT_GROUPS = ("basira_audit_writer", "basira_audit_reader")  # made here: the owner may not make roles


def login_role(service: str) -> str:
    return f"basira_{service}"


def owner_role(service: str) -> str:
    return f"basira_{service}_owner"


def prepare_service_databases(operator_url: str, passfiles: Path, services: tuple[str, ...]
                              ) -> dict[str, str]:
    """Make (or bring up to date) every service's roles, apply its migrations as its owner and grant
    its login role its row rights; return each service's database URL."""
    wanted = [s for s in services if s in SERVICE_MIGRATIONS]
    urls: dict[str, str] = {}
    with psycopg.connect(operator_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('basira-migrate'))")
        for group in AUDIT_GROUPS:
            _ensure_role(conn, group)
        conn.execute(MIGRATIONS_TABLE)  # the operator's; every role may read it and add its rows
        for service in wanted:
            passfile, password = ensure_passfile(passfiles, login_role(service))
            _ensure_role(conn, owner_role(service))
            _ensure_role(conn, login_role(service), password=password)
            for role in (owner_role(service), login_role(service)):
                conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(DATABASE), sql.Identifier(role)))
                conn.execute(sql.SQL("GRANT SELECT, INSERT ON schema_migrations TO {}").format(
                    sql.Identifier(role)))
            conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(
                sql.Identifier(owner_role(service))))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(
                sql.Identifier(login_role(service))))
            _hand_over(conn, service)
            urls[service] = make_conninfo(operator_url, user=login_role(service), passfile=str(passfile))
        conn.execute("SELECT pg_advisory_unlock(hashtext('basira-migrate'))")
    for service in wanted:
        owner_url = make_conninfo(operator_url, options=f"-c role={owner_role(service)}")
        asyncio.run(_migrate(owner_url, service))
    with psycopg.connect(operator_url, autocommit=True) as conn:
        for service in wanted:
            _grant_rows(conn, service)
    return urls


def _ensure_role(conn: psycopg.Connection, role: str, *, password: str | None = None) -> None:
    """A role (NOLOGIN without a password); a login role's password follows its passfile."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if password is None:
        if not exists:
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        return
    verb = "ALTER" if exists else "CREATE"
    conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
        sql.Identifier(role), sql.Literal(password)))


def _relations(conn: psycopg.Connection, service: str, kinds: str) -> list[tuple[str, str, str]]:
    """(name, kind, owner) of the public relations with the service's table prefixes."""
    rows = conn.execute(
        "SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
        "AND c.relkind = ANY(%s) AND c.relname LIKE ANY(%s)",
        (list(kinds), [f"{prefix}%" for prefix in SERVICE_TABLES[service]])).fetchall()
    return [(str(name), str(kind), str(owner)) for name, kind, owner in rows]


def _hand_over(conn: psycopg.Connection, service: str) -> None:
    """Tables made before per-service roles (by the superuser) become the service owner's."""
    verbs = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}
    for name, kind, owner in _relations(conn, service, "rpvm"):
        if owner != owner_role(service):
            conn.execute(sql.SQL("ALTER " + verbs[kind] + " {} OWNER TO {}").format(
                sql.Identifier(name), sql.Identifier(owner_role(service))))


async def _migrate(url: str, service: str) -> None:
    pool = await open_pool(url, max_size=1)
    try:
        await migrate(pool, *SERVICE_MIGRATIONS[service])
    finally:
        await pool.close()


def _grant_rows(conn: psycopg.Connection, service: str) -> None:
    rights = sql.SQL(", ").join(sql.SQL(r) for r in ROW_RIGHTS.get(service, DEFAULT_ROW_RIGHTS))
    login = sql.Identifier(login_role(service))
    for name, kind, _ in _relations(conn, service, "rpvmS"):
        if kind == "S":
            conn.execute(sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(
                sql.Identifier(name), login))
        else:
            conn.execute(sql.SQL("GRANT {} ON {} TO {}").format(rights, sql.Identifier(name), login))

