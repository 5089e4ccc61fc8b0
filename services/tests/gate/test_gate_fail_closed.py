"""Gate fail-closed over real servers: no policy answer or no audit append means no data, then recovery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import pytest
import pytest_asyncio
from google.protobuf.message import Message

from basira.common.access_record import AccessRecord
from basira.common.audit_sink import JetStreamAuditSink
from basira.common.gate import access_rule
from basira.common.nats import connect, ensure_streams
from basira.common.policy_client import PolicyClient
from basira.policy.api import start_server
from basira.policy.engine import PolicySet
from basira.policy.store import PolicyStore
from basira.v1 import alert_pb2, camera_pb2

from .harness import Harness, Outcome, all_methods, full_method, invoke
from .scenarios import REQUESTS, Caller

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

METHODS = {full_method(m): m for m in all_methods()}
GET_CAMERA = "/basira.v1.CameraService/GetCamera"
DECOMMISSION = "/basira.v1.CameraService/DecommissionCamera"
STREAM_ALERTS = "/basira.v1.AlertService/StreamAlerts"
ALLOWED = ("police-operator", GET_CAMERA, camera_pb2.GetCameraRequest(camera_id="cam-medina-01"))
DENIED = ("traffic-analyst", GET_CAMERA, camera_pb2.GetCameraRequest(camera_id="cam-airport-01"))


async def call(h: Harness, user: str, method: str, request: object) -> tuple[Outcome, int]:
    served = len(h.recorder.invocations)
    outcome = await invoke(h.channel, METHODS[method], request, h.metadata(user))  # type: ignore[arg-type]
    return outcome, len(h.recorder.invocations) - served


async def assert_served_and_logged(h: Harness) -> None:
    """The control after each failure: the same allowed call works and lands in the log again."""
    mark = await h.audit.mark()
    outcome, served = await call(h, *ALLOWED)
    assert (outcome.code, served) == (grpc.StatusCode.OK, 1), outcome.details
    records = await h.audit.since(mark)
    assert [(r.allowed, r.status) for r in records] == [(True, "OK")]


async def test_the_controls_are_allowed_and_denied_while_all_is_up(harness: Harness) -> None:
    assert (await call(harness, *ALLOWED))[0].code == grpc.StatusCode.OK
    assert (await call(harness, *DENIED))[0].code == grpc.StatusCode.PERMISSION_DENIED


# ---- policy ------------------------------------------------------------------------------------

async def test_policy_down_is_unavailable_unserved_logged_and_recovers(harness: Harness) -> None:
    await harness.stop_policy()
    try:
        mark = await harness.audit.mark()
        outcome, served = await call(harness, *ALLOWED)
        records = await harness.audit.since(mark)
    finally:
        await harness.start_policy()
    assert outcome.code == grpc.StatusCode.UNAVAILABLE
    assert "fail closed" in outcome.details and not outcome.responses
    assert served == 0
    (record,) = records
    assert (record.allowed, record.status, record.user) == (False, "UNAVAILABLE", "police-operator")
    assert record.reasons[0].startswith("policy unavailable: ")
    await assert_served_and_logged(harness)


@pytest_asyncio.fixture(loop_scope="module")
async def policy_without_decision() -> AsyncIterator[str]:
    """A reachable policy service that has no `data.basira.authz.decision` (e.g. a bad bundle)."""
    runner, port = await start_server(PolicyStore(PolicySet(modules={}, data={})), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_policy_answering_no_decision_is_unavailable(harness: Harness,
                                                           policy_without_decision: str) -> None:
    working, broken = harness.gate.authorizer, PolicyClient(policy_without_decision)
    harness.gate.authorizer = broken
    try:
        outcome, served = await call(harness, *ALLOWED)
    finally:
        harness.gate.authorizer = working
        await broken.close()
    assert (outcome.code, served) == (grpc.StatusCode.UNAVAILABLE, 0)
    await assert_served_and_logged(harness)


# ---- audit -------------------------------------------------------------------------------------

class AttemptedAppends:
    """An audit sink that notes every record the gate tried to append, then lets `sink` append it."""

    def __init__(self, sink: JetStreamAuditSink) -> None:
        self.sink = sink
        self.records: list[AccessRecord] = []

    async def append(self, record: AccessRecord) -> None:
        self.records.append(record)
        await self.sink.append(record)


@asynccontextmanager
async def audit_on_a_closed_connection(harness: Harness, nats_url: str) -> AsyncIterator[AttemptedAppends]:
    """The gate's audit sink swapped for one on a NATS connection that is already closed."""
    nc, js = await connect(nats_url, "gate-test-closed")
    await nc.close()
    working = harness.gate.audit
    attempted = AttemptedAppends(JetStreamAuditSink(js, harness.service, timeout_s=0.5))
    harness.gate.audit = attempted
    try:
        yield attempted
    finally:
        harness.gate.audit = working


@pytest_asyncio.fixture(loop_scope="module")
async def closed_sink(harness: Harness, nats_url: str) -> AsyncIterator[AttemptedAppends]:
    async with audit_on_a_closed_connection(harness, nats_url) as attempted:
        yield attempted


@pytest.mark.parametrize(("user", "method", "request_"), [
    ALLOWED, DENIED,
    ("police-operator", STREAM_ALERTS, alert_pb2.StreamAlertsRequest(zones=["medina"])),
])
async def test_audit_down_means_unavailable_and_no_data(harness: Harness, closed_sink: AttemptedAppends,
                                                        user: str, method: str, request_: object) -> None:
    outcome, _ = await call(harness, user, method, request_)
    assert outcome.code == grpc.StatusCode.UNAVAILABLE
    assert "access log" in outcome.details
    assert outcome.responses == []


