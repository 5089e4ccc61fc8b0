"""A real PostgreSQL (with pgvector) from the `pgserver` wheel, supervised as a child process.

pgserver's binaries are used directly so the supervisor owns the server's life: it stops with
`basira down`/Ctrl-C and never outlives the platform. Unix socket only (DESIGN §9), reachable by the
platform's user alone, and every role logs in with a password (SCRAM): the superuser's is in a
passfile under `<data dir>/keys/postgres` (see postgres_roles for the services' own roles).
"""

from __future__ import annotations

import os
import secrets
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


def _run(argv: list[str], user: str | None, stdin: str | None = None) -> None:
    import pwd

    def demote() -> None:
        if user is not None:
            record = pwd.getpwnam(user)
            os.setgid(record.pw_gid)
            os.setuid(record.pw_uid)

    done = subprocess.run(argv, capture_output=True, text=True, preexec_fn=demote, timeout=120, input=stdin)
    if done.returncode != 0:
        raise Unavailable(f"{Path(argv[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")


SUPERUSER = "postgres"
HBA = "# written by basira.runtime.postgres: local socket only, every role with its password\n" \
      "local all all scram-sha-256\n"


def passfile_dir(data_dir: Path) -> Path:
    """Where each role's passfile is (libpq's format, 0600): the superuser's and each service's."""
    return data_dir / "keys" / "postgres"


def ensure_passfile(directory: Path, role: str) -> tuple[Path, str]:
    """`directory/<role>.pgpass` made once with a random password; (its path, the password)."""
    path = directory / f"{role}.pgpass"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"*:*:*:{role}:{secrets.token_hex(24)}\n")
    return path, path.read_text().strip().rsplit(":", 1)[1]


def database_url(socket_dir: Path, passfile: Path, database: str = DATABASE, role: str = SUPERUSER) -> str:
    """A libpq URL naming a passfile, so no password is in the URL, the environment or a log."""
    return f"postgresql://{role}@/{database}?host={socket_dir}&passfile={passfile}"


def _require_passwords(pgdata: Path, passfile_password: str, user: str | None) -> None:
    """Give the superuser its password and make every login need one (also for data directories
    made before passwords were required), through single-user mode: no login is needed for it."""
    hba = pgdata / "pg_hba.conf"
    if hba.exists() and hba.read_text() == HBA:
        return
    _run([_bin("postgres"), "--single", "-D", str(pgdata), "-c", "password_encryption=scram-sha-256",
          "postgres"], user, stdin=f"ALTER ROLE {SUPERUSER} PASSWORD '{passfile_password}';\n")
    hba.write_text(HBA)
    if user is not None:
        import pwd

        record = pwd.getpwnam(user)
        os.chown(hba, record.pw_uid, record.pw_gid)


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
    passfile, password = ensure_passfile(passfile_dir(data_dir), SUPERUSER)
    _require_passwords(pgdata, password, user)
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
                _ensure_database(socket_dir, passfile)
                return proc, database_url(socket_dir, passfile)
            except Exception:
                pass
        time.sleep(0.1)
    proc.stop()
    raise Unavailable(f"PostgreSQL did not become ready within {timeout_s}s:\n{proc.log_tail()}")


def _ensure_database(socket_dir: Path, passfile: Path) -> None:
    import psycopg

    with psycopg.connect(database_url(socket_dir, passfile, "postgres"), autocommit=True,
                         connect_timeout=3) as c:
        exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if not exists:
            c.execute(f"CREATE DATABASE {DATABASE}")
    with psycopg.connect(database_url(socket_dir, passfile), autocommit=True, connect_timeout=3) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")
