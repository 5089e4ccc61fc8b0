"""Shared fixtures: real servers (PostgreSQL, NATS JetStream) started once per test session."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from basira.runtime.nats_server import start_nats
from basira.runtime.postgres import start_postgres

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def runtime_dir() -> Iterator[Path]:
    """A world-traversable directory: PostgreSQL runs as its own user when tests run as root, and
    pytest's own temp root is private to the user running it."""
    path = Path(tempfile.mkdtemp(prefix="basira-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(runtime_dir: Path) -> Iterator[str]:
    """A real PostgreSQL (pgserver binaries, pgvector) for the whole session."""
    proc, url = start_postgres(runtime_dir)
    yield url
    proc.stop()


@pytest.fixture(scope="session")
def nats_url(runtime_dir: Path) -> Iterator[str]:
    """A real nats-server with JetStream for the whole session."""
    proc, url = start_nats(runtime_dir)
    yield url
    proc.stop()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"test data not found at {SHARED_DATA}")
    return SHARED_DATA
