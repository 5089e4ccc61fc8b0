"""End-to-end fixtures: the whole platform started by `basira.runtime` (real servers, real processes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from basira.runtime.supervisor import Platform, PlatformConfig

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The embedded platform, once per session, stopped at the end."""
    config = PlatformConfig.from_env(data_dir=tmp_path_factory.mktemp("platform"))
    config.nats_url = config.database_url = config.policy_url = config.oidc_url = ""
    running = Platform(config)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"test data not found at {SHARED_DATA}")
    return SHARED_DATA
