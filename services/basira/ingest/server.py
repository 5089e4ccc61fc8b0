"""Wiring of the ingest service: camera registry, stream manager loop, CameraService, FrameIngestService."""

from __future__ import annotations

import os
from pathlib import Path

import grpc

from basira.common.config import load_settings
from basira.common.service import ServiceHost, run_service
from basira.ingest.cameras import CameraStore
from basira.ingest.config import IngestSettings
from basira.ingest.events import EventPublisher, RetryPolicy, health_recorder
from basira.ingest.health_state import HealthState, HealthStateStore
from basira.ingest.servicer import (
    CAMERA_METHODS,
    PUSH_METHOD,
    CameraServicer,
    FrameIngestServicer,
    camera_resolver,
)
from basira.ingest.streams import StreamManager
from basira.v1 import camera_pb2, camera_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations"


def configure_ffmpeg(settings: IngestSettings) -> None:
    """OpenCV's FFmpeg reads these once per process: RTSP transport and how much FFmpeg prints.
    Values already in the environment win (an operator's override)."""
    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", f"rtsp_transport;{settings.rtsp_transport}")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", str(settings.ffmpeg_log_level))


def build(host: ServiceHost, settings: IngestSettings) -> tuple[CameraStore, StreamManager]:
    """The registry and stream manager over the host's connections."""
    store = CameraStore(host.db)
    retry = RetryPolicy(initial_s=settings.publish_retry_initial_s, max_s=settings.publish_retry_max_s,
                        timeout_s=settings.publish_timeout_s)
    publisher = EventPublisher(host.jetstream, retry, on_health=health_recorder(HealthStateStore(host.db)))
    return store, StreamManager(store, publisher, settings)


async def setup(host: ServiceHost) -> None:
    settings = host.settings
    assert isinstance(settings, IngestSettings)
    store, manager = build(host, settings)
    host.loop(manager.run)
    resolver = camera_resolver(store)
    for method in (*CAMERA_METHODS, PUSH_METHOD):
        host.resolver(method, resolver)
    health = HealthState(host.jetstream, HealthStateStore(host.db))
    host.loop(health.consumer().run)
    cameras = CameraServicer(store, manager, settings, health)
    frames = FrameIngestServicer(store, manager)

    def add(server: grpc.aio.Server) -> list[str]:
        camera_pb2_grpc.add_CameraServiceServicer_to_server(cameras, server)
        camera_pb2_grpc.add_FrameIngestServiceServicer_to_server(frames, server)
        services = camera_pb2.DESCRIPTOR.services_by_name
        return [services["CameraService"].full_name, services["FrameIngestService"].full_name]

    host.build_server(add)


def main() -> int:
    settings = load_settings(IngestSettings)
    configure_ffmpeg(settings)
    return run_service("ingest", settings, setup, migrations=MIGRATIONS)
