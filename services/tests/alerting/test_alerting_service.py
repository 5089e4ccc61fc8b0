"""Alerting against real PostgreSQL and NATS JetStream: routing, dedupe, resume, two-person rule."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.js.errors import NotFoundError

from basira.alerting.alerts import KIND_FACE_MATCH, KIND_PLATE_HIT
from basira.alerting.config import AlertingSettings
from basira.alerting.events import AlertEngine, consumers
from basira.alerting.servicer import AlertServicer, alert_resolver
from basira.alerting.store import AlertStore
from basira.common.auth import Subject
from basira.common.errors import NotFound, PermissionDenied
from basira.common.gate import Gate
from basira.common.nats import publish
from basira.v1 import alert_pb2, analytics_pb2, events_pb2, watchlist_pb2

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def plate_candidate(owner: str, camera: str, zone: str, seen: datetime, *, entry: str = "entry-1",
                    plate: str = "AB123CD") -> events_pb2.MatchCandidateEvent:
    event = events_pb2.MatchCandidateEvent(
        id=uuid.uuid4().hex, camera_id=camera, zone=zone, snapshot_id=f"snap-{uuid.uuid4().hex[:6]}",
        plate=analytics_pb2.PlateReading(text=plate, display=plate, country="FR", confidence=0.9),
        hotlist_entry=watchlist_pb2.HotlistEntry(id=entry, plate=plate, owner_agency=owner,
                                                 reason=watchlist_pb2.HOTLIST_REASON_STOLEN))
    event.seen.FromDatetime(seen)
    return event


def face_candidate(camera: str, zone: str, seen: datetime, owner: str) -> events_pb2.MatchCandidateEvent:
    """A face candidate of a watchlist `owner` holds (face matches go to the owner only)."""
    event = events_pb2.MatchCandidateEvent(id=uuid.uuid4().hex, camera_id=camera, zone=zone,
                                           watchlist_id="wl-1", subject_id="subj-9", distance=0.31,
                                           detection_id="det-1", owner_agency=owner)
    event.seen.FromDatetime(seen)
    return event


class World:
    """One test's agencies (unique names: the NATS server and database live for the session)."""

    def __init__(self, uid: str) -> None:
        self.police, self.traffic = f"police-{uid}", f"traffic-{uid}"
        self.amina = Subject(user="amina", agency=self.police, roles=("operator",), clearance=2)
        self.youssef = Subject(user="youssef", agency=self.police, roles=("operator",), clearance=2)
        self.tariq = Subject(user="tariq", agency=self.traffic, roles=("operator",), clearance=1)


@pytest.fixture
def world(uid: str, policy: Any) -> World:
    w = World(uid)
    policy.agreements = {w.police: {"medina", "port"}, w.traffic: {"ring-road", "port"}}
    return w


@pytest.fixture
def store(alert_pool: Any) -> AlertStore:
    return AlertStore(alert_pool)


@pytest.fixture
def engine(store: AlertStore, gate: Gate, jetstream: Any, world: World) -> AlertEngine:
    settings = AlertingSettings(dedupe_window_s=120, recipient_agencies=[world.police, world.traffic])
    return AlertEngine(store, gate, jetstream, settings, agencies=[world.police, world.traffic])


@pytest.fixture
def servicer(store: AlertStore, engine: AlertEngine) -> AlertServicer:
    return AlertServicer(store, engine)


async def stream_messages(js: Any, agency: str) -> list[alert_pb2.Alert]:
    """Every AlertEvent on alerts.<agency>, in stream order."""
    found: list[alert_pb2.Alert] = []
    sub = await js.subscribe(f"alerts.{agency}", stream="ALERTS", ordered_consumer=True)
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.3)
            except Exception:
                return found
            alert = events_pb2.AlertEvent.FromString(msg.data).alert
            alert.sequence = msg.metadata.sequence.stream
            found.append(alert)
    finally:
        await sub.unsubscribe()


