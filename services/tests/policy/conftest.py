"""Fixtures of the policy tests: the repository's policy directory and a real server on loopback."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from basira.policy.api import start_server
from basira.policy.engine import load_policy_dir
from basira.policy.store import PolicyStore

REPO = Path(__file__).resolve().parents[3]
POLICY_DIR = REPO / "policy"


@pytest.fixture
def policy_dir() -> Path:
    return POLICY_DIR


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    """A private copy of the policy directory a test may edit."""
    target = tmp_path / "policy"
    shutil.copytree(POLICY_DIR, target)
    return target


@pytest.fixture
def store() -> PolicyStore:
    return PolicyStore(load_policy_dir(POLICY_DIR))


@pytest.fixture
async def server(store: PolicyStore) -> AsyncIterator[tuple[str, int, PolicyStore]]:
    """The policy service on 127.0.0.1 and a free port: (host, port, store)."""
    runner, port = await start_server(store, "127.0.0.1", 0)
    try:
        yield "127.0.0.1", port, store
    finally:
        await runner.cleanup()
