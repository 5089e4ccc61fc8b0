"""Alerting's NATS side: candidates, camera alarms, plate detections (live follows) and minute counts
(crowd, congestion) in; AlertEvents out on `alerts.<agency>`.

Every recipient of an alert is decided by policy, one logged act per agency asked: the hotlist entry's
owner plus the configured agencies (whose agreements may cover the zone). A policy outage naks the
event (retried later); a denial just means that agency does not receive it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from basira.alerting.alerts import (
    KIND_CROWD,
    KIND_DATA_CLASS,
    KIND_FACE_MATCH,
    KIND_PLATE_HIT,
    OPEN,
    AlertRecord,
    agency_subject,
    escalated_copy,
    plate_purpose,
    recipient_candidates,
)
from basira.alerting.config import AlertingSettings
from basira.alerting.follow_store import FollowStore
from basira.alerting.follows import TARGET_PLATE, follow_alert, sighting_context, watches
from basira.alerting.messages import (
    KIND_FOR_SUBJECT,
    alert_event_bytes,
    alert_from_candidate,
    alert_from_health,
    is_alarm,
    new_alert_id,
    when,
)
from basira.alerting.store import AlertStore
from basira.alerting.thresholds import Crossing, crossings
from basira.common.access_record import utc_now_iso
from basira.common.auth import Subject
from basira.common.errors import PermissionDenied, Unavailable
from basira.common.gate import Gate
from basira.common.nats import Outcome, PullConsumer, decoded, publish
from basira.common.plate_text import PlateTextError, normalize_plate
from basira.common.policy_input import context_from_request
from basira.v1 import events_pb2, watchlist_pb2

log = logging.getLogger(__name__)

MATCH_SUBJECT = "match.candidate.>"
MATCH_DURABLE = "alerting-matches"
HEALTH_SUBJECT = "camera.health.>"
HEALTH_DURABLE = "alerting-health"
ALERTS_STREAM = "ALERTS"

PLATE_ACTION = "match.plate"
FACE_ACTION = "match.live_face"
HEALTH_ACTION = "alert.camera_health"
ESCALATION_ACTION = "alert.deliver_escalation"
ESCALATION_DEFAULT_PURPOSE = "public-order"
FOLLOW_SUBJECT = "detections.plate.>"
FOLLOW_DURABLE = "alerting-follows"
FOLLOW_ACTION = "follow.sighting"
COUNTS_SUBJECT = "counts.>"
COUNTS_DURABLE = "alerting-counts"
COUNTS_ACTION = "alert.counts"


def service_subject(settings: AlertingSettings) -> Subject:
    """Who this service is when it asks policy whether an agency may receive an alert."""
    return Subject(user=settings.service_user, agency=settings.service_agency, roles=("service",),
                   clearance=0)


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else ""


class AlertEngine:
    """Candidate/health handlers, the outbox publisher, and person-driven transitions' publication."""

    def __init__(self, store: AlertStore, gate: Gate, js: JetStreamContext, settings: AlertingSettings,
                 *, agencies: Sequence[str] | None = None, follows: FollowStore | None = None) -> None:
        self.store, self.gate, self.js, self.settings = store, gate, js, settings
        self.follows = follows
        self.agencies = list(agencies) if agencies is not None else settings.agencies()
        self.subject = service_subject(settings)
        self.window = timedelta(seconds=settings.dedupe_window_s)

    # ---- publication (outbox) ----

    async def _publisher(self, alert: AlertRecord) -> int:
        return await publish(self.js, agency_subject(alert.agency), alert_event_bytes(alert),
                             f"{alert.id}:{alert.version}")

    async def publish(self, alert_id: str) -> AlertRecord | None:
        """Publish the alert's latest version; on a NATS refusal it stays queued for the republisher."""
        try:
            return await self.store.publish_latest(alert_id, self._publisher)
        except Unavailable as exc:
            log.warning("alert stored but not yet published; will retry",
                        extra={"alert_id": alert_id, "error": exc.message})
            return await self.store.get(alert_id)

    async def republish_loop(self, stop: asyncio.Event) -> None:
        """Publish alerts whose stored change was not published (NATS refused, or a crash between)."""
        interval = self.settings.republish_interval_s
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
                return
            except TimeoutError:
                pass
            try:
                cutoff = datetime.now(UTC) - timedelta(seconds=interval)
                for alert_id in await self.store.unpublished(older_than=cutoff):
                    await self.store.publish_latest(alert_id, self._publisher)
            except Unavailable as exc:
                log.warning("republish deferred", extra={"error": exc.message})
            except Exception:
                log.exception("republish pass failed")

    # ---- policy ----

    async def _may_receive(self, agency: str, action: str, resource: dict[str, Any],
                           context: dict[str, Any], **record: Any) -> bool:
        """One logged act: may `agency` receive this alert? Unavailable propagates (retry later)."""
        try:
            await self.gate.authorize_act(self.subject, action, {**resource, "recipient_agency": agency},
                                          context, recipients=[agency], **record)
        except PermissionDenied:
            return False
        return True

    # ---- escalation ----

    def escalation_purpose(self, alert: AlertRecord) -> str:
        """Why the alert is shared with the receiving agency: the purpose it was raised for."""
        if alert.kind == KIND_PLATE_HIT and alert.entry_pb:
            return plate_purpose(watchlist_pb2.HotlistEntry.FromString(alert.entry_pb).reason)
        if alert.kind == KIND_PLATE_HIT:
            return plate_purpose(0)
        if alert.kind == KIND_FACE_MATCH:
            return self.settings.face_match_purpose
        return self.settings.health_purpose or ESCALATION_DEFAULT_PURPOSE

    async def authorize_escalation(self, alert: AlertRecord, receiving_agency: str, actor: str) -> None:
        """The logged act "may `receiving_agency` receive this alert?"; PermissionDenied if not."""
        resource = {"zone": alert.zone, "cameras": [alert.camera_id] if alert.camera_id else [],
                    "data_class": KIND_DATA_CLASS.get(alert.kind, "alerts"),
                    "escalated_from": alert.agency, "alert_id": alert.id, "escalated_by": actor,
                    "recipient_agency": receiving_agency}
        context = {"purpose": self.escalation_purpose(alert), "time": utc_now_iso()}
        await self.gate.authorize_act(self.subject, ESCALATION_ACTION, resource, context,
                                      recipients=[receiving_agency])

    async def deliver_escalation(self, alert: AlertRecord, receiving_agency: str) -> AlertRecord:
        """Put the receiving agency's copy in its room (stored once, then published on its stream)."""
        copy = await self.store.receive_escalation(escalated_copy(alert, receiving_agency, new_alert_id()),
                                                   f"escalation:{alert.id}")
        return await self.publish(copy.id) or copy

    # ---- consumers ----

    async def handle_candidate(self, msg: Msg) -> Outcome:
        kind = KIND_FOR_SUBJECT.get(msg.subject)
        event = decoded(msg, events_pb2.MatchCandidateEvent, "match candidate", log)
        if event is None:
            return Outcome.TERM
        if kind is None or not event.id or not event.camera_id:
            log.warning("match candidate without kind, id or camera dropped", extra={"subject": msg.subject})
            return Outcome.TERM
        try:
            return await self.apply_candidate(kind, event)
        except Unavailable as exc:
            log.warning("candidate deferred", extra={"candidate": event.id, "error": exc.message})
            return Outcome.NAK

    async def apply_candidate(self, kind: int, event: events_pb2.MatchCandidateEvent) -> Outcome:
        """Raise or fold one candidate for every agency policy lets receive it."""
        entry = event.hotlist_entry
        seen = when(event.seen)
        resource: dict[str, Any] = {"zone": event.zone, "cameras": [event.camera_id], "seen": _iso(seen)}
        record: dict[str, Any] = {}
        # Purpose, case and authorization travel with the candidate if its contract carries an
        # `access` field (needed for live face matching); otherwise purposes come from settings.
        context = context_from_request(event)
        owner = entry.owner_agency
        if kind == KIND_FACE_MATCH:
            action, owner = FACE_ACTION, event.owner_agency
            resource.update({"data_class": "biometric", "watchlist": event.watchlist_id,
                             "subject_id": event.subject_id, "owner_agency": event.owner_agency})
            if event.HasField("entry_expires"):
                resource["entry_expires"] = _iso(when(event.entry_expires))
            context.setdefault("purpose", self.settings.face_match_purpose)
            record["biometric"] = {"watchlist": event.watchlist_id, "subject_id": event.subject_id,
                                   "input": event.detection_id, "snapshot_id": event.snapshot_id,
                                   "track_id": event.track_id, "distance": event.distance,
                                   "verified_by": []}
        else:
            action = PLATE_ACTION
            resource.update({"data_class": "plate", "hotlist_entry": entry.id, "plate": event.plate.text,
                             "owner_agency": entry.owner_agency,
                             "entry_expires": _iso(when(entry.expires))})
            context.setdefault("purpose", plate_purpose(entry.reason))
        # A face match goes to the watchlist's owner only; a plate hit may be shared by agreement.
        recipients = [owner] if kind == KIND_FACE_MATCH else recipient_candidates(owner, self.agencies)
        for agency in recipients:
            if not await self._may_receive(agency, action, resource, context, **record):
                continue
            alert = await self.store.apply_sighting(alert_from_candidate(kind, event, agency), event.id,
                                                    self.window)
            await self.publish(alert.id)
        return Outcome.ACK

    async def handle_plate_for_follows(self, msg: Msg) -> Outcome:
        """A plate detection: every live follow of that plate that may see this camera is told."""
        event = decoded(msg, events_pb2.PlateDetectionEvent, "plate detection", log)
        if event is None or not event.id or not event.camera_id:
            return Outcome.TERM
        try:
            key = normalize_plate(event.plate.text)
        except PlateTextError:
            return Outcome.TERM
        try:
            await self.deliver_follows(event, key)
        except Unavailable as exc:
            log.warning("follow sighting deferred", extra={"detection": event.id, "error": exc.message})
            return Outcome.NAK
        return Outcome.ACK

    async def deliver_follows(self, event: events_pb2.PlateDetectionEvent, key: str) -> int:
        """Raise a follow alert for each live follow of `key` policy lets see it; returns how many."""
        if self.follows is None:
            return 0
        seen = when(event.captured) or datetime.now(UTC)
        delivered = 0
        for follow in await self.follows.live_for(TARGET_PLATE, key, datetime.now(UTC)):
            if seen < follow.started or not watches(follow, event.zone, event.camera_id):
                continue  # seen before the follow started, or where it may not look
            resource = {"data_class": "plate", "zone": event.zone, "cameras": [event.camera_id],
                        "plate": key, "follow": follow.id, "seen": _iso(seen)}
            if not await self._may_receive(follow.agency, FOLLOW_ACTION, resource,
                                           sighting_context(follow, utc_now_iso())):
                continue
            alert = follow_alert(follow, alert_id=new_alert_id(), zone=event.zone, camera_id=event.camera_id,
                                 seen=seen, plate_pb=event.plate.SerializeToString(),
                                 snapshot_id=event.snapshot_id, display=event.plate.display or key)
            alert = await self.store.apply_sighting(alert, f"{event.id}:{follow.id}", self.window)
            await self.follows.note_sighting(follow.id, seen, event.camera_id)
            await self.publish(alert.id)
            delivered += 1
        return delivered

    async def handle_count(self, msg: Msg) -> Outcome:
        """A camera's minute of counts: crowd / congestion alerts where a threshold is reached."""
        event = decoded(msg, events_pb2.CountEvent, "count event", log)
        if event is None or not event.id or not event.camera_id:
            return Outcome.TERM
        try:
            await self.apply_counts(event)
        except Unavailable as exc:
            log.warning("count alert deferred", extra={"count": event.id, "error": exc.message})
            return Outcome.NAK
        return Outcome.ACK

    async def apply_counts(self, event: events_pb2.CountEvent) -> int:
        """Raise or update one alert per threshold reached, for every agency policy lets receive it."""
        raised = 0
        minute = when(event.minute) or datetime.now(UTC)
        for crossing in crossings(self.settings.count_thresholds, event.camera_id, event.zone,
                                  event.persons, event.vehicles):
            resource = {"zone": event.zone, "cameras": [event.camera_id], "alert_kind": crossing.noun}
            context: dict[str, Any] = {"time": utc_now_iso()}
            for agency in recipient_candidates("", self.agencies):
                if not await self._may_receive(agency, COUNTS_ACTION, resource, context):
                    continue
                alert = count_alert(crossing, event, agency, minute)
                alert = await self.store.apply_sighting(alert, f"{event.id}:{crossing.kind}", self.window)
                await self.publish(alert.id)
                raised += 1
        return raised

    async def handle_health(self, msg: Msg) -> Outcome:
        event = decoded(msg, events_pb2.CameraHealthEvent, "camera health event", log)
        if event is None:
            return Outcome.TERM
        if not event.id or not event.camera_id:
            return Outcome.TERM
        if not is_alarm(event):
            return Outcome.ACK
        # No data_class: the action's own (camera metadata) applies.
        resource = {"zone": event.zone, "cameras": [event.camera_id], "health_kind": event.kind}
        context: dict[str, Any] = {"time": utc_now_iso()}
        if self.settings.health_purpose:
            context["purpose"] = self.settings.health_purpose
        try:
            for agency in recipient_candidates("", self.agencies):
                if not await self._may_receive(agency, HEALTH_ACTION, resource, context):
                    continue
                alert = await self.store.apply_sighting(alert_from_health(event, agency), event.id,
                                                        self.window)
                await self.publish(alert.id)
        except Unavailable as exc:
            log.warning("camera alarm deferred", extra={"event": event.id, "error": exc.message})
            return Outcome.NAK
        return Outcome.ACK


