"""The foundation: `basira up` brings every part up healthy, declares the streams and the schema."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from basira.common.channels import open_channel
from basira.common.nats import STREAMS, connect
from basira.runtime.supervisor import GRPC_SERVICES, Platform

pytestmark = pytest.mark.integration


def test_every_grpc_service_is_serving(platform: Platform) -> None:
    for name in GRPC_SERVICES:
        with open_channel(platform.endpoints[name]) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, name


def test_jetstream_streams_are_declared(platform: Platform) -> None:
    async def stream_names() -> set[str]:
        nc, js = await connect(platform.endpoints["nats"], "e2e-check")
        try:
            return {str(info.config.name) for info in await js.streams_info()}
        finally:
            await nc.close()

    names = asyncio.run(stream_names())
    assert {spec.name for spec in STREAMS} <= names


def test_every_service_migrated_its_schema(platform: Platform) -> None:
    with psycopg.connect(platform.endpoints["postgres"]) as conn:
        applied = {row[0] for row in conn.execute("SELECT DISTINCT service FROM schema_migrations")}
        tables = {row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert {"audit", "ingest", "search", "alerting", "watchlists"} <= applied
    assert any(t.startswith("audit") for t in tables)
    assert any(t.startswith("ingest") for t in tables)


def test_health_checks_by_service_name(platform: Platform) -> None:
    with open_channel(platform.endpoints["search"]) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="basira.v1.SearchService"), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
