"""The face pipeline end to end, through public gRPC APIs only, on the real embedded platform:
enrol a person from one photo → a different photo of the same person pushed as body-camera frames →
one candidate alert → one confirmation is not enough, the same person twice is refused, a second
operator confirms → search by image finds the sighting → an agency without the grant gets
PERMISSION_DENIED and nothing else → every step is in the access log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from basira.runtime.supervisor import Platform
from basira.v1 import (
    alert_pb2,
    alert_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    camera_pb2,
    common_pb2,
    search_pb2,
    search_pb2_grpc,
    watchlist_pb2,
    watchlist_pb2_grpc,
)
from e2e.clients import AlertListener, channel, metadata, register_camera, wait_until
from e2e.scenes import push_frames

pytestmark = pytest.mark.integration

ENROL_PHOTO, LIVE_PHOTO = "img20.jpg", "img21.jpg"  # the same person (pairs.csv: Yes)
BODYCAM = "bwc-police-02"
CASE = "CASE-2026-0808"


def access(hours: float = 72) -> common_pb2.AccessContext:
    authorization = common_pb2.Authorization(id="COURT-ORDER-88", issued_by="court", scope_zones=["medina"])
    authorization.expires.FromDatetime(datetime.now(UTC) + timedelta(hours=hours))
    return common_pb2.AccessContext(purpose="serious-crime", case_id=CASE, authorization=authorization)


def audit_records(platform: Platform, action: str) -> list[dict[str, object]]:
    audit = audit_pb2_grpc.AuditServiceStub(channel(platform, "audit"))
    page = audit.QueryAccessLog(audit_pb2.QueryAccessLogRequest(
        action=action, page=common_pb2.PageRequest(page_size=1000)),
        metadata=metadata(platform, "oversight-auditor"))
    return [json.loads(row.record_json) for row in page.records]


def test_enrol_match_confirm_by_two_and_log(platform: Platform, shared_data: Path) -> None:
    pairs = shared_data / "faces" / "pairs"
    investigator = metadata(platform, "police-investigator")
    watchlists = watchlist_pb2_grpc.WatchlistServiceStub(channel(platform, "analytics"))
    created = watchlists.CreateWatchlist(watchlist_pb2.CreateWatchlistRequest(
        watchlist=watchlist_pb2.Watchlist(name="e2e serious crime"), access=access()),
        metadata=investigator).watchlist
    expires = datetime.now(UTC) + timedelta(hours=48)
    enrol = watchlist_pb2.EnrolSubjectRequest(
        watchlist_id=created.id, label="SUBJECT-A", images=[(pairs / ENROL_PHOTO).read_bytes()],
        legal_basis=watchlist_pb2.LegalBasis(kind="arrest-warrant", reference="AW-88", issued_by="court"),
        access=access())
    enrol.expires.FromDatetime(expires)
    subject = watchlists.EnrolSubject(enrol, metadata=investigator).subject
    assert subject.enrolled_images == 1

    # Another agency may not add to the police list: refused, nothing stored.
    with pytest.raises(grpc.RpcError) as refused:
        watchlists.EnrolSubject(enrol, metadata=metadata(platform, "gendarmerie-investigator"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED

    register_camera(platform, camera_pb2.Camera(id=BODYCAM, name="Body-worn 02", zone="medina",
                                                kind=camera_pb2.CAMERA_KIND_BODY_WORN, owner_agency="police",
                                                analysis_fps=5.0))
    operator = AlertListener(platform, "police-operator")
    try:
        pushed = push_frames(platform, BODYCAM, (pairs / LIVE_PHOTO).read_bytes(), count=4, gap_s=0.3,
                             battery_percent=None)
        assert pushed.frames_published >= 2, pushed

        def face_alerts() -> list[alert_pb2.Alert]:
            latest: dict[str, alert_pb2.Alert] = {}
            for a in operator.alerts:
                if a.kind == alert_pb2.ALERT_KIND_FACE_MATCH and a.face_match.subject_id == subject.id:
                    latest[a.id] = a
            return list(latest.values())

        wait_until(face_alerts, 120, f"the face candidate in the police room (error: {operator.error})")
        time.sleep(3.0)  # every pushed frame has been matched by now: still one candidate (one passage)
        assert len(face_alerts()) == 1, face_alerts()
        alert = face_alerts()[0]
        assert alert.camera_id == BODYCAM and alert.agency == "police"
        assert alert.state == alert_pb2.ALERT_STATE_OPEN
        match = alert.face_match
        assert match.case_id == CASE and match.authorization_id == "COURT-ORDER-88"
        assert match.subject_label == "SUBJECT-A" and 0 <= match.distance <= 0.55
    finally:
        operator.close()

    alerts = alert_pb2_grpc.AlertServiceStub(channel(platform, "alerting"))
    first = alerts.ConfirmMatch(alert_pb2.ConfirmMatchRequest(alert_id=alert.id, note="looks like him"),
                                metadata=metadata(platform, "police-operator")).alert
    assert first.state == alert_pb2.ALERT_STATE_PENDING_CONFIRMATION
    assert list(first.confirmed_by) == ["police-operator"]
    with pytest.raises(grpc.RpcError) as twice:
        alerts.ConfirmMatch(alert_pb2.ConfirmMatchRequest(alert_id=alert.id),
                            metadata=metadata(platform, "police-operator"))
    assert twice.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as outsider:
        alerts.ConfirmMatch(alert_pb2.ConfirmMatchRequest(alert_id=alert.id),
                            metadata=metadata(platform, "traffic-analyst"))
    assert outsider.value.code() == grpc.StatusCode.PERMISSION_DENIED
    second = alerts.ConfirmMatch(alert_pb2.ConfirmMatchRequest(alert_id=alert.id, note="confirmed"),
                                 metadata=metadata(platform, "police-operator2")).alert
    assert second.state == alert_pb2.ALERT_STATE_CONFIRMED
    assert list(second.confirmed_by) == ["police-operator", "police-operator2"]

    # The investigator searches by the enrolment photo, under the case and authorization: the sighting.
    search = search_pb2_grpc.SearchServiceStub(channel(platform, "search"))
    query = search_pb2.SearchFacesRequest(image=(pairs / ENROL_PHOTO).read_bytes(), access=access())
    found: list[search_pb2.Sighting] = []

    def sighting_indexed() -> bool:
        found[:] = search.SearchFaces(query, metadata=investigator).sightings
        return bool(found)

    wait_until(sighting_indexed, 60, "the face sighting to be searchable")
    assert {s.camera_id for s in found} == {BODYCAM}
    assert all(s.kind == search_pb2.SIGHTING_KIND_FACE and 0 <= s.distance <= 0.55 for s in found)
    assert found == sorted(found, key=lambda s: s.distance) and found[0].face.width > 0
    follow = search_pb2.GetTrajectoryRequest(sighting_id=found[0].id, access=access())
    trajectory = search.GetTrajectory(follow, metadata=investigator)
    assert [s.camera_id for s in trajectory.sightings] == [BODYCAM]
    # Listed among the face sightings of the authorization's zones, a page at a time; never to traffic.
    listed: list[str] = []
    token = ""
    for _ in range(50):
        page = search.ListSightings(search_pb2.ListSightingsRequest(
            kind=search_pb2.SIGHTING_KIND_FACE, access=access(),
            page=common_pb2.PageRequest(page_size=100, page_token=token)), metadata=investigator)
        assert len(page.sightings) <= 20  # the policy's cap on face listings
        listed += [s.id for s in page.sightings]
        token = page.page.next_page_token
        if not token or found[0].id in listed:
            break
    assert found[0].id in listed
    with pytest.raises(grpc.RpcError) as not_listed:
        search.ListSightings(search_pb2.ListSightingsRequest(kind=search_pb2.SIGHTING_KIND_FACE,
                                                             access=access()),
                             metadata=metadata(platform, "traffic-analyst"))
    assert not_listed.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # Someone else's face finds nothing; an agency without the biometric grant is refused outright.
    other = search_pb2.SearchFacesRequest(image=(pairs / "img16.jpg").read_bytes(), access=access())
    assert list(search.SearchFaces(other, metadata=investigator).sightings) == []
    with pytest.raises(grpc.RpcError) as denied:
        search.SearchFaces(query, metadata=metadata(platform, "traffic-analyst"))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "biometric" in (denied.value.details() or "")
    with pytest.raises(grpc.RpcError) as no_case:
        search.SearchFaces(search_pb2.SearchFacesRequest(image=query.image,
                                                         access=common_pb2.AccessContext(purpose="serious-crime")),
                           metadata=investigator)
    assert no_case.value.code() == grpc.StatusCode.PERMISSION_DENIED

    def logged() -> bool:
        enrolments = [r for r in audit_records(platform, "watchlist.enrol_subject") if r["allowed"]]
        matches = [r for r in audit_records(platform, "match.live_face") if r["allowed"]]
        confirms = [r for r in audit_records(platform, "alert.confirm")
                    if r["resource"].get("subject_id") == subject.id]  # type: ignore[attr-defined]
        ours = [r for r in matches if r["biometric"].get("subject_id") == subject.id  # type: ignore[attr-defined]
                and r["biometric"].get("watchlist") == created.id  # type: ignore[attr-defined]
                and r["biometric"].get("input")]  # type: ignore[attr-defined]
        searches = audit_records(platform, "search.face")
        return (bool(enrolments) and bool(ours)
                and any(r["allowed"] and r["case_id"] == CASE for r in searches)
                and any(not r["allowed"] and r["user"] == "traffic-analyst" for r in searches)
                and {r["user"] for r in confirms if r["allowed"]} >= {"police-operator", "police-operator2"}
                and any(not r["allowed"] and r["user"] == "police-operator" for r in confirms))

    wait_until(logged, 30, "the enrolment, the match (watchlist, input) and both confirmations in the log")

    # The same search from the command line, as an operator would run it for any photo set.
    order_expires = (datetime.now(UTC) + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cli = subprocess.run(
        [sys.executable, "-m", "basira.cli.main", "search", "face", str(pairs / ENROL_PHOTO),
         "--data-dir", str(platform.config.data_dir), "--purpose", "serious-crime", "--case", CASE,
         "--authorization", "COURT-ORDER-88", "--authorization-zone", "medina",
         "--authorization-expires", order_expires],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "BASIRA_USER": "police-investigator",
             "BASIRA_PASSWORD": "police-investigator-dev-password"})
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["sightings"][0]["camera_id"] == BODYCAM
