"""AlertService: protobuf ⇄ alert records; live streams per agency from the ALERTS JetStream stream."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message

from basira.alerting import alerts
from basira.alerting.alerts import AlertRecord, StreamFilter, agency_subject, stream_filter
from basira.alerting.events import ALERTS_STREAM, AlertEngine
from basira.alerting.follow_store import FollowStore
from basira.alerting.follows import FollowRecord, effective_state, new_follow
from basira.alerting.follows import stop as stop_follow
from basira.alerting.messages import alert_to_proto
from basira.alerting.store import AlertStore
from basira.common import gate as gate_module
from basira.common.auth import Subject
from basira.common.errors import FailedPrecondition, InvalidInput, NotFound, Unauthenticated
from basira.common.nats import follow
from basira.common.plate_text import PlateTextError, normalize_plate
from basira.common.timestamps import to_datetime
from basira.v1 import alert_pb2, alert_pb2_grpc, events_pb2

log = logging.getLogger(__name__)

IDLE_HEARTBEAT_S = 5.0
"""The server's heartbeat to the stream's consumer; the wait for the next alert itself has no timeout."""


def _subject() -> Subject:
    subject = gate_module.current_subject.get()
    if subject is None:
        raise Unauthenticated("no authenticated subject for this call")
    return subject


def _obligations() -> dict[str, Any]:
    decision = gate_module.current_decision.get()
    return dict(decision.obligations) if decision is not None else {}


def _listed(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _require_id(alert_id: str) -> str:
    if not alert_id:
        raise InvalidInput("alert_id is required", field="alert_id")
    return alert_id


class AlertServicer(alert_pb2_grpc.AlertServiceServicer):
    """Runs behind the gate; the caller's agency is the only alert stream it can read or act on."""

    def __init__(self, store: AlertStore, engine: AlertEngine, *, replay_limit: int = 500,
                 follows: FollowStore | None = None) -> None:
        self.store, self.engine, self.replay_limit = store, engine, replay_limit
        self.follows = follows

    async def StreamAlerts(self, request: alert_pb2.StreamAlertsRequest,
                           context: grpc.aio.ServicerContext | None
                           ) -> AsyncIterator[alert_pb2.StreamAlertsResponse]:
        subject = _subject()
        nats_subject = agency_subject(subject.agency)
        obligations = _obligations()
        wanted = stream_filter(request.zones, request.kinds, _listed(obligations.get("zones")),
                               _listed(obligations.get("cameras")))
        js = self.engine.js
        if request.after_sequence > 0:
            start = request.after_sequence + 1
        else:
            boundary = (await js.stream_info(ALERTS_STREAM)).state.last_seq
            for alert in await self.store.open_alerts(subject.agency, up_to_sequence=boundary,
                                                      limit=self.replay_limit):
                if wanted.passes(alert.kind, alert.zone, alert.camera_id):
                    yield alert_pb2.StreamAlertsResponse(alert=alert_to_proto(alert))
            start = boundary + 1
        async for msg in follow(js, nats_subject, ALERTS_STREAM, start, heartbeat_s=IDLE_HEARTBEAT_S):
            response = _decode(msg.data, msg.metadata.sequence.stream, wanted)
            if response is not None:
                yield response

    async def ListAlerts(self, request: alert_pb2.ListAlertsRequest,
                         context: grpc.aio.ServicerContext | None) -> alert_pb2.ListAlertsResponse:
        """The agency's still-open alerts and the stream position to resume StreamAlerts after."""
        subject = _subject()
        agency_subject(subject.agency)
        obligations = _obligations()
        wanted = stream_filter(request.zones, request.kinds, _listed(obligations.get("zones")),
                               _listed(obligations.get("cameras")))
        boundary = (await self.engine.js.stream_info(ALERTS_STREAM)).state.last_seq
        open_now = await self.store.open_alerts(subject.agency, up_to_sequence=boundary,
                                                limit=self.replay_limit)
        return alert_pb2.ListAlertsResponse(
            alerts=[alert_to_proto(a) for a in open_now if wanted.passes(a.kind, a.zone, a.camera_id)],
            last_sequence=boundary)

    # ---- live follows ----

    async def StartFollow(self, request: alert_pb2.StartFollowRequest,
                          context: grpc.aio.ServicerContext | None) -> alert_pb2.StartFollowResponse:
        """Policy has allowed `follow.start` (purpose, case, authorization in force) and logged it."""
        follows = self._follow_store()
        subject = _subject()
        try:
            key = normalize_plate(request.plate)
        except PlateTextError as exc:
            raise InvalidInput(exc.message, field="plate") from exc
        authorization = request.access.authorization
        expires = to_datetime(authorization.expires) if request.access.HasField("authorization") else None
        obligations = _obligations()
        started = new_follow(agency=subject.agency, target=key, started_by=subject.user,
                             context=gate_module.current_context.get() or {}, expires=expires,
                             now=datetime.now(UTC), zones=_listed(obligations.get("zones")),
                             cameras=_listed(obligations.get("cameras")), note=request.note.strip()[:500])
        await follows.add(started)
        return alert_pb2.StartFollowResponse(follow=follow_to_proto(started, datetime.now(UTC)))

    async def StopFollow(self, request: alert_pb2.StopFollowRequest,
                         context: grpc.aio.ServicerContext | None) -> alert_pb2.StopFollowResponse:
        if not request.follow_id:
            raise InvalidInput("follow_id is required", field="follow_id")
        subject = _subject()
        now = datetime.now(UTC)
        stopped = await self._follow_store().change(
            request.follow_id, subject.agency, lambda f: stop_follow(f, subject.user, request.reason, now))
        return alert_pb2.StopFollowResponse(follow=follow_to_proto(stopped, now))

    async def ListFollows(self, request: alert_pb2.ListFollowsRequest,
                          context: grpc.aio.ServicerContext | None) -> alert_pb2.ListFollowsResponse:
        now = datetime.now(UTC)
        rows = await self._follow_store().of_agency(_subject().agency, include_ended=request.include_ended,
                                                    now=now)
        return alert_pb2.ListFollowsResponse(follows=[follow_to_proto(f, now) for f in rows])

    def _follow_store(self) -> FollowStore:
        if self.follows is None:
            raise FailedPrecondition("live follows are switched off in this alerting service "
                                     "(follows = false)")
        return self.follows

    async def _act(self, alert_id: str, action: str, note: str,
                   change: Callable[[AlertRecord, str], AlertRecord]) -> alert_pb2.Alert:
        subject = _subject()
        updated = await self.store.transition(_require_id(alert_id), subject.agency,
                                              lambda a: change(a, subject.user), action=action,
                                              actor=subject.user, note=note)
        published = await self.engine.publish(updated.id)
        return alert_to_proto(published or updated)

    async def AcknowledgeAlert(self, request: alert_pb2.AcknowledgeAlertRequest,
                               context: grpc.aio.ServicerContext | None
                               ) -> alert_pb2.AcknowledgeAlertResponse:
        alert = await self._act(request.alert_id, "acknowledge", request.note, alerts.acknowledge)
        return alert_pb2.AcknowledgeAlertResponse(alert=alert)

    async def ConfirmMatch(self, request: alert_pb2.ConfirmMatchRequest,
                           context: grpc.aio.ServicerContext | None) -> alert_pb2.ConfirmMatchResponse:
        alert = await self._act(request.alert_id, "confirm", request.note, alerts.confirm)
        return alert_pb2.ConfirmMatchResponse(alert=alert)

    async def RejectMatch(self, request: alert_pb2.RejectMatchRequest,
                          context: grpc.aio.ServicerContext | None) -> alert_pb2.RejectMatchResponse:
        alert = await self._act(request.alert_id, "reject", request.reason, alerts.reject)
        return alert_pb2.RejectMatchResponse(alert=alert)

    async def EscalateAlert(self, request: alert_pb2.EscalateAlertRequest,
                            context: grpc.aio.ServicerContext | None) -> alert_pb2.EscalateAlertResponse:
        """Escalate; to another agency of the agreement, deliver it to that agency's room too.

        The delivery is its own logged act, decided by policy for the receiving agency (its zones,
        data classes, purposes); a refusal refuses the escalation (PERMISSION_DENIED with the
        reasons) and changes nothing. A unit name that is no agency only changes the alert's state.
        """
        subject = _subject()
        target = request.escalate_to.strip()
        current = await self.store.get(_require_id(request.alert_id))
        if current is None or current.agency != subject.agency:
            raise NotFound(f"no alert {request.alert_id!r} for agency {subject.agency!r}")
        delivers = target in self.engine.settings.agency_names() and target != subject.agency
        if delivers:
            alerts.escalate(current, subject.user, target)  # refuse early what the transition refuses
            await self.engine.authorize_escalation(current, target, subject.user)
        alert = await self._act(request.alert_id, "escalate", request.note,
                                lambda a, user: alerts.escalate(a, user, target))
        if delivers:
            updated = await self.store.get(alert.id)
            await self.engine.deliver_escalation(updated or current, target)
        return alert_pb2.EscalateAlertResponse(alert=alert)


