"""Start/stop of the embedded runtime: nothing left behind, data reused, bad configuration fails fast."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from basira.cli.main import build_parser, up_config
from basira.common.channels import open_channel
from basira.common.errors import ConfigError
from basira.runtime.supervisor import Platform, PlatformConfig

pytestmark = pytest.mark.integration


def _core_only(data_dir: Path) -> Platform:
    config = PlatformConfig.from_env(data_dir=data_dir)
    config.nats_url = config.database_url = config.policy_url = config.oidc_url = ""
    config.services = ()
    return Platform(config)


def test_stop_leaves_no_process_and_second_start_reuses_data(scratch_dir: Path) -> None:
    first = _core_only(scratch_dir)
    first.start()
    pids = [p.pid for p in first.processes]
    assert len(pids) == 4 and all(psutil.pid_exists(pid) for pid in pids)
    with psycopg.connect(first.endpoints["postgres"], autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    first.stop()
    certificates = {path.name: path.read_bytes() for path in first.tls_dir.glob("*.pem")}
    assert {"ca.pem", "nats.pem"} <= set(certificates)
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                   for pid in pids)

    second = _core_only(scratch_dir)
    second.start()
    try:
        with psycopg.connect(second.endpoints["postgres"]) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == ("still here",)
        assert all((second.tls_dir / name).read_bytes() == pem for name, pem in certificates.items())
    finally:
        second.stop()


def test_taken_port_fails_fast_naming_it(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        platform = _core_only(tmp_path)
        platform.config.ports["policy"] = port
        with pytest.raises(ConfigError, match=f"port {port} for policy"):
            platform.preflight()


def test_unreachable_external_url_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    platform = _core_only(tmp_path)
    platform.config.nats_url = f"nats://127.0.0.1:{dead_port}"
    with pytest.raises(ConfigError, match=r"NATS at nats://127\.0\.0\.1"):
        platform.preflight()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; checked via a file path below")
def test_unwritable_data_dir_fails_fast_as_user(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ConfigError, match="not writable"):
        _core_only(locked / "var").preflight()


def test_data_dir_that_is_a_file_fails_fast(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="not writable"):
        _core_only(blocker / "var").preflight()


def test_cli_reports_bad_configuration_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = subprocess.run([sys.executable, "-m", "basira.cli.main", "up", "--data-dir",
                           str(blocker / "var")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "not writable" in done.stderr and "Traceback" not in done.stderr


def test_up_serves_tls_unless_told_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    """TLS is the default of `basira up` (and so of `make demo`); plaintext only when asked for."""
    monkeypatch.delenv("BASIRA_TLS", raising=False)
    parser = build_parser()
    assert up_config(parser.parse_args(["up"])).tls is True
    assert up_config(parser.parse_args(["up", "--no-tls"])).tls is False
    monkeypatch.setenv("BASIRA_TLS", "0")
    assert up_config(parser.parse_args(["up"])).tls is False
    assert up_config(parser.parse_args(["up", "--tls"])).tls is True


def test_a_crashed_service_is_restarted_and_serves_again(scratch_dir: Path) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    platform = _core_only(scratch_dir)
    platform.config.services = ("search",)
    platform.start()
    try:
        search = next(p for p in platform.processes if p.name == "search")
        old_pid = search.pid
        os.kill(old_pid, 9)
        search.proc.wait(10)  # type: ignore[union-attr]
        assert platform.restart_dead() == ["search"]
        assert search.pid != old_pid

        def serving() -> bool:
            try:
                with open_channel(platform.endpoints["search"],
                                  tls=platform.tls_files("basira-up")) as channel:
                    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                                      timeout=2)
                return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
            except grpc.RpcError:
                return False

        deadline = time.monotonic() + 60
        while not serving():
            assert time.monotonic() < deadline, "the restarted service never served"
            time.sleep(0.3)
    finally:
        platform.stop()
