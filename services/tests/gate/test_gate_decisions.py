"""Gate steps 2-4 over real gRPC: denials carry their reasons, allowed answers carry their obligations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from basira.common.access_record import AccessRecord
from basira.common.errors import NotFound
from basira.v1 import alert_pb2, camera_pb2, common_pb2, search_pb2
from services.tests.support.protos import timestamp, with_fields

from .harness import Harness, Outcome, all_methods, full_method, invoke
from .scenarios import CASE_ID, JPEG, REQUESTS, Caller, court_order, last_day

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

METHODS = {full_method(m): m for m in all_methods()}
SEARCH_FACES = "/basira.v1.SearchService/SearchFaces"
SEARCH_PLATES = "/basira.v1.SearchService/SearchPlates"
LIST_SIGHTINGS = "/basira.v1.SearchService/ListSightings"
LIST_CAMERAS = "/basira.v1.CameraService/ListCameras"
GET_CAMERA = "/basira.v1.CameraService/GetCamera"
LIST_HOTLIST = "/basira.v1.WatchlistService/ListHotlist"
STREAM_ALERTS = "/basira.v1.AlertService/StreamAlerts"
PUSH_FRAMES = "/basira.v1.FrameIngestService/PushFrames"
AGENCY = {"police-investigator": "police", "police-operator": "police", "traffic-operator": "traffic",
          "traffic-analyst": "traffic", "intelligence-analyst": "intelligence", "bodycam-01": "police"}


def realistic(user: str, method: str, classes: set[str]) -> Any:
    return REQUESTS[method](Caller(user, AGENCY[user]), classes)


def face_search(zone: str = "medina", **access: Any) -> search_pb2.SearchFacesRequest:
    """A police face search in `zone`; `access` overrides fields of the AccessContext."""
    context = common_pb2.AccessContext(purpose="theft-investigation", case_id=CASE_ID,
                                       authorization=court_order(["medina"]))
    return search_pb2.SearchFacesRequest(image=JPEG, access=with_fields(context, **access),
                                         scope=search_pb2.SearchScope(zone=zone, time=last_day()))


async def call(h: Harness, user: str, method: str, request: Any) -> tuple[Outcome, list[AccessRecord], int]:
    """Invoke as `user`; return the outcome, the access records it produced, and servicer runs."""
    mark, served = await h.audit.mark(), len(h.recorder.invocations)
    outcome = await invoke(h.channel, METHODS[method], request, h.metadata(user))
    return outcome, await h.audit.since(mark), len(h.recorder.invocations) - served


@contextmanager
def answering(h: Harness, method: str, items: int) -> Iterator[None]:
    h.recorder.items[method] = items
    try:
        yield
    finally:
        del h.recorder.items[method]


# ---- denied --------------------------------------------------------------------------------------

DENIALS: dict[str, tuple[str, str, Callable[[], Any], str]] = {
    # name: (user, method, request, a deny reason the policy must give)
    "traffic may not search faces": (
        "traffic-operator", SEARCH_FACES, lambda: realistic("traffic-operator", SEARCH_FACES, {"biometric"}),
        'agency "traffic" is not granted data class "biometric"'),
    "face search without an authorization": (
        "police-investigator", SEARCH_FACES, lambda: face_search(authorization=None),
        'action "search.face" needs context.authorization'),
    "face search under an expired authorization": (
        "police-investigator", SEARCH_FACES,
        lambda: face_search(authorization=court_order(["medina"], expires_in=-timedelta(days=1))),
        'authorization "AUTH-2026-17" expired at'),
    "face search without a case id": (
        "police-investigator", SEARCH_FACES, lambda: face_search(case_id=""),
        'action "search.face" needs context.case_id'),
    "face search under an authorization of an unknown issuer": (
        "police-investigator", SEARCH_FACES,
        lambda: face_search(authorization=court_order(["medina"], issued_by="police-chief")),
        'is issued by "police-chief", not a recognised authority'),
    "face search outside the authorization's zones": (
        "police-investigator", SEARCH_FACES, lambda: face_search(zone="downtown"),
        'zone "downtown" is outside the scope of authorization "AUTH-2026-17"'),
    "plate search outside the agreement's zones": (
        "police-investigator", SEARCH_PLATES, lambda: search_pb2.SearchPlatesRequest(
            plate="12345B6", scope=search_pb2.SearchScope(zone="airport"),
            access=common_pb2.AccessContext(purpose="stolen-vehicle", case_id=CASE_ID)),
        'agency "police" is not granted zone "airport"'),
    "purpose outside the agreement": (
        "traffic-operator", SEARCH_PLATES, lambda: search_pb2.SearchPlatesRequest(
            plate="12345B6", scope=search_pb2.SearchScope(zone="ring-road"),
            access=common_pb2.AccessContext(purpose="serious-crime", case_id=CASE_ID)),
        "purpose \"serious-crime\" is not in agency \"traffic\"'s agreement"),
    "alert stream of a zone outside the agreement (server stream)": (
        "police-operator", STREAM_ALERTS, lambda: alert_pb2.StreamAlertsRequest(zones=["airport"]),
        'agency "police" is not granted zone "airport"'),
    "a body camera pushing as another agency's camera (client stream)": (
        "bodycam-01", PUSH_FRAMES,
        lambda: [camera_pb2.PushFramesRequest(camera_id="veh-gendarmerie-01", image=JPEG)] * 2,
        'camera "veh-gendarmerie-01" is not granted to agency "police"'),
}


@pytest.mark.parametrize("case", list(DENIALS))
async def test_denied_with_reasons_unserved_and_logged(harness: Harness, case: str) -> None:
    user, method, request, reason = DENIALS[case]
    sent = request()
    outcome, records, served = await call(harness, user, method, sent)
    assert outcome.code == grpc.StatusCode.PERMISSION_DENIED, outcome
    assert reason in outcome.details
    assert served == 0, "a denied call reached the servicer"
    assert len(records) == 1
    record = records[0]
    assert (record.allowed, record.status, record.user) == (False, "PERMISSION_DENIED", user)
    assert any(reason in r for r in record.reasons), record.reasons
    assert all(r in outcome.details for r in record.reasons)
    assert record.policy_revision == harness.revision != ""
    assert record.result_count is None
    access = getattr(sent, "access", None)
    if access is not None:
        assert (record.purpose, record.case_id, record.authorization_id) == (
            access.purpose, access.case_id, access.authorization.id)


@pytest.mark.parametrize("case", ["traffic may not search faces",
                                  "a body camera pushing as another agency's camera (client stream)"])
async def test_denial_rich_details_carry_reasons_and_policy_revision(harness: Harness, case: str) -> None:
    user, method, request, _ = DENIALS[case]
    outcome, records, _ = await call(harness, user, method, request())
    assert outcome.error is not None
    status = rpc_status.from_call(outcome.error)  # type: ignore[arg-type]  # an aio call is a Call
    assert status is not None and status.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.reason == "PERMISSION_DENIED"
    assert info.metadata.get("reasons") == "; ".join(records[0].reasons)
    assert info.metadata.get("policy_revision") == harness.revision


def face_sightings(zone: str, **access: Any) -> search_pb2.ListSightingsRequest:
    """A request to list FACE sightings in `zone` (the contract's default data class is plate)."""
    return search_pb2.ListSightingsRequest(
        kind=search_pb2.SIGHTING_KIND_FACE, scope=search_pb2.SearchScope(zone=zone, time=last_day()),
        access=common_pb2.AccessContext(**access))


async def test_listing_face_sightings_is_judged_as_biometric(harness: Harness) -> None:
    """The search service's resolver makes kind FACE biometric: grant, clearance and authorization apply."""
    refused, records, served = await call(harness, "traffic-analyst", LIST_SIGHTINGS, face_sightings(
        "ring-road", purpose="traffic-enforcement", case_id=CASE_ID))
    assert (refused.code, served) == (grpc.StatusCode.PERMISSION_DENIED, 0)
    assert 'agency "traffic" is not granted data class "biometric"' in refused.details
    assert records[0].resource["data_class"] == "biometric"

    unauthorised, records, served = await call(harness, "police-investigator", LIST_SIGHTINGS,
                                               face_sightings("medina", purpose="theft-investigation",
                                                              case_id=CASE_ID))
    assert (unauthorised.code, served) == (grpc.StatusCode.PERMISSION_DENIED, 0)
    assert 'action "search.sightings" needs context.authorization' in unauthorised.details

    allowed, records, served = await call(harness, "police-investigator", LIST_SIGHTINGS, face_sightings(
        "medina", purpose="theft-investigation", case_id=CASE_ID, authorization=court_order(["medina"])))
    assert (allowed.code, served) == (grpc.StatusCode.OK, 1), allowed.details
    (record,) = records
    assert (record.resource["data_class"], record.authorization_id) == ("biometric", "AUTH-2026-17")
    assert record.obligations["zones"] == ["medina"]


async def test_listing_plate_sightings_stays_plate_data(harness: Harness) -> None:
    """Control: the resolver changes only kind FACE; plate sightings need no authorization."""
    outcome, records, _ = await call(harness, "police-investigator", LIST_SIGHTINGS,
                                     realistic("police-investigator", LIST_SIGHTINGS, {"plate"}))
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    assert records[0].resource["data_class"] == "plate" and records[0].authorization_id == ""


# ---- allowed -------------------------------------------------------------------------------------

async def test_allowed_face_search_answers_and_logs_obligations(harness: Harness) -> None:
    sent = face_search()
    outcome, records, served = await call(harness, "police-investigator", SEARCH_FACES, sent)
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    (reply,) = outcome.responses
    assert len(reply.sightings) == 1 and reply.sightings[0].camera_id
    assert served == 1
    (record,) = records
    assert (record.allowed, record.status, record.result_count) == (True, "OK", 1)
    assert record.policy_revision == harness.revision
    assert (record.purpose, record.case_id, record.authorization_id) == (
        "theft-investigation", CASE_ID, "AUTH-2026-17")
    assert record.resource["zone"] == "medina" and record.resource["data_class"] == "biometric"
    seen = harness.recorder.invocations[-1]
    assert seen.user == "police-investigator"
    assert record.obligations == seen.obligations, "the log must hold what the servicer was told"
    assert {"mask_faces", "mask_plates", "max_results", "redact_fields", "zones"} <= set(record.obligations)
    assert record.obligations["zones"] == ["medina"]  # narrowed to the authorization's scope
    assert record.obligations["max_results"] == 20


@pytest.mark.parametrize(("user", "method", "answered", "limit"), [
    ("police-investigator", SEARCH_FACES, 25, 20),   # search.face: max_results 20 in the catalogue
    ("police-operator", LIST_HOTLIST, 150, 100),     # no cap of its own: settings.default_max_results
    ("police-operator", LIST_CAMERAS, 5, 1000),      # under the cap: nothing cut
])
async def test_max_results_is_applied_to_the_answer(harness: Harness, user: str, method: str,
                                                    answered: int, limit: int) -> None:
    request = face_search() if method == SEARCH_FACES else realistic(user, method, {"plate"})
    with answering(harness, method, answered):
        outcome, records, _ = await call(harness, user, method, request)
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    (reply,) = outcome.responses
    (items,) = [getattr(reply, f.name) for f in reply.DESCRIPTOR.fields
                if f.is_repeated and f.message_type is not None]
    assert len(items) == min(answered, limit)
    assert records[0].obligations["max_results"] == limit
    assert records[0].result_count == min(answered, limit)


SIGHTING_FIELDS = ("plate", "face", "distance", "snapshot_id")


def present(message: Message, name: str) -> bool:
    f = message.DESCRIPTOR.fields_by_name[name]
    return message.HasField(name) if f.message_type is not None else bool(getattr(message, name))


@pytest.mark.parametrize(("user", "cleared"), [
    # analysts never see plate text; traffic is granted neither video (snapshots) nor biometric
    ("traffic-analyst", {"plate", "face", "distance", "snapshot_id"}),
    ("intelligence-analyst", {"plate"}),
    ("police-investigator", set()),
])
async def test_redact_fields_are_applied_to_sightings(harness: Harness, user: str, cleared: set[str]) -> None:
    with answering(harness, LIST_SIGHTINGS, 3):
        outcome, records, _ = await call(harness, user, LIST_SIGHTINGS,
                                         realistic(user, LIST_SIGHTINGS, {"plate"}))
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    (reply,) = outcome.responses
    assert len(reply.sightings) == 3
    for sighting in reply.sightings:
        assert {name for name in SIGHTING_FIELDS if not present(sighting, name)} == cleared
        assert sighting.camera_id and sighting.zone  # the rest of the answer is untouched
    assert {f"sightings.{name}" for name in cleared} <= set(records[0].obligations["redact_fields"])


@pytest.mark.parametrize(("user", "source_url_kept"), [("traffic-operator", False),
                                                      ("police-operator", True)])
async def test_camera_source_urls_are_redacted_without_video(harness: Harness, user: str,
                                                             source_url_kept: bool) -> None:
    outcome, _, _ = await call(harness, user, LIST_CAMERAS, realistic(user, LIST_CAMERAS, set()))
    (reply,) = outcome.responses
    assert reply.cameras and all(bool(c.source_url) == source_url_kept for c in reply.cameras)
    assert all(c.id and c.zone for c in reply.cameras)


@pytest.mark.parametrize(("user", "snapshot_kept"), [("traffic-operator", False),
                                                    ("police-operator", True)])
async def test_redaction_applies_to_every_message_of_a_server_stream(harness: Harness, user: str,
                                                                     snapshot_kept: bool) -> None:
    with answering(harness, STREAM_ALERTS, 3):
        request = alert_pb2.StreamAlertsRequest(zones=[Caller(user, AGENCY[user]).zone])
        outcome, records, _ = await call(harness, user, STREAM_ALERTS, request)
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    assert len(outcome.responses) == 3
    for message in outcome.responses:
        assert bool(message.alert.snapshot_id) == snapshot_kept
        assert message.alert.HasField("plate")  # both agencies are granted plate data
    (record,) = records
    assert (record.allowed, record.status) == (True, "OK")


async def test_client_stream_is_served_whole_after_admission(harness: Harness) -> None:
    frames = [camera_pb2.PushFramesRequest(camera_id="bwc-police-01", image=JPEG,
                                           captured=timestamp(last_day().end.ToDatetime()))] * 3
    outcome, records, served = await call(harness, "bodycam-01", PUSH_FRAMES, frames)
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    assert served == 1 and harness.recorder.invocations[-1].messages_in == 3
    (record,) = records
    assert (record.allowed, record.action, record.resource["cameras"]) == (
        True, "ingest.push_frames", ["bwc-police-01"])


async def test_a_servicer_error_after_admission_is_logged_with_its_status(harness: Harness) -> None:
    harness.recorder.raise_in[GET_CAMERA] = NotFound("no camera 'cam-medina-03'")
    try:
        outcome, records, served = await call(harness, "police-operator", GET_CAMERA,
                                              camera_pb2.GetCameraRequest(camera_id="cam-medina-03"))
    finally:
        del harness.recorder.raise_in[GET_CAMERA]
    assert (outcome.code, served) == (grpc.StatusCode.NOT_FOUND, 1)
    assert "cam-medina-03" in outcome.details
    (record,) = records
    assert (record.allowed, record.status, record.result_count) == (True, "NOT_FOUND", 0)
    assert record.reasons == ["no camera 'cam-medina-03'"]


async def test_a_servicer_crash_is_still_logged(harness: Harness) -> None:
    harness.recorder.raise_in[GET_CAMERA] = RuntimeError("database driver bug")
    try:
        outcome, records, served = await call(harness, "police-operator", GET_CAMERA,
                                              camera_pb2.GetCameraRequest(camera_id="cam-medina-01"))
    finally:
        del harness.recorder.raise_in[GET_CAMERA]
    assert outcome.code != grpc.StatusCode.OK and not outcome.responses
    assert served == 1
    (record,) = records
    assert (record.allowed, record.status, record.result_count) == (True, "INTERNAL", 0)
    assert record.reasons == ["servicer failed: RuntimeError"]
    assert record.policy_revision == harness.revision


async def test_a_servicer_crash_answers_internal_without_its_internals(harness: Harness) -> None:
    harness.recorder.raise_in[GET_CAMERA] = RuntimeError("database driver bug")
    try:
        outcome, _, _ = await call(harness, "police-operator", GET_CAMERA,
                                   camera_pb2.GetCameraRequest(camera_id="cam-medina-01"))
    finally:
        del harness.recorder.raise_in[GET_CAMERA]
    assert outcome.code == grpc.StatusCode.INTERNAL
    assert "database driver bug" not in outcome.details and "RuntimeError" not in outcome.details


# ---- state-changing calls: logged on admission, before the servicer acts ------------------------

CONFIRM_MATCH = "/basira.v1.AlertService/ConfirmMatch"
DECOMMISSION = "/basira.v1.CameraService/DecommissionCamera"


async def test_a_state_changing_call_is_logged_on_admission_then_on_completion(harness: Harness) -> None:
    sent = alert_pb2.ConfirmMatchRequest(alert_id="alert-1", note="same person")
    outcome, records, served = await call(harness, "police-operator", CONFIRM_MATCH, sent)
    assert (outcome.code, served) == (grpc.StatusCode.OK, 1), outcome.details
    assert [(r.allowed, r.status, r.result_count) for r in records] == [(True, "ADMITTED", None),
                                                                        (True, "OK", 1)]
    admitted, completed = records
    assert admitted.id != completed.id
    for record in records:
        assert (record.user, record.action, record.method) == ("police-operator", "alert.confirm",
                                                               CONFIRM_MATCH)
        assert record.resource == admitted.resource and record.resource["alert"] == "alert-1"
        assert record.obligations == harness.recorder.invocations[-1].obligations
        assert record.policy_revision == harness.revision


async def test_a_state_changing_call_that_fails_leaves_its_admission_and_its_failure(
        harness: Harness) -> None:
    harness.recorder.raise_in[DECOMMISSION] = NotFound("no camera 'cam-medina-03'")
    try:
        outcome, records, served = await call(harness, "police-admin", DECOMMISSION,
                                              camera_pb2.DecommissionCameraRequest(
                                                  camera_id="cam-medina-03", reason="replaced"))
    finally:
        del harness.recorder.raise_in[DECOMMISSION]
    assert (outcome.code, served) == (grpc.StatusCode.NOT_FOUND, 1)
    assert [(r.status, r.result_count) for r in records] == [("ADMITTED", None), ("NOT_FOUND", 0)]


async def test_a_denied_state_changing_call_leaves_one_record(harness: Harness) -> None:
    outcome, records, served = await call(harness, "traffic-operator", CONFIRM_MATCH,
                                          alert_pb2.ConfirmMatchRequest(alert_id="alert-1"))
    assert (outcome.code, served) == (grpc.StatusCode.PERMISSION_DENIED, 0)
    assert [(r.allowed, r.status) for r in records] == [(False, "PERMISSION_DENIED")]