@contextlib.asynccontextmanager
async def open_stream(servicer: AlertServicer, calling: Any, subject: Subject,
                      request: alert_pb2.StreamAlertsRequest, obligations: dict[str, Any] | None = None
                      ) -> AsyncIterator[asyncio.Queue[alert_pb2.Alert]]:
    """Run StreamAlerts as a client would; leaving the block cancels it (the client hangs up)."""
    received: asyncio.Queue[alert_pb2.Alert] = asyncio.Queue()

    async def consume() -> None:
        async for response in servicer.StreamAlerts(request, None):
            await received.put(response.alert)

    with calling(subject, obligations):
        task = asyncio.create_task(consume())
    try:
        yield received
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def drain(queue: asyncio.Queue[alert_pb2.Alert], quiet_s: float = 0.4) -> list[alert_pb2.Alert]:
    items: list[alert_pb2.Alert] = []
    while True:
        try:
            items.append(await asyncio.wait_for(queue.get(), timeout=quiet_s))
        except TimeoutError:
            return items


async def test_candidate_becomes_an_alert_for_the_agencies_policy_allows(
        store: AlertStore, engine: AlertEngine, jetstream: Any, world: World, audit: Any, uid: str) -> None:
    stop = asyncio.Event()
    loops = consumers(jetstream, engine, match_durable=f"t-m-{uid}", health_durable=f"t-h-{uid}",
                      deliver_new_only=True)
    tasks = [asyncio.create_task(c.run(stop)) for c in loops]
    try:
        for _ in range(50):
            try:
                await jetstream.consumer_info("MATCHES", f"t-m-{uid}")
                break
            except NotFoundError:
                await asyncio.sleep(0.05)
        event = plate_candidate(world.police, "cam-medina-01", "medina", T0)
        await publish(jetstream, "match.candidate.plate", event.SerializeToString(), event.id)
        police: list[alert_pb2.Alert] = []
        for _ in range(60):
            police = await stream_messages(jetstream, world.police)
            if police:
                break
        assert len(police) == 1
        alert = police[0]
        assert (alert.kind, alert.state, alert.agency, alert.zone, alert.sightings) == (
            alert_pb2.ALERT_KIND_PLATE_HIT, alert_pb2.ALERT_STATE_OPEN, world.police, "medina", 1)
        assert alert.hotlist_entry.id == "entry-1" and alert.plate.text == "AB123CD"
        assert await stream_messages(jetstream, world.traffic) == []  # medina is not in its agreement
        acts = [(r.action, r.allowed, r.resource["recipient_agency"]) for r in audit.records]
        assert sorted(acts) == [("match.plate", False, world.traffic), ("match.plate", True, world.police)]
        assert all(r.user == "service:alerting" for r in audit.records)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_zone_two_agencies_share_reaches_both(engine: AlertEngine, jetstream: Any,
                                                      world: World) -> None:
    await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.police, "cam-port-01", "port", T0))
    assert len(await stream_messages(jetstream, world.police)) == 1
    assert len(await stream_messages(jetstream, world.traffic)) == 1


async def test_repeat_sightings_fold_into_one_alert(engine: AlertEngine, store: AlertStore, jetstream: Any,
                                                    world: World) -> None:
    first = plate_candidate(world.police, "cam-medina-02", "medina", T0)
    await engine.apply_candidate(KIND_PLATE_HIT, first)
    await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.police, "cam-medina-02", "medina",
                                                                 T0 + timedelta(seconds=90)))
    await engine.apply_candidate(KIND_PLATE_HIT, first)  # redelivered: already applied, no change
    await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.police, "cam-medina-02", "medina",
                                                                 T0 + timedelta(seconds=300)))
    await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.police, "cam-medina-03", "medina",
                                                                 T0 + timedelta(seconds=100)))
    events = await stream_messages(jetstream, world.police)
    latest: dict[str, alert_pb2.Alert] = {}
    for alert in events:
        latest[alert.id] = alert
    summary = sorted((a.camera_id, a.sightings, a.last_seen.ToDatetime(tzinfo=UTC)) for a in latest.values())
    assert summary == [
        ("cam-medina-02", 1, T0 + timedelta(seconds=300)),  # outside the 120 s window: a new alert
        ("cam-medina-02", 2, T0 + timedelta(seconds=90)),   # folded: sightings += 1, last_seen moved
        ("cam-medina-03", 1, T0 + timedelta(seconds=100)),  # another camera: its own alert
    ]
    assert len(events) == 4  # 3 raised + 1 update; the redelivery published nothing
    stored = await store.get(events[0].id)
    assert stored is not None and stored.sequence == events[1].sequence  # row knows its last publication