def _decode(data: bytes, sequence: int, wanted: StreamFilter) -> alert_pb2.StreamAlertsResponse | None:
    try:
        alert = events_pb2.AlertEvent.FromString(data).alert
    except DecodeError:
        log.warning("undecodable alert event skipped", extra={"sequence": sequence})
        return None
    if not wanted.passes(alert.kind, alert.zone, alert.camera_id):
        return None
    alert.sequence = sequence
    return alert_pb2.StreamAlertsResponse(alert=alert)


def follow_to_proto(f: FollowRecord, now: datetime) -> alert_pb2.Follow:
    """The API view of a follow; its state is judged at `now` (an expired authorization ends it)."""
    message = alert_pb2.Follow(
        id=f.id, agency=f.agency, state=effective_state(f, now),  # type: ignore[arg-type]
        plate=f.target, started_by=f.started_by, purpose=str(f.context.get("purpose", "")),
        case_id=str(f.context.get("case_id", "")), authorization_id=f.authorization_id,
        stopped_by=f.stopped_by, zones=list(f.zones or ()), cameras=list(f.cameras or ()),
        sightings=f.sightings, last_camera_id=f.last_camera_id)
    message.started.FromDatetime(f.started)
    message.expires.FromDatetime(f.expires)
    if f.stopped is not None:
        message.stopped.FromDatetime(f.stopped)
    if f.last_seen is not None:
        message.last_seen.FromDatetime(f.last_seen)
    return message


