"""Watchlist test fixtures: the migrated `watchlists_*` tables on the real PostgreSQL, and JetStream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext

from basira.common.db import migrate, open_pool
from basira.watchlists.store import WatchlistStore
from services.tests.support.jetstream import jetstream_session

MIGRATIONS = Path(__file__).resolve().parents[2] / "basira" / "watchlists" / "migrations"


@pytest.fixture
async def watchlist_store(postgres_url: str) -> AsyncIterator[WatchlistStore]:
    pool = await open_pool(postgres_url, max_size=4)
    await migrate(pool, "watchlists", MIGRATIONS)
    yield WatchlistStore(pool)
    await pool.close()


@pytest.fixture
async def nats_js(nats_url: str) -> AsyncIterator[tuple[Any, JetStreamContext]]:
    async with jetstream_session(nats_url, "watchlist-tests") as (nc, js):
        yield nc, js


@pytest.fixture
def agency() -> str:
    """A fresh agency name per test, so tests sharing the database never see each other's entries."""
    return f"agency-{uuid.uuid4().hex[:8]}"
