"""Fixtures of the audit tests: one fresh database per test on the shared real PostgreSQL
(`postgres_url` from services/tests/conftest.py), a migrated store and access-record factories."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool

from basira.audit.sth import TreeHeadSigner
from basira.audit.store import AuditStore
from basira.common.access_record import AccessRecord


@pytest.fixture
def db_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty database for one test (dropped afterwards)."""
    name = f"audit_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(postgres_url, dbname=name)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def signer() -> TreeHeadSigner:
    return TreeHeadSigner(Ed25519PrivateKey.generate(), log_id="basira-test-log")


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[AsyncConnectionPool]:
    async with AsyncConnectionPool(db_url, min_size=1, max_size=4) as p:
        yield p


@pytest.fixture
async def store(pool: AsyncConnectionPool, signer: TreeHeadSigner) -> AuditStore:
    audit = AuditStore(pool, signer)
    await audit.migrate()
    return audit


@pytest.fixture
def make_record() -> Callable[..., AccessRecord]:
    """`make_record(i, **overrides)`: a realistic access record, distinct per `i`."""

    def make(i: int, **overrides: object) -> AccessRecord:
        fields: dict[str, object] = {
            "action": ["search.face", "search.plate", "alert.confirm"][i % 3],
            "user": f"officer-{i % 5}",
            "agency": ["police", "customs"][i % 2],
            "roles": ["investigator"],
            "allowed": i % 4 != 0,
            "reasons": [] if i % 4 else ["no authorization for biometric search"],
            "resource": {"cameras": [f"cam-{i % 7}"], "zone": "medina", "data_class": "biometric"},
            "purpose": "theft-investigation",
            "case_id": f"CASE-2026-{i % 3:04d}",
            "authorization_id": "AUTH-7",
            "result_count": i % 10,
            "policy_revision": "rev-1",
            "service": "search",
            "method": "/basira.v1.SearchService/SearchFace",
            "time": f"2026-03-{1 + i // 1000 % 28:02d}T10:{i // 60 % 60:02d}:{i % 60:02d}.000000Z",
            "id": f"rec-{i:08d}",
        }
        fields.update(overrides)
        return AccessRecord(**fields)  # type: ignore[arg-type]

    return make