def follow_resolver(follows: FollowStore) -> Any:
    """Resource resolver for StopFollow: the follow's agency (another agency's follow is refused)."""

    async def resolve(request: Message, subject: Subject, resource: dict[str, Any]) -> dict[str, Any]:
        follow = await follows.get(getattr(request, "follow_id", "") or "")
        return {"agency": follow.agency, "follow": follow.id} if follow is not None else {}

    return resolve


def alert_resolver(store: AlertStore) -> Any:
    """Resource resolver for ack/confirm/reject/escalate: the alert's zone, camera, agency and kind.

    For ConfirmMatch/RejectMatch the data class is the match's (biometric for faces, plate for plate
    hits), and ConfirmMatch adds `first_confirmed_by` / `confirmed_by` for the two-person rule.
    """

    async def resolve(request: Message, subject: Subject, resource: dict[str, Any]) -> dict[str, Any]:
        alert = await store.get(getattr(request, "alert_id", "") or "")
        extra: dict[str, Any] = {}
        escalate_to = getattr(request, "escalate_to", "")
        if escalate_to:
            extra["escalate_to"] = escalate_to
        if alert is None:
            return extra
        extra.update({"zone": alert.zone, "cameras": [alert.camera_id] if alert.camera_id else [],
                      "agency": alert.agency, "alert_kind": alert_pb2.AlertKind.Name(alert.kind),
                      "alert_state": alert_pb2.AlertState.Name(alert.state)})
        if isinstance(request, alert_pb2.ConfirmMatchRequest | alert_pb2.RejectMatchRequest):
            extra["data_class"] = {alerts.KIND_FACE_MATCH: "biometric",
                                   alerts.KIND_PLATE_HIT: "plate"}.get(alert.kind, resource.get("data_class"))
        if isinstance(request, alert_pb2.ConfirmMatchRequest):
            extra["first_confirmed_by"] = alert.confirmed_by[0] if alert.confirmed_by else ""
            extra["confirmed_by"] = list(alert.confirmed_by)
        if isinstance(request, alert_pb2.RejectMatchRequest) and request.reason:
            extra["reason"] = request.reason.strip()[:500]
        if alert.face_pb:  # the log names what was matched: watchlist, subject, the input, the case
            match = alert_pb2.FaceMatch.FromString(alert.face_pb)
            extra.update({"watchlist": match.watchlist_id, "subject_id": match.subject_id,
                          "input": match.detection_id, "snapshot_id": alert.snapshot_id,
                          "match_case_id": match.case_id})
        return extra

    return resolve
