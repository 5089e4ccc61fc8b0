"""Live follows and crowd/congestion alerts: the pure rules, then against real PostgreSQL and JetStream."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from basira.alerting.alerts import KIND_CONGESTION, KIND_CROWD, KIND_FOLLOW
from basira.alerting.config import AlertingSettings
from basira.alerting.events import AlertEngine
from basira.alerting.follow_store import FollowStore
from basira.alerting.follows import ACTIVE, EXPIRED, STOPPED, effective_state, new_follow, stop, watches
from basira.alerting.servicer import AlertServicer
from basira.alerting.store import AlertStore
from basira.alerting.thresholds import CountThreshold, crossings, limits_for
from basira.common.auth import Subject
from basira.common.errors import FailedPrecondition, InvalidInput, NotFound
from basira.common.gate import Gate
from basira.v1 import alert_pb2, analytics_pb2, common_pb2, events_pb2
from services.tests.alerting.test_alerting_service import stream_messages

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
COURT = {"purpose": "stolen-vehicle", "case_id": "CASE-2026-0042",
         "authorization": {"id": "AUTH-1", "issued_by": "court",
                           "scope": {"zones": ["medina"], "cameras": []},
                           "expires": "2026-03-02T00:00:00.000000Z"}}


# ---- pure rules ---------------------------------------------------------------------------------

def test_a_follow_needs_an_authorization_in_force_and_ends_with_it() -> None:
    with pytest.raises(InvalidInput, match="expires is required"):
        new_follow(agency="police", target="AB123CD", started_by="amina", context=COURT, expires=None,
                   now=NOW, zones=["medina"], cameras=[])
    with pytest.raises(InvalidInput, match="expired"):
        new_follow(agency="police", target="AB123CD", started_by="amina", context=COURT,
                   expires=NOW - timedelta(seconds=1), now=NOW, zones=None, cameras=None)
    follow = new_follow(agency="police", target="AB123CD", started_by="amina",
                        context={**COURT, "time": "x", "source_ip": "10.0.0.1"},
                        expires=NOW + timedelta(hours=2), now=NOW, zones=["medina"], cameras=["bwc-1"])
    assert set(follow.context) == {"purpose", "case_id", "authorization"}  # no stale time kept
    assert effective_state(follow, NOW) == ACTIVE
    assert effective_state(follow, NOW + timedelta(hours=2)) == EXPIRED
    assert watches(follow, "medina", "cam-x") and watches(follow, "port", "bwc-1")
    assert not watches(follow, "port", "cam-port-01")
    stopped = stop(follow, "omar", "vehicle found", NOW + timedelta(minutes=5))
    assert (stopped.state, stopped.stopped_by) == (STOPPED, "omar")
    with pytest.raises(FailedPrecondition, match="already ended"):
        stop(stopped, "omar", "again", NOW + timedelta(minutes=6))


def test_thresholds_per_camera_override_their_zone_field_by_field() -> None:
    rules = [CountThreshold(zone="medina", persons_per_minute=40, vehicles_per_minute=30),
             CountThreshold(camera_id="cam-medina-01", persons_per_minute=5)]
    assert limits_for(rules, "cam-medina-01", "medina") == (5, 30)
    assert limits_for(rules, "cam-medina-02", "medina") == (40, 30)
    assert limits_for(rules, "cam-port-01", "port") == (None, None)
    crowd, jam = crossings(rules, "cam-medina-01", "medina", persons=5, vehicles=31)
    assert (crowd.kind, crowd.count, crowd.threshold) == (KIND_CROWD, 5, 5)
    assert (jam.kind, jam.noun) == (KIND_CONGESTION, "vehicles")
    assert crossings(rules, "cam-medina-01", "medina", persons=4, vehicles=29) == []
    for bad in ({"persons_per_minute": 3}, {"zone": "a", "camera_id": "b", "persons_per_minute": 3},
                {"zone": "a"}, {"zone": "a", "persons_per_minute": 0}):
        with pytest.raises(ValidationError):
            CountThreshold.model_validate(bad)
    settings = AlertingSettings.model_validate(
        {"count_thresholds": [{"zone": "port", "vehicles_per_minute": 9}]})
    assert settings.count_thresholds[0].vehicles_per_minute == 9


# ---- against the real database and JetStream ---------------------------------------------------

pytestmark = pytest.mark.integration


def plate_detection(camera: str, zone: str, plate: str, seen: datetime) -> events_pb2.PlateDetectionEvent:
    event = events_pb2.PlateDetectionEvent(
        id=uuid.uuid4().hex, camera_id=camera, zone=zone, snapshot_id="snap-1",
        plate=analytics_pb2.PlateReading(text=plate, display=plate, confidence=0.9))
    event.captured.FromDatetime(seen)
    return event


@pytest.fixture
def police(uid: str, policy: Any) -> Subject:
    agency = f"police-{uid}"
    policy.agreements = {agency: {"medina", "port"}}
    return Subject(user="amina", agency=agency, roles=("investigator",), clearance=2)


@pytest.fixture
def follows(alert_pool: Any) -> FollowStore:
    return FollowStore(alert_pool)


@pytest.fixture
def engine(alert_pool: Any, gate: Gate, jetstream: Any, police: Subject, follows: FollowStore) -> AlertEngine:
    settings = AlertingSettings(dedupe_window_s=120, count_thresholds=[
        CountThreshold(camera_id="cam-lobby-01", persons_per_minute=3)])
    return AlertEngine(AlertStore(alert_pool), gate, jetstream, settings, agencies=[police.agency],
                       follows=follows)


def start_request(expires: datetime) -> alert_pb2.StartFollowRequest:
    request = alert_pb2.StartFollowRequest(plate="ab-123-cd", note="stolen van")
    request.access.CopyFrom(common_pb2.AccessContext(purpose="stolen-vehicle", case_id="CASE-2026-0042"))
    request.access.authorization.id = "AUTH-1"
    request.access.authorization.expires.FromDatetime(expires)
    return request


def call_context(expires: datetime) -> dict[str, Any]:
    auth = {**COURT["authorization"], "expires": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    return {**COURT, "authorization": auth, "time": "now"}


async def test_a_follow_delivers_each_sighting_where_it_may_look_and_stops_at_expiry(
        engine: AlertEngine, follows: FollowStore, police: Subject, calling: Any, audit: Any,
        jetstream: Any) -> None:
    servicer = AlertServicer(engine.store, engine, follows=follows)
    expires = datetime.now(UTC) + timedelta(hours=1)
    with calling(police, {"zones": ["medina"], "cameras": ["bwc-police-01"]}, call_context(expires)):
        follow = (await servicer.StartFollow(start_request(expires), None)).follow
    assert (follow.plate, follow.state, follow.zones) == ("AB123CD", alert_pb2.FOLLOW_STATE_ACTIVE,
                                                          ["medina"])
    now = datetime.now(UTC)
    assert await engine.deliver_follows(plate_detection("cam-medina-01", "medina", "AB123CD", now),
                                        "AB123CD") == 1
    assert await engine.deliver_follows(plate_detection("bwc-police-01", "port", "AB123CD",
                                                        now + timedelta(seconds=5)), "AB123CD") == 1
    # outside what the follow may look at, another plate, before the follow started: nothing
    port = plate_detection("cam-port-01", "port", "AB123CD", now)
    assert await engine.deliver_follows(port, "AB123CD") == 0
    assert await engine.deliver_follows(plate_detection("cam-medina-01", "medina", "ZZ999ZZ", now),
                                        "ZZ999ZZ") == 0
    assert await engine.deliver_follows(plate_detection("cam-medina-02", "medina", "AB123CD",
                                                        now - timedelta(hours=1)), "AB123CD") == 0
    alerts = [a for a in await stream_messages(jetstream, police.agency) if a.kind == KIND_FOLLOW]
    assert [(a.camera_id, a.follow_id) for a in alerts] == [("cam-medina-01", follow.id),
                                                            ("bwc-police-01", follow.id)]
    acts = [r for r in audit.records if r.action == "follow.sighting"]
    assert [(r.authorization_id, r.case_id, r.recipients) for r in acts] == [
        ("AUTH-1", "CASE-2026-0042", [police.agency])] * 2
    with calling(police):
        listed = (await servicer.ListFollows(alert_pb2.ListFollowsRequest(), None)).follows
    assert [(f.id, f.sightings, f.last_camera_id) for f in listed] == [(follow.id, 2, "bwc-police-01")]

    # the authorization ends: the follow is expired and delivers nothing more
    stale = await follows.get(follow.id)
    assert stale is not None
    async with follows.pool.connection() as conn:
        await conn.execute("UPDATE alerting_follows SET expires = %s WHERE id = %s",
                           (datetime.now(UTC) - timedelta(seconds=1), follow.id))
    assert await engine.deliver_follows(plate_detection("cam-medina-01", "medina", "AB123CD",
                                                        datetime.now(UTC)), "AB123CD") == 0
    with calling(police):
        ended = (await servicer.ListFollows(alert_pb2.ListFollowsRequest(include_ended=True), None)).follows
        assert (await servicer.ListFollows(alert_pb2.ListFollowsRequest(), None)).follows == []
    assert ended[0].state == alert_pb2.FOLLOW_STATE_EXPIRED


async def test_a_stale_follow_record_still_delivers_nothing_once_policy_says_expired(
        engine: AlertEngine, follows: FollowStore, police: Subject) -> None:
    """Policy, not only the table, ends a follow: the per-sighting act carries the authorization."""
    expires = datetime.now(UTC) + timedelta(hours=1)
    follow = new_follow(agency=police.agency, target="AB123CD", started_by="amina",
                        context={**COURT, "authorization": {**COURT["authorization"],
                                                            "expires": "2020-01-01T00:00:00.000000Z"}},
                        expires=expires, now=datetime.now(UTC) - timedelta(minutes=1), zones=["medina"],
                        cameras=[])
    await follows.add(follow)
    assert await engine.deliver_follows(plate_detection("cam-medina-01", "medina", "AB123CD",
                                                        datetime.now(UTC)), "AB123CD") == 0


async def test_stop_follow_is_for_the_owning_agency(engine: AlertEngine, follows: FollowStore,
                                                     police: Subject, calling: Any) -> None:
    servicer = AlertServicer(engine.store, engine, follows=follows)
    expires = datetime.now(UTC) + timedelta(hours=1)
    with calling(police, {"zones": ["medina"]}, call_context(expires)):
        follow = (await servicer.StartFollow(start_request(expires), None)).follow
    other = Subject(user="tariq", agency="traffic-x", roles=("operator",), clearance=1)
    with calling(other), pytest.raises(NotFound):
        await servicer.StopFollow(alert_pb2.StopFollowRequest(follow_id=follow.id), None)
    with calling(police):
        stopped = (await servicer.StopFollow(alert_pb2.StopFollowRequest(follow_id=follow.id,
                                                                         reason="found"), None)).follow
        with pytest.raises(InvalidInput):
            await servicer.StartFollow(alert_pb2.StartFollowRequest(plate="!!"), None)
    assert (stopped.state, stopped.stopped_by) == (alert_pb2.FOLLOW_STATE_STOPPED, "amina")
    assert await engine.deliver_follows(plate_detection("cam-medina-01", "medina", "AB123CD",
                                                        datetime.now(UTC)), "AB123CD") == 0


async def test_a_crowd_alert_is_raised_at_its_threshold_and_updated_minute_after_minute(
        engine: AlertEngine, police: Subject, jetstream: Any) -> None:
    minute = datetime.now(UTC).replace(second=0, microsecond=0)

    def count(at: datetime, persons: int, camera: str = "cam-lobby-01") -> events_pb2.CountEvent:
        event = events_pb2.CountEvent(id=f"{camera}:{at:%H%M}:{uuid.uuid4().hex[:4]}", camera_id=camera,
                                      zone="medina", persons=persons, vehicles=0, frames=60)
        event.minute.FromDatetime(at)
        return event

    assert await engine.apply_counts(count(minute, 2)) == 0  # under the threshold
    assert await engine.apply_counts(count(minute, 9, camera="cam-medina-01")) == 0  # no rule there
    assert await engine.apply_counts(count(minute + timedelta(minutes=1), 3)) == 1
    assert await engine.apply_counts(count(minute + timedelta(minutes=2), 7)) == 1
    crowd = [a for a in await stream_messages(jetstream, police.agency) if a.kind == KIND_CROWD]
    assert len({a.id for a in crowd}) == 1, "consecutive minutes fold into one alert"
    assert (crowd[-1].count, crowd[-1].threshold, crowd[-1].sightings) == (7, 3, 2)
    assert "Crowd at cam-lobby-01" in crowd[-1].summary and crowd[-1].camera_id == "cam-lobby-01"
