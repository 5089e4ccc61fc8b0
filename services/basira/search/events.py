"""Search's NATS side: the plate and face indexers (`detections.plate.>`, `detections.face.>`), the
counts indexer (`counts.>`) and the evidence holds of confirmed face matches (`alerts.>`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from basira.common.errors import FailedPrecondition
from basira.common.nats import Outcome, PullConsumer, decoded
from basira.common.plate_text import PlateTextError, normalize_plate
from basira.common.timestamps import to_datetime
from basira.search.domain import Rect
from basira.search.store import FaceSightingIn, PlateSightingIn, SearchStore
from basira.v1 import alert_pb2, events_pb2

log = logging.getLogger(__name__)

PLATE_SUBJECT = "detections.plate.>"
PLATE_DURABLE = "search-indexer"
FACE_SUBJECT = "detections.face.>"
FACE_DURABLE = "search-faces"
COUNTS_SUBJECT = "counts.>"
COUNTS_DURABLE = "search-counts"
ALERTS_SUBJECT = "alerts.>"
EVIDENCE_DURABLE = "search-evidence"
# States of a face candidate not yet decided (confirmed by two people, or rejected).
OPEN_CANDIDATE = frozenset({alert_pb2.ALERT_STATE_OPEN, alert_pb2.ALERT_STATE_ACKNOWLEDGED,
                            alert_pb2.ALERT_STATE_PENDING_CONFIRMATION, alert_pb2.ALERT_STATE_ESCALATED})


_when = to_datetime


def plate_sighting_from_event(event: events_pb2.PlateDetectionEvent) -> PlateSightingIn:
    """The row to store for one plate detection; raises ValueError if the event is unusable."""
    if not event.id or not event.camera_id:
        raise ValueError("plate detection without id or camera_id")
    key = normalize_plate(event.plate.text)  # PlateTextError is a ValueError
    seen = _when(event.captured) or datetime.now(UTC)
    box = event.plate.box
    position = event.position if event.HasField("position") else None
    return PlateSightingIn(
        id=event.id, camera_id=event.camera_id, zone=event.zone, owner_agency=event.owner_agency,
        seen=seen, plate_key=key, plate_display=event.plate.display or key,
        plate_country=event.plate.country, confidence=event.plate.confidence,
        box=Rect(box.x, box.y, box.width, box.height) if box.width > 0 and box.height > 0 else None,
        snapshot_id=event.snapshot_id, frame_id=event.frame_id,
        latitude=position.latitude if position else None,
        longitude=position.longitude if position else None,
        snapshot_jpeg=bytes(event.snapshot_jpeg),
    )


def face_sighting_from_event(event: events_pb2.FaceDetectionEvent) -> FaceSightingIn:
    """The row to store for one face detection; raises ValueError if the event is unusable."""
    if not event.id or not event.camera_id or not event.model or not event.embedding:
        raise ValueError("face detection without id, camera_id, model or embedding")
    box = event.box
    position = event.position if event.HasField("position") else None
    return FaceSightingIn(
        id=event.id, camera_id=event.camera_id, zone=event.zone, owner_agency=event.owner_agency,
        seen=_when(event.captured) or datetime.now(UTC),
        box=Rect(box.x, box.y, box.width, box.height) if box.width > 0 and box.height > 0 else None,
        snapshot_id=event.snapshot_id, track_id=event.track_id, model=event.model,
        embedding=tuple(event.embedding), latitude=position.latitude if position else None,
        longitude=position.longitude if position else None, snapshot_jpeg=bytes(event.snapshot_jpeg))


class Indexer:
    """Turns detection and count events into rows; redelivery of an event id changes nothing."""

    def __init__(self, store: SearchStore) -> None:
        self.store = store

    async def handle_plate(self, msg: Msg) -> Outcome:
        try:
            event = events_pb2.PlateDetectionEvent.FromString(msg.data)
            sighting = plate_sighting_from_event(event)
        except (DecodeError, ValueError, PlateTextError) as exc:
            log.warning("unusable plate detection dropped", extra={"subject": msg.subject,
                                                                   "error": str(exc)})
            return Outcome.TERM
        await self.store.add_plate_sighting(sighting)
        return Outcome.ACK

    async def handle_face(self, msg: Msg) -> Outcome:
        try:
            sighting = face_sighting_from_event(events_pb2.FaceDetectionEvent.FromString(msg.data))
        except (DecodeError, ValueError) as exc:
            log.warning("unusable face detection dropped", extra={"subject": msg.subject, "error": str(exc)})
            return Outcome.TERM
        try:
            await self.store.add_face_sighting(sighting)
        except FailedPrecondition as exc:  # a dimension search keeps no index for: never searchable
            log.warning("face detection not indexed", extra={"subject": msg.subject, "error": exc.message})
            return Outcome.TERM
        return Outcome.ACK

    async def handle_alert(self, msg: Msg) -> Outcome:
        """A face candidate's face is held from the unmatched purge while it is open, as evidence once
        two people confirmed it, and released if it is rejected (retention.py)."""
        event = decoded(msg, events_pb2.AlertEvent, "alert event", log)
        if event is None:
            return Outcome.TERM
        alert = event.alert
        sighting_id = alert.face_match.detection_id
        if alert.kind != alert_pb2.ALERT_KIND_FACE_MATCH or not sighting_id:
            return Outcome.ACK
        if alert.state == alert_pb2.ALERT_STATE_CONFIRMED:
            if await self.store.hold_face(sighting_id, alert.id, datetime.now(UTC)):
                log.info("confirmed face match held as evidence", extra={"alert_id": alert.id})
            else:  # held all the same: it is kept if it is indexed later
                log.error("confirmed face match without its face sighting: not indexed yet, or erased "
                          "before the confirmation", extra={"alert_id": alert.id, "sighting_id": sighting_id})
        elif alert.state == alert_pb2.ALERT_STATE_REJECTED:
            await self.store.release_candidate(sighting_id, alert.id)
        elif alert.state in OPEN_CANDIDATE:
            await self.store.hold_candidate(sighting_id, alert.id)
        return Outcome.ACK

    async def handle_count(self, msg: Msg) -> Outcome:
        event = decoded(msg, events_pb2.CountEvent, "count event", log)
        if event is None:
            return Outcome.TERM
        minute = _when(event.minute)
        if not event.camera_id or minute is None:
            log.warning("count event without camera or minute dropped", extra={"subject": msg.subject})
            return Outcome.TERM
        await self.store.upsert_count(event.id, event.camera_id, event.zone,
                                      minute.replace(second=0, microsecond=0), event.vehicles,
                                      event.persons, event.frames)
        return Outcome.ACK


def consumers(js: JetStreamContext, indexer: Indexer, *, batch: int = 32,
              plate_durable: str = PLATE_DURABLE, counts_durable: str = COUNTS_DURABLE,
              face_durable: str = FACE_DURABLE, evidence_durable: str = EVIDENCE_DURABLE,
              deliver_new_only: bool = False) -> list[PullConsumer]:
    """The durable pull consumers every search replica shares."""
    return [
        PullConsumer(js, "DETECTIONS", FACE_SUBJECT, face_durable, indexer.handle_face, batch=batch,
                     deliver_new_only=deliver_new_only),
        PullConsumer(js, "DETECTIONS", PLATE_SUBJECT, plate_durable, indexer.handle_plate, batch=batch,
                     deliver_new_only=deliver_new_only),
        PullConsumer(js, "COUNTS", COUNTS_SUBJECT, counts_durable, indexer.handle_count, batch=batch,
                     deliver_new_only=deliver_new_only),
        PullConsumer(js, "ALERTS", ALERTS_SUBJECT, evidence_durable, indexer.handle_alert, batch=batch,
                     deliver_new_only=deliver_new_only),
    ]
