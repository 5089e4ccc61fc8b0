"""The camera estate: grid loss and low battery as health events, sites and power on the camera, and the
list of cameras down per zone, against real PostgreSQL and JetStream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from basira.common.auth import Subject
from basira.common.db import migrate, open_pool
from basira.common.errors import InvalidInput
from basira.common.nats import connect, ensure_streams
from basira.ingest.cameras import CameraSpec, CameraStore, validate_camera
from basira.ingest.config import IngestSettings
from basira.ingest.estate import judge
from basira.ingest.events import EventPublisher, frame_event, health_message, health_recorder
from basira.ingest.health import HealthEvent, HealthKind, PowerLevel, PowerMonitor, PowerReport, PowerSource
from basira.ingest.health_state import HealthStateStore
from basira.ingest.server import MIGRATIONS
from basira.ingest.servicer import CameraServicer
from basira.ingest.streams import StreamManager
from basira.v1 import camera_pb2, events_pb2
from services.tests.support.gate_doubles import calling_as
from services.tests.support.jetstream import read_all

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_a_grid_camera_on_its_battery_has_lost_the_grid_unless_the_battery_says_more() -> None:
    monitor = PowerMonitor("cam-1", expected=PowerSource.MAINS)
    (lost,) = monitor.update(PowerReport(PowerSource.BATTERY, 80.0), 1.0)
    assert (lost.state, lost.detail) == (PowerLevel.LOST, "grid power lost, on battery, battery 80%")
    (low,) = monitor.update(PowerReport(PowerSource.BATTERY, 15.0), 2.0)
    assert low.state == PowerLevel.LOW
    (back,) = monitor.update(PowerReport(PowerSource.MAINS, 60.0), 3.0)
    assert back.state == PowerLevel.OK
    solar = PowerMonitor("cam-2", expected=PowerSource.SOLAR)
    assert solar.update(PowerReport(PowerSource.BATTERY, 80.0), 1.0)[0].state == PowerLevel.OK


def test_which_health_states_mean_down_and_which_a_warning() -> None:
    assert judge("stream", "STREAM_STATE_FAILED", "", NOW).down  # type: ignore[union-attr]
    assert judge("stream", "STREAM_STATE_RUNNING", "", NOW) is None
    assert judge("stream", "STREAM_STATE_STOPPED", "", NOW) is None  # stopped on purpose
    assert judge("offline", "alarm", "", NOW).down and judge("blocked", "alarm", "", NOW).down  # type: ignore[union-attr]
    assert judge("offline", "ok", "", NOW) is None
    assert not judge("moved", "alarm", "", NOW).down  # type: ignore[union-attr]
    assert [judge("power", s, "", NOW) is not None for s in ("ok", "low", "critical", "lost", "unknown")] == [
        False, True, True, True, False]


def test_frames_carry_the_registered_position_or_the_device_s() -> None:
    fixed = CameraSpec(id="cam-1", zone="medina", owner_agency="police", latitude=34.0, longitude=-6.8)
    event = frame_event(fixed, number=1, captured=1.0, jpeg=b"x", width=1, height=1)
    assert (event.position.latitude, event.position.longitude) == (34.0, -6.8)
    moving = frame_event(CameraSpec(id="bwc-1", zone="medina", owner_agency="police"), number=1, captured=1.0,
                         jpeg=b"x", width=1, height=1, position=(34.1, -6.7))
    assert moving.position.latitude == 34.1
    assert not frame_event(CameraSpec(id="bwc-2"), number=1, captured=1.0, jpeg=b"x", width=1,
                           height=1).HasField("position")


def test_site_and_power_source_are_validated() -> None:
    base: Any = {"id": "cam-1", "kind": camera_pb2.CAMERA_KIND_BODY_WORN, "zone": "medina",
                 "owner_agency": "police"}
    assert validate_camera(CameraSpec(**base, site=" pole-17 "), default_fps=2).site == "pole-17"
    with pytest.raises(InvalidInput, match=r"camera\.site"):
        validate_camera(CameraSpec(**base, site="pole 17"), default_fps=2)
    with pytest.raises(InvalidInput, match="power_source"):
        validate_camera(CameraSpec(**base, power_source=9), default_fps=2)


# ---- against the real database and JetStream --------------------------------------------------

@pytest.fixture
async def estate(postgres_url: str, nats_url: str
                 ) -> AsyncIterator[tuple[CameraServicer, CameraStore, Any, str]]:
    pool = await open_pool(postgres_url, max_size=4)
    await migrate(pool, "ingest", MIGRATIONS)
    nc, js = await connect(nats_url, "ingest-estate-test")
    await ensure_streams(js)
    store = CameraStore(pool)
    settings = IngestSettings.model_validate({"database_url": postgres_url, "nats_url": nats_url})
    publisher = EventPublisher(js, on_health=health_recorder(HealthStateStore(pool)))
    manager = StreamManager(store, publisher, settings)
    uid = uuid.uuid4().hex[:6]
    try:
        yield CameraServicer(store, manager, settings), store, js, uid
    finally:
        await manager.close()
        await nc.close()
        await pool.close()


@pytest.mark.integration
async def test_power_reports_and_the_cameras_down_per_zone(
        estate: tuple[CameraServicer, CameraStore, Any, str]) -> None:
    servicer, store, js, uid = estate
    zone, other = f"zone-{uid}", f"other-{uid}"

    async def register(name: str, power: int, where: str = zone) -> str:
        camera = camera_pb2.Camera(id=f"cam-{uid}-{name}", kind=camera_pb2.CAMERA_KIND_BODY_WORN,
                                   zone=where, owner_agency="police", site=f"pole-{name}",
                                   power_source=power)  # type: ignore[arg-type]
        await servicer.RegisterCamera(camera_pb2.RegisterCameraRequest(camera=camera), None)
        return camera.id

    grid = await register("grid", camera_pb2.POWER_SOURCE_MAINS)
    solar = await register("solar", camera_pb2.POWER_SOURCE_SOLAR)
    dark = await register("dark", camera_pb2.POWER_SOURCE_MAINS)
    elsewhere = await register("far", camera_pb2.POWER_SOURCE_MAINS, other)

    def status(source: int, percent: int) -> camera_pb2.DeviceStatus:
        return camera_pb2.DeviceStatus(power_source=source, battery_percent=percent)  # type: ignore[arg-type]

    reply = await servicer.ReportCameraStatus(camera_pb2.ReportCameraStatusRequest(
        camera_id=grid, status=status(camera_pb2.POWER_SOURCE_BATTERY, 80)), None)
    assert (reply.camera.site, reply.camera.power_state, reply.camera.battery_percent) == (
        "pole-grid", "lost", 80)
    assert reply.camera.power_source == camera_pb2.POWER_SOURCE_MAINS
    assert reply.camera.HasField("power_reported")
    await servicer.ReportCameraStatus(camera_pb2.ReportCameraStatusRequest(
        camera_id=solar, status=status(camera_pb2.POWER_SOURCE_SOLAR, 8)), None)
    with pytest.raises(InvalidInput, match="status is required"):
        await servicer.ReportCameraStatus(camera_pb2.ReportCameraStatusRequest(camera_id=solar), None)
    power = [events_pb2.CameraHealthEvent.FromString(d) for camera_id in (grid, solar)
             for d in await read_all(js, "HEALTH", f"camera.health.{camera_id}")]
    assert sorted((p.camera_id, p.state) for p in power) == [(grid, "lost"), (solar, "critical")]

    publisher = servicer.manager.publisher
    for camera_id in (dark, elsewhere):
        spec = await store.get(camera_id)
        await publisher.publish_health(health_message(spec, HealthEvent(
            camera_id, HealthKind.OFFLINE, "alert", "no frame for 31 s (limit 30 s)", NOW.timestamp())))

    camera_admin = Subject(user="karim", agency="police", roles=("camera_admin",), clearance=1)
    with calling_as(camera_admin, {"zones": [zone], "cameras": []}):
        down = await servicer.ListCamerasDown(camera_pb2.ListCamerasDownRequest(), None)
        everything = await servicer.ListCamerasDown(camera_pb2.ListCamerasDownRequest(include_warnings=True),
                                                    None)
    assert [(c.camera.id, [(k.kind, k.state, k.down) for k in c.conditions]) for c in down.cameras] == [
        (dark, [("offline", "alarm", True)])]
    assert sorted(c.camera.id for c in everything.cameras) == sorted([dark, grid, solar])
    assert elsewhere not in {c.camera.id for c in everything.cameras}, "outside the granted zones"

