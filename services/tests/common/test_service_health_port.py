"""The plaintext probe port (BASIRA_HEALTH_PORT): health only, in step with the TLS server, never an API.

A real ServiceHost serves a stand-in AuditService over TLS; the gate's outside parts (token check,
policy, audit log) are stand-ins too, because the unit under test is the host's wiring of its two ports.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from basira.common.access_record import AccessRecord
from basira.common.auth import Subject
from basira.common.channels import channel_credentials
from basira.common.config import ServiceSettings
from basira.common.gate import Gate
from basira.common.policy_client import Decision
from basira.common.service import ServiceHost
from basira.common.tls import TlsFiles, ensure_service_cert
from basira.v1 import audit_pb2, audit_pb2_grpc

SERVICE = "basira.v1.AuditService"
TOKEN = (("authorization", "Bearer test-token"),)
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class _AnyToken:
    async def verify(self, token: str) -> Subject:
        return Subject(user="auditor", agency="oversight", roles=("auditor",), clearance=3)


class _AllowAll:
    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        return Decision(allow=True, revision="test")


@dataclass
class _Records:
    records: list[AccessRecord] = field(default_factory=list)

    async def append(self, record: AccessRecord) -> None:
        self.records.append(record)


class _HeldTreeHead(audit_pb2_grpc.AuditServiceServicer):
    """Answers GetTreeHead only once `release` is set, so a test can keep one RPC in flight."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def GetTreeHead(self, request: audit_pb2.GetTreeHeadRequest,
                          context: grpc.aio.ServicerContext) -> audit_pb2.GetTreeHeadResponse:
        self.entered.set()
        await self.release.wait()
        return audit_pb2.GetTreeHeadResponse(public_key_pem="held")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class _Running:
    host: ServiceHost
    servicer: _HeldTreeHead
    tls: TlsFiles
    task: asyncio.Task[None]


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[_Running]:
    tls = ensure_service_cert(tmp_path / "tls", "audit")
    assert tls.cert is not None and tls.key is not None
    settings = ServiceSettings(host="127.0.0.1", grpc_port=0, metrics_port=0, health_port=_free_port(),
                               tls_ca=tls.ca, tls_cert=tls.cert, tls_key=tls.key, grace_period_s=30)
    host = ServiceHost("audit", settings)
    host.gate = Gate("audit", _AnyToken(), _AllowAll(), _Records())
    servicer = _HeldTreeHead()

    def add(server: grpc.aio.Server) -> list[str]:
        audit_pb2_grpc.add_AuditServiceServicer_to_server(servicer, server)
        return [SERVICE]

    host.build_server(add)
    task = asyncio.create_task(host.serve())
    try:
        for _ in range(200):
            if host.health_port and await _check(host.health_port) == SERVING:
                break
            await asyncio.sleep(0.05)
        yield _Running(host, servicer, tls, task)
    finally:
        servicer.release.set()
        host.stop.set()
        await asyncio.wait_for(task, timeout=60)


async def _check(port: int, service: str = "") -> Any:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=10)
        return reply.status


async def test_health_port_answers_health_checks_in_plaintext(running: _Running) -> None:
    port = running.host.health_port
    assert port == running.host.settings.health_port
    assert await _check(port) == SERVING
    assert await _check(port, SERVICE) == SERVING


async def test_health_port_does_not_serve_the_apis(running: _Running) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.host.health_port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await audit_pb2_grpc.AuditServiceStub(channel).GetTreeHead(
                audit_pb2.GetTreeHeadRequest(), metadata=TOKEN, timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert not running.servicer.entered.is_set()


async def test_main_port_refuses_plaintext(running: _Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _check(running.host.grpc_port)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_health_port_says_not_serving_while_the_tls_server_drains(running: _Running) -> None:
    """An RPC in flight over TLS keeps the main server draining; the probe port says NOT_SERVING."""
    target = f"127.0.0.1:{running.host.grpc_port}"
    credentials = channel_credentials(running.tls)
    assert credentials is not None
    async with grpc.aio.secure_channel(target, credentials) as channel:
        call = audit_pb2_grpc.AuditServiceStub(channel).GetTreeHead(
            audit_pb2.GetTreeHeadRequest(), metadata=TOKEN, timeout=60)
        pending = asyncio.ensure_future(call)
        await asyncio.wait_for(running.servicer.entered.wait(), timeout=30)
        assert await _check(running.host.health_port) == SERVING
        running.host.stop.set()
        statuses = []
        for _ in range(200):
            statuses.append(await _check(running.host.health_port))
            if statuses[-1] == NOT_SERVING:
                break
            await asyncio.sleep(0.05)
        assert statuses[-1] == NOT_SERVING, statuses
        assert not running.task.done(), "the drain ended before the RPC in flight"
        running.servicer.release.set()
        reply = await pending
    assert reply.public_key_pem == "held"
    await asyncio.wait_for(running.task, timeout=60)
    assert running.host.health_server is not None
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await _check(running.host.health_port)
    assert gone.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_no_probe_port_unless_asked() -> None:
    host = ServiceHost("audit", ServiceSettings(host="127.0.0.1"))
    host.gate = Gate("audit", _AnyToken(), _AllowAll(), _Records())
    host.build_server(lambda server: [])
    task = asyncio.create_task(host.serve())
    try:
        for _ in range(200):
            if host.grpc_port:
                break
            await asyncio.sleep(0.05)
        assert host.grpc_port and host.health_server is None and host.health_port == 0
    finally:
        host.stop.set()
        await asyncio.wait_for(task, timeout=60)
