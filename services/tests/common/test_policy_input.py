"""The policy input, result counting and generic obligations, built from real contract messages."""

from __future__ import annotations

from datetime import UTC, datetime

from basira.common.policy_input import (
    apply_response_obligations,
    context_from_request,
    resource_from_request,
    result_count,
)
from basira.v1 import camera_pb2, common_pb2, search_pb2


def _search_request() -> search_pb2.SearchPlatesRequest:
    request = search_pb2.SearchPlatesRequest(plate="AB123CD")
    request.scope.zone = "medina"
    request.scope.camera_ids.extend(["cam-2", "cam-1", "cam-2"])
    request.scope.time.start.FromDatetime(datetime(2026, 11, 1, tzinfo=UTC))
    request.access.purpose = "theft-investigation"
    request.access.case_id = "CASE-1"
    request.access.authorization.id = "ORD-7"
    request.access.authorization.issued_by = "court"
    request.access.authorization.scope_zones.append("medina")
    request.access.authorization.expires.FromDatetime(datetime(2026, 12, 1, tzinfo=UTC))
    return request


def test_resource_reads_scope_cameras_zone_and_time() -> None:
    resource = resource_from_request(_search_request(), "plate")
    assert resource == {"data_class": "plate", "zone": "medina", "cameras": ["cam-1", "cam-2"],
                        "time_from": "2026-11-01T00:00:00.000000Z"}


def test_resource_reads_camera_message_fields() -> None:
    request = camera_pb2.RegisterCameraRequest(camera=camera_pb2.Camera(id="cam-9", zone="port",
                                                                         owner_agency="police"))
    assert resource_from_request(request, "camera_meta") == {
        "data_class": "camera_meta", "cameras": ["cam-9"], "zone": "port", "owner_agency": "police"}


def test_context_carries_purpose_case_and_authorization() -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    context = context_from_request(_search_request(), source_ip="10.0.0.5", now=now)
    assert context == {
        "time": "2026-11-21T12:00:00.000000Z", "source_ip": "10.0.0.5",
        "purpose": "theft-investigation", "case_id": "CASE-1",
        "authorization": {"id": "ORD-7", "issued_by": "court",
                          "scope": {"zones": ["medina"], "cameras": []},
                          "expires": "2026-12-01T00:00:00.000000Z"},
    }


def test_context_without_access_field_has_only_time_and_source() -> None:
    context = context_from_request(camera_pb2.GetCameraRequest(camera_id="x"), source_ip="::1")
    assert set(context) == {"time", "source_ip"}


def test_max_results_truncates_and_counts_what_is_left() -> None:
    response = search_pb2.SearchPlatesResponse(
        sightings=[search_pb2.Sighting(id=str(i)) for i in range(5)])
    applied = apply_response_obligations(response, {"max_results": 2})
    assert applied == {"max_results": 2}
    assert [s.id for s in response.sightings] == ["0", "1"]
    assert result_count(response) == 2


def test_redact_fields_clears_nested_fields_in_every_item() -> None:
    response = search_pb2.SearchPlatesResponse(sightings=[
        search_pb2.Sighting(id="a", position=common_pb2.GeoPoint(latitude=1, longitude=2)),
        search_pb2.Sighting(id="b", position=common_pb2.GeoPoint(latitude=3, longitude=4))])
    applied = apply_response_obligations(response, {"redact_fields": ["sightings.position", "nope"]})
    assert applied == {"redact_fields": ["sightings.position"]}
    assert not any(s.HasField("position") for s in response.sightings)
    assert [s.id for s in response.sightings] == ["a", "b"]


def test_single_object_response_counts_as_one() -> None:
    assert result_count(search_pb2.GetEvidenceResponse(image=b"x")) == 1
