"""A service started against a dead dependency fails fast with a message, and obeys SIGTERM meanwhile."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_search(nats_port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "BASIRA_NATS_URL": f"nats://127.0.0.1:{nats_port}", "BASIRA_GRPC_PORT": "0",
           "BASIRA_DATABASE_URL": "postgresql://nobody@/none?host=/nonexistent"}
    return subprocess.Popen([sys.executable, "-m", "basira.search"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_unreachable_nats_fails_start_up_with_a_message() -> None:
    proc = _start_search(_dead_port())
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "cannot reach NATS at nats://127.0.0.1:" in stderr


def _catches(pid: int, sig: signal.Signals) -> bool:
    """True once the process has installed a handler for `sig` (its SigCgt mask in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


def test_sigterm_while_connecting_stops_at_once() -> None:
    proc = _start_search(_dead_port())
    deadline = time.monotonic() + 60  # a loaded machine may take seconds to import the service
    while not _catches(proc.pid, signal.SIGTERM) and time.monotonic() < deadline:
        assert proc.poll() is None, "the service ended before it could be asked to stop"
        time.sleep(0.05)
    time.sleep(0.5)  # now inside the connection attempt
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    # 0, not the start-up failure's 2: it stopped because it was asked to, before giving up on NATS.
    assert proc.returncode == 0