async def test_resume_after_reconnect_gets_exactly_the_missed_alerts(
        engine: AlertEngine, servicer: AlertServicer, calling: Any, world: World) -> None:
    async with open_stream(servicer, calling, world.amina, alert_pb2.StreamAlertsRequest()) as live:
        await asyncio.sleep(0.3)  # subscribed
        await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.police, "cam-a", "medina", T0))
        first = await asyncio.wait_for(live.get(), timeout=5)
    # The client is gone; two alerts are raised meanwhile (one for another agency, never theirs).
    await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.police, "cam-b", "medina", T0))
    await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.traffic, "cam-r", "ring-road", T0))
    await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.police, "cam-c", "medina", T0))
    resumed_request = alert_pb2.StreamAlertsRequest(after_sequence=first.sequence)
    async with open_stream(servicer, calling, world.amina, resumed_request) as resumed:
        missed = await drain(resumed)
        await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.police, "cam-d", "medina", T0))
        live_again = await drain(resumed)
    assert [a.camera_id for a in missed] == ["cam-b", "cam-c"]
    assert all(a.sequence > first.sequence for a in missed) and missed[0].sequence < missed[1].sequence
    assert [a.camera_id for a in live_again] == ["cam-d"]

    # From 0: the still-open alerts first, then new ones; a zone filter narrows both.
    async with open_stream(servicer, calling, world.amina, alert_pb2.StreamAlertsRequest()) as fresh:
        replayed = await drain(fresh)
    assert [a.camera_id for a in replayed] == ["cam-a", "cam-b", "cam-c", "cam-d"]
    async with open_stream(servicer, calling, world.amina,
                           alert_pb2.StreamAlertsRequest(zones=["port"])) as none_here:
        assert await drain(none_here, 0.3) == []
    async with open_stream(servicer, calling, world.amina, alert_pb2.StreamAlertsRequest(),
                           obligations={"zones": ["port"]}) as granted_elsewhere:
        assert await drain(granted_elsewhere, 0.3) == []


async def test_two_person_rule_for_face_matches(engine: AlertEngine, servicer: AlertServicer,
                                                store: AlertStore, calling: Any, world: World,
                                                jetstream: Any) -> None:
    await engine.apply_candidate(KIND_FACE_MATCH, face_candidate("cam-medina-01", "medina", T0, world.police))
    [raised] = await stream_messages(jetstream, world.police)
    assert raised.kind == alert_pb2.ALERT_KIND_FACE_MATCH
    resolve = alert_resolver(store)
    confirm = alert_pb2.ConfirmMatchRequest(alert_id=raised.id, note="looks like him")

    assert (await resolve(confirm, world.amina, {"data_class": "biometric"}))["first_confirmed_by"] == ""
    assert raised.face_match.subject_id == "subj-9" and raised.face_match.detection_id == "det-1"
    reject = alert_pb2.RejectMatchRequest(alert_id=raised.id, reason=" not him ")
    rejecting = await resolve(reject, world.amina, {"data_class": "alerts"})
    assert (rejecting["reason"], rejecting["watchlist"], rejecting["subject_id"], rejecting["input"]) == (
        "not him", "wl-1", "subj-9", "det-1")  # the log names the rejection's reason and what was matched
    with calling(world.amina):
        first = (await servicer.ConfirmMatch(confirm, None)).alert
    assert first.state == alert_pb2.ALERT_STATE_PENDING_CONFIRMATION and list(first.confirmed_by) == ["amina"]
    resource = await resolve(confirm, world.amina, {"data_class": "biometric"})
    assert resource["first_confirmed_by"] == "amina" and resource["agency"] == world.police
    assert resource["zone"] == "medina" and resource["data_class"] == "biometric"

    with calling(world.amina), pytest.raises(PermissionDenied, match="different"):
        await servicer.ConfirmMatch(confirm, None)
    with calling(world.tariq), pytest.raises(NotFound):  # another agency's alert does not exist for them
        await servicer.ConfirmMatch(confirm, None)
    with calling(world.youssef):
        second = (await servicer.ConfirmMatch(confirm, None)).alert
    assert second.state == alert_pb2.ALERT_STATE_CONFIRMED
    assert list(second.confirmed_by) == ["amina", "youssef"] and second.actor == "youssef"

    states = [(a.state, a.actor) for a in await stream_messages(jetstream, world.police)]
    assert states == [(alert_pb2.ALERT_STATE_OPEN, ""),
                      (alert_pb2.ALERT_STATE_PENDING_CONFIRMATION, "amina"),
                      (alert_pb2.ALERT_STATE_CONFIRMED, "youssef")]


