"""Camera registry: validation names the field; register/update/list/decommission through the servicer
against a real PostgreSQL; the policy resolver."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import field_mask_pb2

from basira.common.auth import Subject
from basira.common.db import migrate, open_pool
from basira.common.errors import AlreadyExists, FailedPrecondition, InvalidInput, NotFound
from basira.common.gate import AccessRule, Gate
from basira.common.nats import connect, ensure_streams
from basira.common.policy_input import context_from_request, policy_input
from basira.ingest.cameras import (
    CameraQuery,
    CameraSpec,
    CameraStore,
    apply_update,
    decode_page_token,
    encode_page_token,
    mask_fields,
    validate_camera,
)
from basira.ingest.config import IngestSettings
from basira.ingest.events import EventPublisher
from basira.ingest.server import MIGRATIONS
from basira.ingest.servicer import CameraServicer, camera_resolver
from basira.ingest.streams import StreamManager
from basira.policy.engine import CompiledPolicy, load_policy_dir
from basira.v1 import camera_pb2, common_pb2
from services.tests.support.gate_doubles import calling_as

FIXED = camera_pb2.CAMERA_KIND_FIXED
BODY = camera_pb2.CAMERA_KIND_BODY_WORN
ADMIN = Subject(user="nadia", agency="police", roles=("camera_admin",), clearance=2)


def good(**changes: Any) -> CameraSpec:
    spec = CameraSpec(id="cam-medina-01", name="Bab Doukkala", kind=FIXED, latitude=31.63, longitude=-8.0,
                      zone="medina", owner_agency="police", source_url="rtsp://cam.example:554/live",
                      analysis_fps=2.0)
    return replace(spec, **changes)


def check(spec: CameraSpec) -> CameraSpec:
    return validate_camera(spec, default_fps=2.0, path_exists=lambda p: p == "/data/street.mp4")


# ---- validation (pure) ----

@pytest.mark.parametrize(("changes", "field"), [
    ({"id": "Cam 1"}, "camera.id"),
    ({"id": "x"}, "camera.id"),
    ({"id": "a" * 65}, "camera.id"),
    ({"id": ""}, "camera.id"),
    ({"kind": camera_pb2.CAMERA_KIND_UNSPECIFIED}, "camera.kind"),
    ({"kind": 42}, "camera.kind"),
    ({"zone": "  "}, "camera.zone"),
    ({"zone": "old medina"}, "camera.zone"),
    ({"owner_agency": ""}, "camera.owner_agency"),
    ({"analysis_fps": -1.0}, "camera.analysis_fps"),
    ({"analysis_fps": 30.5}, "camera.analysis_fps"),
    ({"analysis_fps": float("nan")}, "camera.analysis_fps"),
    ({"latitude": 91.0}, "camera.position.latitude"),
    ({"longitude": -180.5}, "camera.position.longitude"),
    ({"latitude": float("inf")}, "camera.position.latitude"),
    ({"source_url": ""}, "camera.source_url"),
    ({"source_url": "ftp://cam.example/video"}, "camera.source_url"),
    ({"source_url": "rtsp:///no-host"}, "camera.source_url"),
    ({"source_url": "rtsp://cam.example:99999/live"}, "camera.source_url"),
    ({"source_url": "/data/missing.mp4"}, "camera.source_url"),
    ({"source_url": "file:///data/missing.mp4"}, "camera.source_url"),
    ({"source_url": "rtsp://cam.example/live stream"}, "camera.source_url"),
    ({"name": "x" * 201}, "camera.name"),
])
def test_invalid_camera_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check(good(**changes))
    assert caught.value.field == field
    assert field in caught.value.message


def test_valid_camera_is_normalised() -> None:
    spec = check(good(name=" ", analysis_fps=0.0, zone=" medina "))
    assert spec.name == "cam-medina-01"  # the id when no name is given
    assert spec.analysis_fps == 2.0  # the default when unset
    assert spec.zone == "medina"


@pytest.mark.parametrize("url", ["rtsp://u:p@cam.example/live", "rtsps://cam.example/s",
                                 "http://10.0.0.9/mjpg", "https://cam.example/video.mjpg",
                                 "file:///data/street.mp4", "/data/street.mp4"])
def test_accepted_sources(url: str) -> None:
    assert check(good(source_url=url)).source_url == url


def test_only_moving_kinds_may_push_without_a_source() -> None:
    for kind in (BODY, camera_pb2.CAMERA_KIND_VEHICLE_MOUNTED, camera_pb2.CAMERA_KIND_DRONE):
        assert check(good(kind=kind, source_url="")).source_url == ""
    with pytest.raises(InvalidInput, match="only body-worn, vehicle-mounted and drone"):
        check(good(kind=camera_pb2.CAMERA_KIND_PTZ, source_url=""))


def test_source_url_error_hides_the_password() -> None:
    with pytest.raises(InvalidInput) as caught:
        check(good(source_url="rtsp://admin:s3cret@:99999/x"))
    assert "s3cret" not in caught.value.message


def test_a_position_needs_both_coordinates() -> None:
    with pytest.raises(InvalidInput) as caught:
        check(good(longitude=None))
    assert caught.value.field == "camera.position"


def test_update_mask_paths() -> None:
    assert mask_fields([]) == ("name", "kind", "position", "zone", "owner_agency", "source_url",
                               "analysis_fps", "loop", "site", "power_source")
    assert mask_fields(["camera.zone", "position.latitude", "zone"]) == ("zone", "position")
    for path, hint in (("id", "never changes"), ("stream_state", "StartStream"),
                       ("decommissioned", "DecommissionCamera"), ("colour", "not a camera field")):
        with pytest.raises(InvalidInput, match=hint) as caught:
            mask_fields([path])
        assert caught.value.field == "update_mask"


def test_apply_update_keeps_a_hidden_password() -> None:
    current = good(source_url="rtsp://admin:s3cret@cam.example/live")
    shown = replace(current, source_url="rtsp://admin:***@cam.example/live", zone="port")
    updated = apply_update(current, shown, ("source_url", "zone"))
    assert updated.source_url == "rtsp://admin:s3cret@cam.example/live"
    assert updated.zone == "port"
    moved = apply_update(current, replace(current, latitude=None, longitude=None), ("position",))
    assert moved.latitude is None and moved.longitude is None


def test_page_tokens_are_tied_to_their_filters() -> None:
    query = CameraQuery(zone="medina")
    token = encode_page_token("cam-07", query)
    assert decode_page_token(token, query) == "cam-07"
    assert decode_page_token("", query) == ""
    with pytest.raises(InvalidInput, match="other filters"):
        decode_page_token(token, CameraQuery(zone="port"))
    with pytest.raises(InvalidInput) as caught:
        decode_page_token("not-a-token", query)
    assert caught.value.field == "page.page_token"


# ---- through the servicer, against PostgreSQL ----

@pytest.fixture
async def world(postgres_url: str, nats_url: str) -> AsyncIterator[tuple[CameraServicer, CameraStore, str]]:
    pool = await open_pool(postgres_url, max_size=4)
    await migrate(pool, "ingest", MIGRATIONS)
    nc, js = await connect(nats_url, "ingest-cameras-test")
    await ensure_streams(js)
    store = CameraStore(pool)
    settings = IngestSettings.model_validate({"database_url": postgres_url, "nats_url": nats_url})
    manager = StreamManager(store, EventPublisher(js), settings)
    uid = uuid.uuid4().hex[:6]
    try:
        yield CameraServicer(store, manager, settings), store, uid
    finally:
        await manager.close()
        async with pool.connection() as conn:
            await conn.execute("UPDATE ingest_cameras SET stream_wanted = false, decommissioned = true"
                               " WHERE id LIKE %s", (f"%{uid}%",))
        await nc.close()
        await pool.close()


def camera_msg(camera_id: str, **fields: Any) -> camera_pb2.Camera:
    values: dict[str, Any] = {"name": "Gate", "kind": FIXED, "zone": "medina", "owner_agency": "police",
                              "source_url": "rtsp://cam.example/live", "analysis_fps": 2.0}
    values.update(fields)
    return camera_pb2.Camera(id=camera_id, **values)


async def test_register_get_update_list_decommission_round_trip(world: Any) -> None:
    servicer, _, uid = world
    cam = f"cam-{uid}-a"
    with calling_as(ADMIN):
        created = (await servicer.RegisterCamera(camera_pb2.RegisterCameraRequest(
            camera=camera_msg(cam, position=common_pb2.GeoPoint(latitude=31.6, longitude=-8.0),
                              source_url="rtsp://admin:s3cret@cam.example/live")), None)).camera
        assert created.stream_state == camera_pb2.STREAM_STATE_STOPPED
        assert created.source_url == "rtsp://admin:***@cam.example/live"  # never shown
        assert created.created.seconds > 0 and created.position.latitude == pytest.approx(31.6)

        with pytest.raises(AlreadyExists):
            await servicer.RegisterCamera(camera_pb2.RegisterCameraRequest(camera=camera_msg(cam)), None)

        # Read-modify-write with the redacted URL: only the zone changes, the password survives.
        shown = (await servicer.GetCamera(camera_pb2.GetCameraRequest(camera_id=cam), None)).camera
        shown.zone = "port"
        shown.name = "ignored: not in the mask"
        updated = (await servicer.UpdateCamera(camera_pb2.UpdateCameraRequest(
            camera=shown, update_mask=field_mask_pb2.FieldMask(paths=["zone", "source_url"])), None)).camera
        assert updated.zone == "port" and updated.name == "Gate"
        assert updated.updated.ToDatetime() >= created.updated.ToDatetime()
        _, store, _ = world
        assert (await store.get(cam)).source_url == "rtsp://admin:s3cret@cam.example/live"

        with pytest.raises(InvalidInput) as caught:
            await servicer.UpdateCamera(camera_pb2.UpdateCameraRequest(
                camera=camera_pb2.Camera(id=cam, analysis_fps=99),
                update_mask=field_mask_pb2.FieldMask(paths=["analysis_fps"])), None)
        assert caught.value.field == "camera.analysis_fps"

        listed = (await servicer.ListCameras(camera_pb2.ListCamerasRequest(zone="port"), None)).cameras
        assert cam in [c.id for c in listed]

        gone = (await servicer.DecommissionCamera(camera_pb2.DecommissionCameraRequest(
            camera_id=cam, reason="pole removed"), None)).camera
        assert gone.decommissioned
        listed = (await servicer.ListCameras(camera_pb2.ListCamerasRequest(zone="port"), None)).cameras
        assert cam not in [c.id for c in listed]
        listed = (await servicer.ListCameras(camera_pb2.ListCamerasRequest(
            zone="port", include_decommissioned=True), None)).cameras
        assert cam in [c.id for c in listed]
        with pytest.raises(FailedPrecondition, match="decommissioned"):
            await servicer.UpdateCamera(camera_pb2.UpdateCameraRequest(camera=camera_msg(cam)), None)
        with pytest.raises(FailedPrecondition, match="decommissioned"):
            await servicer.StartStream(camera_pb2.StartStreamRequest(camera_id=cam), None)
        with pytest.raises(AlreadyExists):  # ids are never reused
            await servicer.RegisterCamera(camera_pb2.RegisterCameraRequest(camera=camera_msg(cam)), None)
        with pytest.raises(NotFound):
            await servicer.GetCamera(camera_pb2.GetCameraRequest(camera_id=f"cam-{uid}-nope"), None)


async def test_register_errors_name_the_field(world: Any) -> None:
    servicer, _, uid = world
    with calling_as(ADMIN):
        for camera, field in ((camera_msg("Bad Id"), "camera.id"),
                              (camera_msg(f"cam-{uid}-b", kind=0), "camera.kind"),
                              (camera_msg(f"cam-{uid}-b", zone=""), "camera.zone"),
                              (camera_msg(f"cam-{uid}-b", owner_agency=""), "camera.owner_agency"),
                              (camera_msg(f"cam-{uid}-b", analysis_fps=31), "camera.analysis_fps"),
                              (camera_msg(f"cam-{uid}-b", source_url=""), "camera.source_url"),
                              (camera_msg(f"cam-{uid}-b", position=common_pb2.GeoPoint(latitude=-95)),
                               "camera.position.latitude")):
            with pytest.raises(InvalidInput) as caught:
                await servicer.RegisterCamera(camera_pb2.RegisterCameraRequest(camera=camera), None)
            assert caught.value.field == field


async def test_list_filters_pages_and_respects_the_granted_zones(world: Any) -> None:
    servicer, _, uid = world
    agency = f"agency-{uid}"
    with calling_as(ADMIN):
        for i, zone in enumerate(["medina", "medina", "port", "airport", "medina"]):
            await servicer.RegisterCamera(camera_pb2.RegisterCameraRequest(
                camera=camera_msg(f"cam-{uid}-{i}", zone=zone, owner_agency=agency)), None)
        seen: list[str] = []
        token = ""
        while True:
            reply = await servicer.ListCameras(camera_pb2.ListCamerasRequest(
                owner_agency=agency, page=common_pb2.PageRequest(page_size=2, page_token=token)), None)
            assert len(reply.cameras) <= 2
            seen += [c.id for c in reply.cameras]
            token = reply.page.next_page_token
            if not token:
                break
        assert seen == [f"cam-{uid}-{i}" for i in range(5)]
        with pytest.raises(InvalidInput):  # a token of another listing
            first = await servicer.ListCameras(camera_pb2.ListCamerasRequest(
                owner_agency=agency, page=common_pb2.PageRequest(page_size=1)), None)
            await servicer.ListCameras(camera_pb2.ListCamerasRequest(
                zone="port", page=common_pb2.PageRequest(page_token=first.page.next_page_token)), None)
    # The policy granted zone medina and one camera of the airport: nothing else is listed.
    with calling_as(ADMIN, {"zones": ["medina"], "cameras": [f"cam-{uid}-3"], "max_results": 1000}):
        reply = await servicer.ListCameras(camera_pb2.ListCamerasRequest(owner_agency=agency), None)
    assert [c.id for c in reply.cameras] == [f"cam-{uid}-{i}" for i in (0, 1, 3, 4)]
    with calling_as(ADMIN, {"zones": [], "cameras": []}):
        reply = await servicer.ListCameras(camera_pb2.ListCamerasRequest(owner_agency=agency), None)
    assert list(reply.cameras) == []


async def test_resolver_gives_policy_the_registered_zone_and_owner(world: Any) -> None:
    servicer, store, uid = world
    cam = f"cam-{uid}-r"
    with calling_as(ADMIN):
        await servicer.RegisterCamera(camera_pb2.RegisterCameraRequest(camera=camera_msg(cam)), None)
    resolve = camera_resolver(store)
    resource = await resolve(camera_pb2.StartStreamRequest(camera_id=cam), ADMIN, {"cameras": [cam]})
    assert resource == {"zone": "medina", "owner_agency": "police", "cameras": [cam]}
    # An update moving the camera to another zone needs both zones; the stored zone stays `zone`.
    move = camera_pb2.UpdateCameraRequest(camera=camera_msg(cam, zone="port", owner_agency="traffic"),
                                          update_mask=field_mask_pb2.FieldMask(paths=["zone"]))
    resource = await resolve(move, ADMIN, {"zone": "port"})
    assert resource["zone"] == "medina" and resource["zones"] == ["medina", "port"]
    assert "new_owner_agency" not in resource  # owner_agency is not in the mask
    assert await resolve(camera_pb2.GetCameraRequest(camera_id=f"cam-{uid}-unknown"), ADMIN, {}) == {}
    assert await resolve(camera_pb2.GetCameraRequest(camera_id="Not An Id"), ADMIN, {}) == {}


async def test_file_paths_are_checked_and_stored_absolute(world: Any, shared_data: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    servicer, _, uid = world
    monkeypatch.chdir(shared_data)
    with calling_as(ADMIN):
        camera = (await servicer.RegisterCamera(camera_pb2.RegisterCameraRequest(
            camera=camera_msg(f"cam-{uid}-f", source_url="video/car-detection.mp4")), None)).camera
    assert camera.source_url == str(shared_data / "video" / "car-detection.mp4")


async def test_the_real_policy_judges_the_camera_the_resolver_found(world: Any) -> None:
    """The contract with policy/: a camera the catalogue does not know is judged by its stored zone."""
    servicer, store, uid = world
    cam = f"cam-{uid}-p"
    with calling_as(ADMIN):
        await servicer.RegisterCamera(camera_pb2.RegisterCameraRequest(camera=camera_msg(cam)), None)
    policy = CompiledPolicy(load_policy_dir(Path(__file__).resolve().parents[3] / "policy"))
    karim = Subject(user="karim", agency="police", roles=("camera_admin",), clearance=1)
    start = "/basira.v1.CameraService/StartStream"
    update = "/basira.v1.CameraService/UpdateCamera"

    async def decide(method: str, request: Any, action: str, *, resolved: bool = True) -> dict[str, Any]:
        gate = Gate("ingest", None, None, None,  # type: ignore[arg-type]
                    {method: camera_resolver(store)} if resolved else {})
        resource = await gate.resolve(method, request, karim, AccessRule(action, "video"))
        return policy.decide(policy_input(karim.to_policy(), action, resource,
                                          context_from_request(request)))

    request = camera_pb2.StartStreamRequest(camera_id=cam)
    assert (await decide(start, request, "camera.start_stream"))["allow"] is True
    refused = await decide(start, request, "camera.start_stream", resolved=False)
    assert refused["allow"] is False and any(cam in reason for reason in refused["deny"])

    move = camera_pb2.UpdateCameraRequest(camera=camera_msg(cam, zone="airport"),
                                          update_mask=field_mask_pb2.FieldMask(paths=["zone"]))
    decision = await decide(update, move, "camera.update")
    assert decision["allow"] is False
    assert 'agency "police" is not granted zone "airport"' in decision["deny"]
