"""A service's real wiring served over gRPC for a test, with the gate's outside parts replaced."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from basira.common.db import migrate, open_pool
from basira.common.gate import AuditSink, Authorizer, Gate, Verifier
from basira.common.nats import connect, ensure_streams
from basira.common.service import ServiceHost


@contextlib.asynccontextmanager
async def serving(host: ServiceHost, setup: Callable[[ServiceHost], Awaitable[None]], *, verifier: Verifier,
                  policy: Authorizer, audit: AuditSink, pool_size: int) -> AsyncIterator[int]:
    """Connect `host` as `ServiceHost.connect` would, but with a gate made of `verifier`, `policy` and
    `audit`; wire it with the service's own `setup` and serve. Yields the gRPC port once health says
    SERVING (or after about 5 s); leaving stops the service and waits for it to finish.
    """
    settings = host.settings
    assert host.migrations is not None, "these tests serve a service that has its own tables"
    host.nc, host.js = await connect(settings.nats_url, f"{host.name}-grpc-test")
    await ensure_streams(host.js)
    host.pool = await open_pool(settings.database_url, max_size=pool_size)
    await migrate(host.pool, host.name, host.migrations)
    host.gate = Gate(host.name, verifier, policy, audit, host._resolvers)
    await setup(host)
    running = asyncio.create_task(host.serve())
    try:
        for _ in range(100):
            if host.grpc_port:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{host.grpc_port}") as channel:
                    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        break
            await asyncio.sleep(0.05)
        yield host.grpc_port
    finally:
        host.stop.set()
        await asyncio.wait_for(running, timeout=10)