async def test_acknowledge_escalate_and_reject_are_published(engine: AlertEngine, servicer: AlertServicer,
                                                             calling: Any, world: World,
                                                             jetstream: Any) -> None:
    await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.police, "cam-x", "medina", T0))
    await engine.apply_candidate(KIND_FACE_MATCH, face_candidate("cam-y", "medina", T0, world.police))
    plate, face = await stream_messages(jetstream, world.police)
    with calling(world.amina):
        acked = (await servicer.AcknowledgeAlert(alert_pb2.AcknowledgeAlertRequest(alert_id=plate.id),
                                                 None)).alert
        escalated = (await servicer.EscalateAlert(alert_pb2.EscalateAlertRequest(
            alert_id=plate.id, escalate_to="national-unit", note="crossing into ring road"), None)).alert
        rejected = (await servicer.RejectMatch(alert_pb2.RejectMatchRequest(alert_id=face.id,
                                                                            reason="not him"), None)).alert
        with pytest.raises(NotFound):
            await servicer.AcknowledgeAlert(alert_pb2.AcknowledgeAlertRequest(alert_id="nope"), None)
    assert acked.state == alert_pb2.ALERT_STATE_ACKNOWLEDGED and list(acked.acknowledged_by) == ["amina"]
    assert escalated.state == alert_pb2.ALERT_STATE_ESCALATED and escalated.escalated_to == "national-unit"
    assert rejected.state == alert_pb2.ALERT_STATE_REJECTED
    assert escalated.sequence > acked.sequence > 0
    published = await stream_messages(jetstream, world.police)
    assert [a.state for a in published][2:] == [alert_pb2.ALERT_STATE_ACKNOWLEDGED,
                                                alert_pb2.ALERT_STATE_ESCALATED,
                                                alert_pb2.ALERT_STATE_REJECTED]
    assert published[-1].sequence == rejected.sequence


async def test_camera_alarm_reaches_agencies_covering_the_zone(engine: AlertEngine, jetstream: Any,
                                                               world: World) -> None:
    from basira.common.nats import Outcome

    class _Msg:
        def __init__(self, data: bytes) -> None:
            self.subject, self.data = "camera.health.cam-ring-01", data

    alarm = events_pb2.CameraHealthEvent(id=uuid.uuid4().hex, camera_id="cam-ring-01", zone="ring-road",
                                         kind="blocked", state="alert", detail="lens covered")
    alarm.time.FromDatetime(T0)
    cleared = events_pb2.CameraHealthEvent(id=uuid.uuid4().hex, camera_id="cam-ring-01", zone="ring-road",
                                           kind="blocked", state="ok")
    assert await engine.handle_health(_Msg(alarm.SerializeToString())) is Outcome.ACK  # type: ignore[arg-type]
    assert await engine.handle_health(_Msg(cleared.SerializeToString())) is Outcome.ACK  # type: ignore[arg-type]
    [alert] = await stream_messages(jetstream, world.traffic)
    assert alert.kind == alert_pb2.ALERT_KIND_CAMERA_HEALTH and "lens covered" in alert.summary
    assert await stream_messages(jetstream, world.police) == []


async def test_replay_from_zero_skips_closed_alerts(engine: AlertEngine, servicer: AlertServicer,
                                                    calling: Any, world: World, jetstream: Any) -> None:
    await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.police, "cam-open", "medina", T0))
    await engine.apply_candidate(KIND_FACE_MATCH, face_candidate("cam-closed", "medina", T0, world.police))
    _, face = await stream_messages(jetstream, world.police)
    with calling(world.amina):
        await servicer.RejectMatch(alert_pb2.RejectMatchRequest(alert_id=face.id, reason="not him"), None)
    async with open_stream(servicer, calling, world.amina, alert_pb2.StreamAlertsRequest()) as fresh:
        assert [a.camera_id for a in await drain(fresh)] == ["cam-open"]


