"""Alert records: folding repeats, transitions, the two-person rule, stream filters, recipients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from basira.alerting import alerts
from basira.alerting.alerts import (
    AlertRecord,
    agency_subject,
    fold_sighting,
    plate_purpose,
    recipient_candidates,
    stream_filter,
    within_window,
)
from basira.common.errors import FailedPrecondition, InvalidInput, PermissionDenied
from basira.v1 import alert_pb2

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _alert(kind: int = alerts.KIND_FACE_MATCH, state: int = alerts.OPEN) -> AlertRecord:
    return AlertRecord(id="a1", kind=kind, state=state, agency="police", zone="medina", camera_id="cam-1",
                       target="face:wl/s1", raised=T0, last_seen=T0)


def test_numbers_match_the_contract() -> None:
    assert alerts.KIND_PLATE_HIT == alert_pb2.ALERT_KIND_PLATE_HIT
    assert alerts.KIND_FACE_MATCH == alert_pb2.ALERT_KIND_FACE_MATCH
    assert alerts.KIND_CAMERA_HEALTH == alert_pb2.ALERT_KIND_CAMERA_HEALTH
    assert alerts.PENDING_CONFIRMATION == alert_pb2.ALERT_STATE_PENDING_CONFIRMATION
    assert alerts.CONFIRMED == alert_pb2.ALERT_STATE_CONFIRMED
    assert alerts.REJECTED == alert_pb2.ALERT_STATE_REJECTED
    assert alerts.ESCALATED == alert_pb2.ALERT_STATE_ESCALATED


def test_fold_counts_and_keeps_the_latest_time() -> None:
    window = timedelta(seconds=120)
    assert within_window(T0, T0 + timedelta(seconds=90), window)
    assert not within_window(T0, T0 + timedelta(seconds=121), window)
    folded = fold_sighting(_alert(), T0 + timedelta(seconds=60), "snap-2")
    assert (folded.sightings, folded.last_seen, folded.snapshot_id, folded.version) == (
        2, T0 + timedelta(seconds=60), "snap-2", 2)
    older = fold_sighting(folded, T0 - timedelta(seconds=5), "snap-0")  # late, out-of-order delivery
    assert (older.sightings, older.last_seen, older.snapshot_id) == (3, folded.last_seen, "snap-2")


def test_face_match_needs_two_different_people() -> None:
    first = alerts.confirm(_alert(), "amina")
    assert first.state == alerts.PENDING_CONFIRMATION and first.confirmed_by == ("amina",)
    with pytest.raises(PermissionDenied, match="two-person rule"):
        alerts.confirm(first, "amina")
    second = alerts.confirm(first, "youssef")
    assert second.state == alerts.CONFIRMED and second.confirmed_by == ("amina", "youssef")
    with pytest.raises(FailedPrecondition):
        alerts.confirm(second, "karim")


def test_plate_hit_is_confirmed_by_one_person_and_health_never() -> None:
    assert alerts.confirm(_alert(alerts.KIND_PLATE_HIT), "amina").state == alerts.CONFIRMED
    with pytest.raises(FailedPrecondition):
        alerts.confirm(_alert(alerts.KIND_CAMERA_HEALTH), "amina")


def test_reject_ack_and_escalate() -> None:
    rejected = alerts.reject(alerts.confirm(_alert(), "amina"), "youssef")
    assert rejected.state == alerts.REJECTED and rejected.rejected_by == "youssef"
    with pytest.raises(FailedPrecondition):
        alerts.reject(rejected, "karim")
    with pytest.raises(FailedPrecondition):
        alerts.acknowledge(rejected, "karim")
    acked = alerts.acknowledge(alerts.acknowledge(_alert(), "amina"), "amina")
    assert acked.state == alerts.ACKNOWLEDGED and acked.acknowledged_by == ("amina",)
    pending = alerts.acknowledge(alerts.confirm(_alert(), "amina"), "karim")
    assert pending.state == alerts.PENDING_CONFIRMATION  # acknowledging does not reopen a confirmation
    escalated = alerts.escalate(_alert(), "amina", " gendarmerie ")
    assert (escalated.state, escalated.escalated_to, escalated.actor) == (
        alerts.ESCALATED, "gendarmerie", "amina")
    with pytest.raises(InvalidInput):
        alerts.escalate(_alert(), "amina", " ")


def test_stream_filter_intersects_request_and_grant() -> None:
    wanted = stream_filter(["medina", "airport"], [alerts.KIND_PLATE_HIT], ["medina", "port"], None)
    assert wanted.passes(alerts.KIND_PLATE_HIT, "medina", "c1")
    assert not wanted.passes(alerts.KIND_PLATE_HIT, "airport", "c1")  # asked for, not granted
    assert not wanted.passes(alerts.KIND_PLATE_HIT, "port", "c1")  # granted, not asked for
    assert not wanted.passes(alerts.KIND_FACE_MATCH, "medina", "c1")
    everything = stream_filter([], [], None, None)
    assert everything.passes(alerts.KIND_CAMERA_HEALTH, "anywhere", "c9")
    by_camera = stream_filter([], [], ["port"], ["bwc-1"])
    assert by_camera.passes(alerts.KIND_PLATE_HIT, "", "bwc-1") and not by_camera.passes(1, "medina", "c")


def test_recipients_and_subjects() -> None:
    assert recipient_candidates("police", ["traffic", "police", "bad.name", ""]) == ["police", "traffic"]
    assert agency_subject("police") == "alerts.police"
    with pytest.raises(InvalidInput):
        agency_subject("a.b")
    assert plate_purpose(1) == "stolen-vehicle" and plate_purpose(99) == "stolen-vehicle"