async def test_audit_down_then_restored(harness: Harness, nats_url: str) -> None:
    async with audit_on_a_closed_connection(harness, nats_url):
        outcome, _ = await call(harness, *ALLOWED)
    assert outcome.code == grpc.StatusCode.UNAVAILABLE
    await assert_served_and_logged(harness)


async def test_audit_stream_deleted_is_unavailable_until_restored(harness: Harness) -> None:
    await harness.js.delete_stream("AUDIT")
    try:
        outcome, _ = await call(harness, *ALLOWED)
        stream_outcome, stream_served = await call(
            harness, "police-operator", STREAM_ALERTS, alert_pb2.StreamAlertsRequest(zones=["medina"]))
    finally:
        await ensure_streams(harness.js)
    assert outcome.code == grpc.StatusCode.UNAVAILABLE and outcome.responses == []
    assert (stream_outcome.code, stream_served) == (grpc.StatusCode.UNAVAILABLE, 0)
    assert stream_outcome.responses == []
    await assert_served_and_logged(harness)


async def test_server_stream_is_not_started_when_the_log_is_down(harness: Harness,
                                                                 closed_sink: AttemptedAppends) -> None:
    outcome, served = await call(harness, "police-operator", STREAM_ALERTS,
                                 alert_pb2.StreamAlertsRequest(zones=["medina"]))
    assert (outcome.code, served) == (grpc.StatusCode.UNAVAILABLE, 0)


# ---- state-changing RPCs act only once their admission is in the log ----------------------------

# Every RPC whose contract marks it `changes_state`, with a caller allowed to make it and the data
# classes that caller states a purpose for (see scenarios.REQUESTS).
STATE_CHANGING: dict[str, tuple[str, set[str]]] = {
    "/basira.v1.CameraService/RegisterCamera": ("police-admin", {"camera_meta"}),
    "/basira.v1.CameraService/UpdateCamera": ("police-admin", {"camera_meta"}),
    DECOMMISSION: ("police-admin", {"camera_meta"}),
    "/basira.v1.CameraService/StartStream": ("police-admin", {"video"}),
    "/basira.v1.CameraService/StopStream": ("police-admin", {"video"}),
    "/basira.v1.WatchlistService/CreateWatchlist": ("police-investigator", {"watchlist"}),
    "/basira.v1.WatchlistService/EnrolSubject": ("police-investigator", {"biometric"}),
    "/basira.v1.WatchlistService/RemoveSubject": ("police-investigator", {"biometric"}),
    "/basira.v1.WatchlistService/AddHotlistPlate": ("police-operator", {"plate"}),
    "/basira.v1.WatchlistService/RemoveHotlistPlate": ("police-operator", {"plate"}),
    "/basira.v1.AlertService/AcknowledgeAlert": ("police-operator", {"alerts"}),
    "/basira.v1.AlertService/ConfirmMatch": ("police-operator", {"alerts", "biometric"}),
    "/basira.v1.AlertService/RejectMatch": ("police-operator", {"alerts", "biometric"}),
    "/basira.v1.AlertService/EscalateAlert": ("police-operator", {"alerts"}),
    "/basira.v1.AlertService/StartFollow": ("police-investigator", {"plate"}),
    "/basira.v1.AlertService/StopFollow": ("police-operator", {"alerts"}),
    "/basira.v1.CameraService/ReportCameraStatus": ("police-admin", {"camera_meta"}),
}


def state_changing_request(method: str) -> tuple[str, Message | list[Message]]:
    user, classes = STATE_CHANGING[method]
    return user, REQUESTS[method](Caller(user, "police"), classes)


async def test_the_state_changing_table_is_every_rpc_the_contracts_mark() -> None:
    marked = {name for name in METHODS if (rule := access_rule(name)) is not None and rule.changes_state}
    assert marked == set(STATE_CHANGING)


@pytest.mark.parametrize("method", list(STATE_CHANGING), ids=lambda m: m.rsplit("/", 1)[1])
async def test_a_state_changing_rpc_is_served_with_its_admission_logged_first(harness: Harness,
                                                                            method: str) -> None:
    """Control for the test below: with the log up, the same call is allowed, served and logged twice."""
    user, request = state_changing_request(method)
    mark = await harness.audit.mark()
    outcome, served = await call(harness, user, method, request)
    assert (outcome.code, served) == (grpc.StatusCode.OK, 1), outcome.details
    assert [r.status for r in await harness.audit.since(mark)] == ["ADMITTED", "OK"]


@pytest.mark.parametrize("method", list(STATE_CHANGING), ids=lambda m: m.rsplit("/", 1)[1])
async def test_a_state_changing_rpc_does_not_act_while_the_log_is_down(
        harness: Harness, closed_sink: AttemptedAppends, method: str) -> None:
    user, request = state_changing_request(method)
    outcome, served = await call(harness, user, method, request)
    assert outcome.code == grpc.StatusCode.UNAVAILABLE
    assert "access log" in outcome.details and not outcome.responses
    assert served == 0, "the servicer acted although nothing could be logged"
    # The right reason: the policy allowed the call, and the admission record is what could not be
    # appended (not a denial, nor the completion record of a call that already acted).
    assert [(r.allowed, r.status, r.user) for r in closed_sink.records] == [(True, "ADMITTED", user)]