async def test_stored_but_unpublished_alerts_are_published_later(store: AlertStore, engine: AlertEngine,
                                                                 jetstream: Any, world: World) -> None:
    from basira.alerting.messages import alert_from_candidate

    event = plate_candidate(world.police, "cam-late", "medina", T0)
    # As if the process died between storing the alert and publishing it.
    stored = await store.apply_sighting(alert_from_candidate(KIND_PLATE_HIT, event, world.police), event.id,
                                        timedelta(seconds=120))
    assert await stream_messages(jetstream, world.police) == []
    engine.settings = AlertingSettings(republish_interval_s=0.05)
    stop = asyncio.Event()
    loop = asyncio.create_task(engine.republish_loop(stop))
    published: list[alert_pb2.Alert] = []
    for _ in range(40):
        await asyncio.sleep(0.1)
        published = await stream_messages(jetstream, world.police)
        if published:
            break
    stop.set()
    await loop
    assert [a.id for a in published] == [stored.id]
    again = await store.get(stored.id)
    assert again is not None and again.sequence == published[0].sequence


async def test_escalation_to_another_agency_delivers_to_its_room_only_if_policy_allows(
        engine: AlertEngine, servicer: AlertServicer, calling: Any, world: World, jetstream: Any,
        policy: Any, audit: Any) -> None:
    await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.police, "cam-m", "medina", T0))
    [plate] = await stream_messages(jetstream, world.police)
    assert await stream_messages(jetstream, world.traffic) == []  # medina is not the traffic agency's
    request = alert_pb2.EscalateAlertRequest(alert_id=plate.id, escalate_to=world.traffic, note="help")
    with calling(world.amina), pytest.raises(PermissionDenied):
        await servicer.EscalateAlert(request, None)
    assert (await servicer.store.get(plate.id)).state == alert_pb2.ALERT_STATE_OPEN  # type: ignore[union-attr]
    assert await stream_messages(jetstream, world.traffic) == []
    refused = [r for r in audit.records if r.action == "alert.deliver_escalation"]
    assert [(r.allowed, r.recipients) for r in refused] == [(False, [])]

    policy.agreements[world.traffic].add("medina")
    with calling(world.amina):
        escalated = (await servicer.EscalateAlert(request, None)).alert
        again = (await servicer.EscalateAlert(request, None)).alert
    assert escalated.state == again.state == alert_pb2.ALERT_STATE_ESCALATED
    [received] = await stream_messages(jetstream, world.traffic)  # delivered once, not twice
    assert received.agency == world.traffic and received.state == alert_pb2.ALERT_STATE_OPEN
    assert received.escalated_from == world.police and received.escalated_alert_id == plate.id
    assert received.hotlist_entry.plate == plate.hotlist_entry.plate and received.zone == "medina"
    delivered = [r for r in audit.records if r.action == "alert.deliver_escalation" and r.allowed]
    assert delivered and delivered[0].recipients == [world.traffic]
    assert delivered[0].resource["escalated_by"] == "amina"
    # The receiving room acts on its own copy; the sender's stays theirs.
    with calling(world.tariq):
        acked = (await servicer.AcknowledgeAlert(alert_pb2.AcknowledgeAlertRequest(alert_id=received.id),
                                                 None)).alert
        with pytest.raises(NotFound):
            await servicer.AcknowledgeAlert(alert_pb2.AcknowledgeAlertRequest(alert_id=plate.id), None)
    assert acked.acknowledged_by == ["tariq"]


async def test_list_alerts_gives_open_alerts_and_where_to_resume(
        engine: AlertEngine, servicer: AlertServicer, calling: Any, world: World, jetstream: Any) -> None:
    await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.police, "cam-l1", "medina", T0))
    await engine.apply_candidate(KIND_FACE_MATCH, face_candidate("cam-l2", "port", T0, world.police))
    _, face = await stream_messages(jetstream, world.police)
    with calling(world.amina):
        await servicer.RejectMatch(alert_pb2.RejectMatchRequest(alert_id=face.id, reason="no"), None)
        listed = await servicer.ListAlerts(alert_pb2.ListAlertsRequest(), None)
    assert [a.camera_id for a in listed.alerts] == ["cam-l1"]
    assert listed.last_sequence >= max(a.sequence for a in listed.alerts)
    await engine.apply_candidate(KIND_PLATE_HIT, plate_candidate(world.police, "cam-l3", "medina", T0))
    request = alert_pb2.StreamAlertsRequest(after_sequence=listed.last_sequence)
    async with open_stream(servicer, calling, world.amina, request) as after:
        assert [a.camera_id for a in await drain(after)] == ["cam-l3"]