def count_alert(crossing: Crossing, event: events_pb2.CountEvent, agency: str, minute: datetime
                ) -> AlertRecord:
    """A crowd or congestion alert; consecutive minutes at one camera fold into it (dedupe window)."""
    where = event.camera_id + (f" ({event.zone})" if event.zone else "")
    what = "Crowd" if crossing.kind == KIND_CROWD else "Congestion"
    summary = (f"{what} at {where}: {crossing.noun} per minute reached the threshold of "
               f"{crossing.threshold} (from {minute:%H:%M} UTC; the highest minute is in `count`)")
    return AlertRecord(id=new_alert_id(), kind=crossing.kind, state=OPEN, agency=agency, zone=event.zone,
                       camera_id=event.camera_id, target=f"counts:{crossing.noun}", raised=minute,
                       last_seen=minute, summary=summary, count=crossing.count, threshold=crossing.threshold)


def consumers(js: JetStreamContext, engine: AlertEngine, *, batch: int = 16,
              match_durable: str = MATCH_DURABLE, health_durable: str = HEALTH_DURABLE,
              follow_durable: str = FOLLOW_DURABLE, counts_durable: str = COUNTS_DURABLE,
              deliver_new_only: bool = False) -> list[PullConsumer]:
    found = [
        PullConsumer(js, "MATCHES", MATCH_SUBJECT, match_durable, engine.handle_candidate, batch=batch,
                     deliver_new_only=deliver_new_only),
        PullConsumer(js, "HEALTH", HEALTH_SUBJECT, health_durable, engine.handle_health, batch=batch,
                     deliver_new_only=deliver_new_only),
        PullConsumer(js, "COUNTS", COUNTS_SUBJECT, counts_durable, engine.handle_count, batch=batch,
                     deliver_new_only=deliver_new_only),
    ]
    if engine.follows is not None:
        found.append(PullConsumer(js, "DETECTIONS", FOLLOW_SUBJECT, follow_durable,
                                  engine.handle_plate_for_follows, batch=batch, deliver_new_only=True))
    return found
