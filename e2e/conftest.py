"""End-to-end fixtures: the whole platform started by `basira.runtime` (real servers, real processes)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from basira.runtime.supervisor import GRPC_SERVICES, Platform

from .clients import own_platform

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def platform() -> Iterator[Platform]:
    """The embedded platform with every service and the console, once per session, stopped at the end
    with no process left behind."""
    env = {
        # A finished clip's last minute of counts is published after this much silence (default 90 s).
        "BASIRA_COUNT_IDLE_CLOSE_S": os.environ.get("BASIRA_COUNT_IDLE_CLOSE_S", "10"),
        # The crowd threshold (people a minute) of the lobby camera of e2e/test_city_scale.py.
        "BASIRA_COUNT_THRESHOLDS": os.environ.get(
            "BASIRA_COUNT_THRESHOLDS", '[{"camera_id": "cam-downtown-02", "persons_per_minute": 2}]'),
    }
    with own_platform("basira-e2e-", GRPC_SERVICES, env, console=True) as running:
        pids = [proc.pid for proc in running.processes]
        yield running
    left = [pid for pid in pids if psutil.pid_exists(pid)
            and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not left, f"processes left behind after stop: {left}"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    """A fresh world-traversable directory (PostgreSQL runs as its own user when tests run as root)."""
    path = Path(tempfile.mkdtemp(prefix="basira-e2e-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
