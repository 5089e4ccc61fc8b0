"""The alerting wiring over real gRPC: gate interceptor, resolvers, a live stream cancelled by its client."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from basira.alerting.config import AlertingSettings
from basira.alerting.server import MIGRATIONS, setup
from basira.common.auth import Subject
from basira.common.nats import connect, publish
from basira.common.service import ServiceHost
from basira.v1 import alert_pb2, alert_pb2_grpc, analytics_pb2, events_pb2
from services.tests.support.gate_doubles import TokenTable
from services.tests.support.service_host import serving

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def running_alerting(postgres_url: str, nats_url: str, policy: Any, audit: Any,
                           subjects: dict[str, Subject], agencies: list[str]) -> AsyncIterator[int]:
    settings = AlertingSettings(nats_url=nats_url, database_url=postgres_url, grpc_port=0,
                                recipient_agencies=agencies, grace_period_s=0.5)
    host = ServiceHost("alerting", settings, migrations=MIGRATIONS)
    async with serving(host, setup, verifier=TokenTable(subjects), policy=policy, audit=audit,
                       pool_size=6) as port:
        yield port


async def next_alert_of(call: Any, agency: str, alert_id: str = "") -> alert_pb2.Alert:
    """The stream's next face-match alert for this test's own `agency` (or with `alert_id`): the
    session's NATS is shared, so candidates other tests left in MATCHES may reach this service first."""
    while True:
        alert = (await asyncio.wait_for(call.read(), timeout=10)).alert
        if alert.id == alert_id if alert_id else (
                alert.agency == agency and alert.kind == alert_pb2.ALERT_KIND_FACE_MATCH):
            return alert


async def test_stream_confirm_and_cancel_over_grpc(postgres_url: str, nats_url: str, policy: Any,
                                                   audit: Any) -> None:
    uid = uuid.uuid4().hex[:8]
    police = f"police-{uid}"
    policy.agreements = {police: {"medina"}}
    amina = Subject(user="amina", agency=police, roles=("operator",), clearance=2)
    youssef = Subject(user="youssef", agency=police, roles=("operator",), clearance=2)
    async with running_alerting(postgres_url, nats_url, policy, audit,
                                {"t-amina": amina, "t-youssef": youssef}, [police]) as port:
        nc, js = await connect(nats_url, "alerting-grpc-publisher")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = alert_pb2_grpc.AlertServiceStub(channel)
            as_amina = [("authorization", "Bearer t-amina")]
            call = stub.StreamAlerts(alert_pb2.StreamAlertsRequest(), metadata=as_amina)
            await asyncio.sleep(0.3)
            candidate = events_pb2.MatchCandidateEvent(
                id=uuid.uuid4().hex, camera_id="cam-medina-01", zone="medina", watchlist_id="wl",
                subject_id="s1", plate=analytics_pb2.PlateReading(), owner_agency=police)
            candidate.ClearField("plate")
            await publish(js, "match.candidate.face", candidate.SerializeToString(), candidate.id)
            first = await next_alert_of(call, police)
            assert first.kind == alert_pb2.ALERT_KIND_FACE_MATCH and first.sequence > 0

            confirm = alert_pb2.ConfirmMatchRequest(alert_id=first.id)
            pending = (await stub.ConfirmMatch(confirm, metadata=as_amina)).alert
            assert pending.state == alert_pb2.ALERT_STATE_PENDING_CONFIRMATION
            with pytest.raises(grpc.aio.AioRpcError) as again:
                await stub.ConfirmMatch(confirm, metadata=as_amina)
            assert again.value.code() == grpc.StatusCode.PERMISSION_DENIED  # policy saw first_confirmed_by
            done = (await stub.ConfirmMatch(confirm, metadata=[("authorization", "Bearer t-youssef")])).alert
            assert done.state == alert_pb2.ALERT_STATE_CONFIRMED

            updates = [await next_alert_of(call, police, first.id) for _ in range(2)]
            assert [u.state for u in updates] == [alert_pb2.ALERT_STATE_PENDING_CONFIRMATION,
                                                  alert_pb2.ALERT_STATE_CONFIRMED]
            call.cancel()  # the command room hangs up; the server ends the stream cleanly

            with pytest.raises(grpc.aio.AioRpcError) as anonymous:
                await stub.AcknowledgeAlert(alert_pb2.AcknowledgeAlertRequest(alert_id=first.id))
            assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
        await nc.close()
    confirm_inputs = [i for i in policy.inputs if i["action"] == "alert.confirm"]
    assert [i["resource"]["first_confirmed_by"] for i in confirm_inputs] == ["", "amina", "amina"]
    assert all(i["resource"]["zone"] == "medina" and i["resource"]["agency"] == police
               for i in confirm_inputs)
