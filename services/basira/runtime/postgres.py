"""A real PostgreSQL (with pgvector) from the `pgserver` wheel, supervised as a child process.

pgserver's binaries are used directly so the supervisor owns the server's life: it stops with
`basira down`/Ctrl-C and never outlives the platform. Unix socket only (DESIGN §9).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from basira.common.errors import ConfigError, Unavailable
from basira.runtime.processes import ManagedProcess

DATABASE = "basira"
SYSTEM_USER = "pgserver"  # postgres refuses to run as root; same user pgserver itself creates


def _bin(name: str) -> str:
    try:
        from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise ConfigError("pgserver is not installed: run `make venv`") from exc
    return str(POSTGRES_BIN_PATH / name)


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def _grant(path: Path, user: str | None) -> None:
    if user is None:
        return
    import pwd

    from pgserver.utils import ensure_prefix_permissions

    record = pwd.getpwnam(user)
    ensure_prefix_permissions(path)
    os.chown(path, record.pw_uid, record.pw_gid)


def _run(argv: list[str], user: str | None) -> None:
    import pwd

    def demote() -> None:
        if user is not None:
            record = pwd.getpwnam(user)
            os.setgid(record.pw_gid)
            os.setuid(record.pw_uid)

    done = subprocess.run(argv, capture_output=True, text=True, preexec_fn=demote, timeout=120)
    if done.returncode != 0:
        raise Unavailable(f"{Path(argv[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")


def database_url(socket_dir: Path, database: str = DATABASE) -> str:
    return f"postgresql://postgres@/{database}?host={socket_dir}"


def start_postgres(data_dir: Path, *, timeout_s: float = 60.0) -> tuple[ManagedProcess, str]:
    """Initialise (first time) and start PostgreSQL under `data_dir/postgres`; return (process, URL).

    A second start reuses the data. Raises Unavailable with the server log if it does not come up.
    """
    pgdata = data_dir / "postgres"
    socket_dir = data_dir / "run" / "pg"
    user = _system_user()
    socket_dir.mkdir(parents=True, exist_ok=True)
    _grant(socket_dir, user)
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        _grant(pgdata, user)
        _run([_bin("initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8",
              "--locale=C"], user)
    stale_pid = pgdata / "postmaster.pid"
    if stale_pid.exists():
        stale_pid.unlink()
    # The socket is the only way in, and only the platform's own user may open it (not every local
    # user, as with the default 0777 and trust authentication).
    argv = [_bin("postgres"), "-D", str(pgdata), "-k", str(socket_dir), "-c", "listen_addresses=",
            "-c", "unix_socket_permissions=0700",
            "-c", "max_connections=200", "-c", "shared_buffers=128MB", "-c", "fsync=on"]
    proc = ManagedProcess("postgres", argv, data_dir / "logs" / "postgres.log", run_as=user)
    if user is not None:
        log_dir = proc.log_path.parent
        log_dir.mkdir(parents=True, exist_ok=True)
    proc.start()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not proc.alive():
            raise Unavailable(f"PostgreSQL exited at start:\n{proc.log_tail()}")
        if (socket_dir / ".s.PGSQL.5432").exists():
            try:
                _ensure_database(socket_dir)
                return proc, database_url(socket_dir)
            except Exception:
                pass
        time.sleep(0.1)
    proc.stop()
    raise Unavailable(f"PostgreSQL did not become ready within {timeout_s}s:\n{proc.log_tail()}")


def _ensure_database(socket_dir: Path) -> None:
    import psycopg

    with psycopg.connect(database_url(socket_dir, "postgres"), autocommit=True, connect_timeout=3) as c:
        exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if not exists:
            c.execute(f"CREATE DATABASE {DATABASE}")
    with psycopg.connect(database_url(socket_dir), autocommit=True, connect_timeout=3) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")
