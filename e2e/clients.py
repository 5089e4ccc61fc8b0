"""What e2e tests use to act as a person: sign in to the identity issuer, call the public gRPC APIs."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from basira.cli.session import bearer_metadata, dev_user_token
from basira.common.channels import open_channel
from basira.runtime.supervisor import Platform, PlatformConfig
from basira.v1 import alert_pb2, alert_pb2_grpc, camera_pb2, camera_pb2_grpc


def metadata(platform: Platform, user: str) -> tuple[tuple[str, str]]:
    """Call metadata with a real access token of a development user."""
    return bearer_metadata(dev_user_token(platform.endpoints["identity"], user))


def channel(platform: Platform, service: str) -> grpc.Channel:
    return open_channel(platform.endpoints[service])


def register_camera(platform: Platform, camera: camera_pb2.Camera, *, start: bool = False) -> None:
    """Register a camera as the police camera administrator (and start its stream)."""
    stub = camera_pb2_grpc.CameraServiceStub(channel(platform, "ingest"))
    admin = metadata(platform, "police-admin")
    stub.RegisterCamera(camera_pb2.RegisterCameraRequest(camera=camera), metadata=admin)
    if start:
        stub.StartStream(camera_pb2.StartStreamRequest(camera_id=camera.id), metadata=admin)


def wait_until(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    """Poll `predicate` every 0.25 s until it is truthy; AssertionError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


@dataclass
class AlertListener:
    """A command-room operator's alert stream, read in a thread until `close()`."""

    platform: Platform
    user: str
    after_sequence: int = 0
    alerts: list[alert_pb2.Alert] = field(default_factory=list)
    error: grpc.RpcError | None = None
    arrived: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        stub = alert_pb2_grpc.AlertServiceStub(channel(self.platform, "alerting"))
        self._call = stub.StreamAlerts(alert_pb2.StreamAlertsRequest(after_sequence=self.after_sequence),
                                       metadata=metadata(self.platform, self.user))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for reply in self._call:
                self.alerts.append(reply.alert)
                self.arrived.set()
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = exc

    def close(self) -> None:
        self._call.cancel()
        self._thread.join(5)


@contextmanager
def own_platform(prefix: str, services: tuple[str, ...], env: Mapping[str, str], *,
                 console: bool = False) -> Iterator[Platform]:
    """A platform of its own, embedded defaults, in a fresh data directory (only `services`; the
    console if asked), started with `env` set; this process's clients follow its TLS and identity.
    Stopped and removed after, the environment given back."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    data_dir.chmod(0o755)
    saved = dict(os.environ)
    os.environ.update(env)
    config = PlatformConfig.from_env(data_dir=data_dir, services=services, console=console)
    config.nats_url = config.database_url = config.policy_url = config.oidc_url = ""
    running = Platform(config)
    try:
        running.start()
        with running.client_settings():
            yield running
    finally:
        running.stop()
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(data_dir, ignore_errors=True)
