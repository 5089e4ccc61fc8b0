"""A real PostgreSQL for the audit tests (pgserver), until a shared fixture replaces it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URI of a superuser connection to a throw-away server (Unix socket, data dir under /tmp).

    The data dir is under /tmp because, run as root, pgserver starts postgres as its own system user,
    which must be able to reach it.
    """
    pgserver = pytest.importorskip("pgserver")
    data_dir = tempfile.mkdtemp(prefix="basira-audit-pg-", dir="/tmp")
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)
