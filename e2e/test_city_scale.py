"""City scale end to end, on the real embedded platform through public gRPC APIs only: a plate followed
across three cameras (trajectory, one impossible jump flagged), a live follow that tells the room each
time the plate is seen and stops when its authorization expires, people counted on a real clip, and a
crowd alert above its threshold."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from basira.runtime.supervisor import Platform
from basira.v1 import (
    alert_pb2,
    alert_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    common_pb2,
    search_pb2,
    search_pb2_grpc,
)
from e2e.clients import AlertListener, channel, metadata, register_camera, wait_until

pytestmark = pytest.mark.integration

PLATE_PHOTO = "plates/eu/eu8.jpg"  # another plate than test_vehicle_pipeline.py hotlists
LOBBY = "cam-downtown-02"  # its crowd threshold is set in e2e/conftest.py (2 people a minute)
# Three body-worn cameras in the medina, on a line of latitude: A→B ~0.9 km, B→C ~9.2 km.
ROUTE = {"bwc-route-a": (34.0, -6.80), "bwc-route-b": (34.0, -6.79), "bwc-route-c": (34.0, -6.69)}


def plate_text(shared_data: Path) -> str:
    return (shared_data / PLATE_PHOTO).with_suffix(".txt").read_text().split("\t")[-1].strip()


def court_order(expires: datetime) -> common_pb2.AccessContext:
    access = common_pb2.AccessContext(purpose="stolen-vehicle", case_id="CASE-2026-0042")
    access.authorization.CopyFrom(common_pb2.Authorization(id="AUTH-2026-77", issued_by="court",
                                                           scope_zones=["medina"]))
    access.authorization.expires.FromDatetime(expires)
    return access


def push(platform: Platform, camera_id: str, image: bytes, captured: datetime) -> None:
    """One frame from a body-worn camera, as the device sends it."""
    request = camera_pb2.PushFramesRequest(camera_id=camera_id, image=image)
    request.captured.FromDatetime(captured)
    reply = camera_pb2_grpc.FrameIngestServiceStub(channel(platform, "ingest")).PushFrames(
        iter([request]), metadata=metadata(platform, "bodycam-01"))
    assert reply.frames_published == 1, reply


@pytest.fixture(scope="module")
def lobby(platform: Platform, shared_data: Path) -> str:
    """A fixed camera playing the one-by-one person clip in real time (139 s), started first."""
    register_camera(platform, camera_pb2.Camera(
        id=LOBBY, name="Town hall lobby", kind=camera_pb2.CAMERA_KIND_FIXED, zone="downtown",
        owner_agency="police", source_url=str(shared_data / "video" / "one-by-one-person-detection.mp4"),
        analysis_fps=2.0, site="town-hall", power_source=camera_pb2.POWER_SOURCE_MAINS), start=True)
    return LOBBY


@pytest.fixture(scope="module")
def route(platform: Platform, lobby: str) -> list[str]:
    for camera_id, (lat, lon) in ROUTE.items():
        register_camera(platform, camera_pb2.Camera(
            id=camera_id, kind=camera_pb2.CAMERA_KIND_BODY_WORN, zone="medina", owner_agency="police",
            analysis_fps=5.0, position=common_pb2.GeoPoint(latitude=lat, longitude=lon)))
    return list(ROUTE)


def test_a_plate_seen_by_three_cameras_gives_a_trajectory_with_the_impossible_jump_flagged(
        platform: Platform, shared_data: Path, route: list[str]) -> None:
    image = (shared_data / PLATE_PHOTO).read_bytes()
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    # A→B in 60 s (~55 km/h), then B→C (~9 km) in 30 s: ~1,100 km/h, no car does that.
    for camera_id, offset in zip(route, (0, 60, 90), strict=True):
        push(platform, camera_id, image, t0 + timedelta(seconds=offset))
    search = search_pb2_grpc.SearchServiceStub(channel(platform, "search"))
    request = search_pb2.GetTrajectoryRequest(
        plate=plate_text(shared_data), access=common_pb2.AccessContext(purpose="stolen-vehicle",
                                                                       case_id="CASE-2026-0042"),
        scope=search_pb2.SearchScope(camera_ids=route, zone="medina", time=common_pb2.TimeRange()))
    request.scope.time.start.FromDatetime(t0 - timedelta(seconds=1))
    request.scope.time.end.FromDatetime(t0 + timedelta(minutes=5))
    found: list[search_pb2.GetTrajectoryResponse] = []

    def trajectory_complete() -> bool:
        found[:] = [search.GetTrajectory(request, metadata=metadata(platform, "police-investigator"))]
        return len(found[0].sightings) == 3

    wait_until(trajectory_complete, 90, "three sightings of the plate to be indexed")
    trajectory = found[0]
    assert [s.camera_id for s in trajectory.sightings] == route
    assert [round(s.position.longitude, 2) for s in trajectory.sightings] == [-6.80, -6.79, -6.69]
    assert [leg.implausible for leg in trajectory.legs] == [False, True]
    assert 40 < trajectory.legs[0].speed_kmh < 70 and trajectory.legs[1].speed_kmh > 1000
    assert "bwc-route-b to bwc-route-c" in trajectory.legs[1].reason
    assert len(trajectory.passages) == 1 and list(trajectory.passages[0].camera_ids) == route


def test_a_follow_tells_the_room_of_each_sighting_and_stops_at_its_expiry(
        platform: Platform, shared_data: Path, route: list[str]) -> None:
    alerts = alert_pb2_grpc.AlertServiceStub(channel(platform, "alerting"))
    investigator = metadata(platform, "police-investigator")
    image = (shared_data / PLATE_PHOTO).read_bytes()
    expires = datetime.now(UTC) + timedelta(seconds=50)
    room = AlertListener(platform, "police-operator")
    try:
        follow = alerts.StartFollow(alert_pb2.StartFollowRequest(
            plate=plate_text(shared_data), access=court_order(expires)), metadata=investigator).follow
        assert follow.state == alert_pb2.FOLLOW_STATE_ACTIVE and follow.authorization_id == "AUTH-2026-77"

        def followed() -> list[alert_pb2.Alert]:
            return [a for a in room.alerts
                    if a.kind == alert_pb2.ALERT_KIND_FOLLOW and a.follow_id == follow.id]

        push(platform, route[0], image, datetime.now(UTC))
        wait_until(lambda: {a.camera_id for a in followed()} == {route[0]}, 40, "the first follow alert")
        push(platform, route[1], image, datetime.now(UTC))
        wait_until(lambda: {a.camera_id for a in followed()} == set(route[:2]), 40,
                   "the second follow alert")
        assert room.error is None

        time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 1)
        seen_before = len(followed())
        push(platform, route[2], image, datetime.now(UTC))
        time.sleep(12)  # long enough for a read (the sightings above took a few seconds each)
        assert len(followed()) == seen_before, "a sighting was delivered after the authorization expired"
        assert route[2] not in {a.camera_id for a in followed()}
    finally:
        room.close()
    ended = alerts.ListFollows(alert_pb2.ListFollowsRequest(include_ended=True),
                               metadata=investigator).follows
    mine = next(f for f in ended if f.id == follow.id)
    assert mine.state == alert_pb2.FOLLOW_STATE_EXPIRED and mine.sightings == 2
    # starting one without an authorization is refused by policy
    with pytest.raises(Exception) as denied:
        alerts.StartFollow(alert_pb2.StartFollowRequest(
            plate="AB123CD", access=common_pb2.AccessContext(purpose="stolen-vehicle",
                                                             case_id="CASE-2026-0042")),
            metadata=investigator)
    assert "authorization" in str(denied.value)


def test_people_counted_on_the_person_clip_and_a_crowd_alert_fires(platform: Platform, lobby: str) -> None:
    cameras = camera_pb2_grpc.CameraServiceStub(channel(platform, "ingest"))
    admin = metadata(platform, "police-admin")

    def clip_done() -> bool:
        camera = cameras.GetCamera(camera_pb2.GetCameraRequest(camera_id=lobby), metadata=admin).camera
        return camera.stream_state == camera_pb2.STREAM_STATE_ENDED

    wait_until(clip_done, 200, "the person clip to end")
    time.sleep(16)  # its last minute closes after BASIRA_COUNT_IDLE_CLOSE_S of silence
    search = search_pb2_grpc.SearchServiceStub(channel(platform, "search"))
    buckets = search.GetCounts(search_pb2.GetCountsRequest(
        camera_ids=[lobby], access=common_pb2.AccessContext(purpose="public-order")),
        metadata=metadata(platform, "police-operator")).buckets
    persons, vehicles = sum(b.persons for b in buckets), sum(b.vehicles for b in buckets)
    print(f"one-by-one-person-detection.mp4: {persons} persons, {vehicles} vehicles "
          f"in {len(buckets)} minutes")
    # Counted by eye (services/tests/analytics/test_object_counting.py): six people, no vehicle.
    assert abs(persons - 6) <= 0.6 and vehicles == 0

    room = AlertListener(platform, "police-operator")  # still-open alerts are replayed on connect
    try:
        wait_until(lambda: any(a.kind == alert_pb2.ALERT_KIND_CROWD and a.camera_id == lobby
                               for a in room.alerts), 30, "a crowd alert for the lobby")
    finally:
        room.close()
    crowd = next(a for a in room.alerts if a.kind == alert_pb2.ALERT_KIND_CROWD)
    assert crowd.threshold == 2 and crowd.count >= 2 and crowd.zone == "downtown"
