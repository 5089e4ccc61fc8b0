"""A fault of issue 10 on the real platform: one camera floods frames. Its frames over the push rate
are refused (and said so, per frame), it cannot hold more than its share of the FRAMES stream, and a
camera pushing at a normal pace beside it loses nothing: every frame taken, its plate found."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from basira.runtime.supervisor import Platform
from basira.v1 import camera_pb2, common_pb2, search_pb2, search_pb2_grpc
from e2e.clients import channel, metadata, register_camera, wait_until
from e2e.scenes import push_frames

pytestmark = pytest.mark.integration

FLOODER, CALM = "bwc-police-flood", "bwc-police-calm"
FLOOD_FRAMES = 90
INVESTIGATION = common_pb2.AccessContext(purpose="stolen-vehicle", case_id="CASE-2026-0099")


def test_a_flooding_camera_is_rate_limited_and_a_camera_beside_it_loses_nothing(
        platform: Platform, shared_data: Path) -> None:
    for camera in (FLOODER, CALM):
        register_camera(platform, camera_pb2.Camera(id=camera, name=camera, zone="medina",
                                                     kind=camera_pb2.CAMERA_KIND_BODY_WORN,
                                                     owner_agency="police", analysis_fps=30.0))
    calm_photo = shared_data / "plates" / "eu" / "eu2.jpg"  # a plate no other e2e test pushes
    flood: list[camera_pb2.PushFramesResponse] = []
    flooding = threading.Thread(target=lambda: flood.append(push_frames(
        platform, FLOODER, (shared_data / "plates" / "eu" / "eu1.jpg").read_bytes(), count=FLOOD_FRAMES,
        gap_s=0.0, battery_percent=None)))
    flooding.start()
    try:
        calm = push_frames(platform, CALM, calm_photo.read_bytes(), count=3, gap_s=0.5, battery_percent=None)
    finally:
        flooding.join(120)
    (flooded,) = flood
    assert flooded.frames_received == FLOOD_FRAMES
    assert flooded.frames_rejected >= FLOOD_FRAMES // 2, flooded
    assert any("over the rate limit" in line for line in flooded.rejections), flooded.rejections
    assert (calm.frames_received, calm.frames_published, calm.frames_rejected) == (3, 3, 0), calm

    search = search_pb2_grpc.SearchServiceStub(channel(platform, "search"))
    request = search_pb2.ListSightingsRequest(kind=search_pb2.SIGHTING_KIND_PLATE,
                                              scope=search_pb2.SearchScope(zone="medina"),
                                              access=INVESTIGATION)

    def calm_plate_found() -> bool:
        reply = search.ListSightings(request, metadata=metadata(platform, "police-investigator"))
        return any(s.camera_id == CALM for s in reply.sightings)

    wait_until(calm_plate_found, 90, "the calm camera's plate sighting beside the flood")
