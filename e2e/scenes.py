"""Things that happen in the city, for browser tests and benchmarks: a plate put on the hotlist, a
body camera registered and pushing frames (as the device does, under its own identity)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from basira.runtime.supervisor import Platform
from basira.v1 import camera_pb2, camera_pb2_grpc, common_pb2, watchlist_pb2, watchlist_pb2_grpc
from e2e.clients import channel, metadata, register_camera


def body_camera(platform: Platform, camera_id: str, zone: str, latitude: float, longitude: float) -> None:
    """Register a police body camera working in `zone` at a known position."""
    register_camera(platform, camera_pb2.Camera(
        id=camera_id, name=f"Body-worn, {zone} patrol", kind=camera_pb2.CAMERA_KIND_BODY_WORN, zone=zone,
        owner_agency="police", analysis_fps=5.0,
        position=common_pb2.GeoPoint(latitude=latitude, longitude=longitude)))


def hotlist_plate(platform: Platform, plate: str, case_id: str) -> None:
    """A stolen-vehicle entry for `plate`, added by a police investigator under `case_id`."""
    basis = watchlist_pb2.LegalBasis(kind="stolen-vehicle-report", reference="PV-909", issued_by="police")
    entry = watchlist_pb2.HotlistEntry(plate=plate, reason=watchlist_pb2.HOTLIST_REASON_STOLEN,
                                       confusable_tolerant=True, legal_basis=basis)
    entry.expires.FromDatetime(datetime.now(UTC) + timedelta(days=7))
    watchlist_pb2_grpc.WatchlistServiceStub(channel(platform, "analytics")).AddHotlistPlate(
        watchlist_pb2.AddHotlistPlateRequest(entry=entry,
                                             access={"purpose": "stolen-vehicle", "case_id": case_id}),
        metadata=metadata(platform, "police-investigator"))


def push_frames(platform: Platform, camera_id: str, image: bytes, count: int = 2, gap_s: float = 0.5,
                battery_percent: int | None = 71) -> camera_pb2.PushFramesResponse:
    """The body camera (device identity `bodycam-01`) pushes `count` JPEG frames, battery-powered
    unless `battery_percent` is None (then no device status is sent)."""
    status = None if battery_percent is None else camera_pb2.DeviceStatus(
        power_source=camera_pb2.POWER_SOURCE_BATTERY, battery_percent=battery_percent)

    def frames() -> Iterator[camera_pb2.PushFramesRequest]:
        for i in range(count):
            message = camera_pb2.PushFramesRequest(camera_id=camera_id if i == 0 else "", image=image,
                                                   status=status)
            message.captured.FromDatetime(datetime.now(UTC))
            yield message
            if i + 1 < count:
                time.sleep(gap_s)

    reply: camera_pb2.PushFramesResponse = camera_pb2_grpc.FrameIngestServiceStub(
        channel(platform, "ingest")).PushFrames(frames(), metadata=metadata(platform, "bodycam-01"))
    return reply
