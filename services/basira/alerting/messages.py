"""Protobuf ⇄ alert records: what a candidate or a camera alarm becomes, and the Alert message."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import cast

from basira.alerting.alerts import (
    KIND_CAMERA_HEALTH,
    KIND_FACE_MATCH,
    KIND_PLATE_HIT,
    OPEN,
    AlertRecord,
)
from basira.common.timestamps import to_datetime
from basira.v1 import alert_pb2, analytics_pb2, events_pb2, watchlist_pb2

ALARM_STATES = frozenset({"alarm", "alert", "failed", "lost", "critical", "low", "stream_state_failed"})
"""Camera health states that raise an alert (ingest reports "alert"; events.proto says "alarm"; power
reports "low", "critical" and "lost": grid power lost)."""


when = to_datetime


def new_alert_id() -> str:
    return uuid.uuid4().hex


def candidate_target(kind: int, event: events_pb2.MatchCandidateEvent) -> str:
    """What a candidate is about, for dedupe: the hotlist entry (else plate), or the watchlist subject."""
    if kind == KIND_FACE_MATCH:
        return f"face:{event.watchlist_id}/{event.subject_id}"
    if event.hotlist_entry.id:
        return f"entry:{event.hotlist_entry.id}"
    return f"plate:{event.plate.text}"


def candidate_summary(kind: int, event: events_pb2.MatchCandidateEvent) -> str:
    where = f"{event.camera_id}" + (f" ({event.zone})" if event.zone else "")
    if kind == KIND_FACE_MATCH:
        who = event.subject_label or event.subject_id
        return (f"Face match candidate: {who} (watchlist {event.watchlist_id}) at {where}; two different "
                "authorised people must confirm it")
    reason = watchlist_pb2.HotlistReason.Name(event.hotlist_entry.reason).removeprefix("HOTLIST_REASON_")
    plate = event.plate.display or event.plate.text
    return f"Hotlist hit: plate {plate} ({reason.lower()}) at {where}"


def alert_from_candidate(kind: int, event: events_pb2.MatchCandidateEvent, agency: str,
                         *, now: datetime | None = None) -> AlertRecord:
    seen = when(event.seen) or now or datetime.now(UTC)
    return AlertRecord(
        id=new_alert_id(), kind=kind, state=OPEN, agency=agency, zone=event.zone,
        camera_id=event.camera_id, target=candidate_target(kind, event), raised=seen, last_seen=seen,
        summary=candidate_summary(kind, event),
        plate_pb=event.plate.SerializeToString() if event.HasField("plate") else b"",
        entry_pb=event.hotlist_entry.SerializeToString() if event.HasField("hotlist_entry") else b"",
        snapshot_id=event.snapshot_id,
        face_pb=face_match(event).SerializeToString() if kind == KIND_FACE_MATCH else b"",
    )


def face_match(event: events_pb2.MatchCandidateEvent) -> alert_pb2.FaceMatch:
    """What a face candidate's alert shows: the subject, the distance, and the case it is matched under."""
    return alert_pb2.FaceMatch(
        watchlist_id=event.watchlist_id, subject_id=event.subject_id, subject_label=event.subject_label,
        distance=event.distance, case_id=event.access.case_id,
        authorization_id=event.access.authorization.id, detection_id=event.detection_id,
        track_id=event.track_id)


def is_alarm(event: events_pb2.CameraHealthEvent) -> bool:
    return event.state.strip().lower() in ALARM_STATES


def alert_from_health(event: events_pb2.CameraHealthEvent, agency: str, *, now: datetime | None = None
                      ) -> AlertRecord:
    seen = when(event.time) or now or datetime.now(UTC)
    summary = f"Camera {event.camera_id}: {event.kind} {event.state}" + (f" — {event.detail}"
                                                                         if event.detail else "")
    return AlertRecord(id=new_alert_id(), kind=KIND_CAMERA_HEALTH, state=OPEN, agency=agency,
                       zone=event.zone, camera_id=event.camera_id, target=f"health:{event.kind}",
                       raised=seen, last_seen=seen, summary=summary)


def alert_to_proto(alert: AlertRecord, *, sequence: int | None = None) -> alert_pb2.Alert:
    message = alert_pb2.Alert(
        id=alert.id, sequence=alert.sequence if sequence is None else sequence,
        kind=cast(alert_pb2.AlertKind, alert.kind), state=cast(alert_pb2.AlertState, alert.state),
        agency=alert.agency, zone=alert.zone, camera_id=alert.camera_id,
        sightings=alert.sightings, summary=alert.summary, snapshot_id=alert.snapshot_id,
        acknowledged_by=list(alert.acknowledged_by), confirmed_by=list(alert.confirmed_by),
        escalated_to=alert.escalated_to, actor=alert.actor, escalated_from=alert.escalated_from,
        escalated_alert_id=alert.escalated_alert_id, follow_id=alert.follow_id, count=alert.count,
        threshold=alert.threshold, rejected_by=alert.rejected_by,
    )
    message.raised.FromDatetime(alert.raised)
    message.last_seen.FromDatetime(alert.last_seen)
    if alert.plate_pb:
        message.plate.CopyFrom(analytics_pb2.PlateReading.FromString(alert.plate_pb))
    if alert.entry_pb:
        message.hotlist_entry.CopyFrom(watchlist_pb2.HotlistEntry.FromString(alert.entry_pb))
    if alert.face_pb:
        message.face_match.CopyFrom(alert_pb2.FaceMatch.FromString(alert.face_pb))
    return message


def alert_event_bytes(alert: AlertRecord) -> bytes:
    """The AlertEvent published on alerts.<agency>; its stream sequence becomes Alert.sequence."""
    return events_pb2.AlertEvent(alert=alert_to_proto(alert, sequence=0)).SerializeToString()


KIND_FOR_SUBJECT = {"match.candidate.plate": KIND_PLATE_HIT, "match.candidate.face": KIND_FACE_MATCH}
