"""The one bootstrap every service uses: settings → logging → clients → gRPC server → health → serve.

A service's own `server.py` only says which servicers, migrations and background loops it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import _async as health_async
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from psycopg_pool import AsyncConnectionPool

from basira.common.audit_sink import JetStreamAuditSink
from basira.common.auth import TokenVerifier
from basira.common.config import ServiceSettings
from basira.common.db import migrate, open_pool
from basira.common.gate import Gate, GateInterceptor, ResourceResolver
from basira.common.local_policy import open_bundle_authorizer
from basira.common.logs import configure_logging
from basira.common.metrics import start_metrics_server
from basira.common.nats import connect, ensure_streams, require_streams, streams_used_by
from basira.common.policy_client import PolicyClient
from basira.common.rate_limits import RateLimits
from basira.common.record_signing import load_private_key
from basira.common.tls import TlsFiles
from basira.policy.bundle import BundleError

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 32 * 1024 * 1024
Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class ServiceHost:
    """Holds a service's connections and its gRPC server for the length of its life."""

    name: str
    settings: ServiceSettings
    migrations: Path | None = None
    nc: NatsClient | None = None
    js: JetStreamContext | None = None
    pool: AsyncConnectionPool | None = None
    gate: Gate | None = None
    server: grpc.aio.Server | None = None
    health: health_async.HealthServicer | None = None
    health_server: grpc.aio.Server | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    grpc_port: int = 0
    metrics_port: int = 0
    health_port: int = 0
    _service_names: list[str] = field(default_factory=list)
    _loops: list[Loop] = field(default_factory=list)
    _resolvers: dict[str, ResourceResolver] = field(default_factory=dict)

    @property
    def db(self) -> AsyncConnectionPool:
        assert self.pool is not None, "this service was started without a database"
        return self.pool

    @property
    def jetstream(self) -> JetStreamContext:
        assert self.js is not None, "NATS is not connected yet"
        return self.js

    async def connect(self) -> None:
        """Connect NATS (declaring the streams) and PostgreSQL (migrating), and build the gate."""
        s = self.settings
        self.nc, self.js = await connect(s.nats_url, self.name, credentials=s.nats_credentials)
        if s.nats_manage_streams:
            await ensure_streams(self.js, replicas=s.nats_replicas)
        else:
            await require_streams(self.js, streams_used_by(self.name))
        if self.migrations is not None:
            if not s.database_url:
                from basira.common.errors import ConfigError
                raise ConfigError(f"{self.name} needs BASIRA_DATABASE_URL")
            self.pool = await open_pool(s.database_url)
            await migrate(self.pool, self.name, self.migrations)
        verifier = TokenVerifier(server_url=s.oidc_url, realm=s.oidc_realm, audience=s.oidc_audience,
                                 client_id=s.oidc_client_id, issuer=s.oidc_issuer or None)
        signing_key = load_private_key(s.record_signing_key) if s.record_signing_key else None
        self.gate = Gate(self.name, verifier, await self._authorizer(),
                         JetStreamAuditSink(self.js, self.name, signing_key=signing_key), self._resolvers,
                         RateLimits(s.rate_limits))

    async def _authorizer(self) -> Any:
        """Decisions from the signed bundle in this process, or from an OPA sidecar's Data API."""
        s = self.settings
        if s.policy_source == "rest":
            return PolicyClient(s.policy_url)
        try:
            return await open_bundle_authorizer(s.policy_url, s.bundle_public_key(),
                                                evaluation=s.policy_evaluation,
                                                max_staleness_s=s.policy_max_staleness_s)
        except BundleError as exc:
            from basira.common.errors import ConfigError
            raise ConfigError(f"{exc.message} (set BASIRA_POLICY_PUBLIC_KEY, or BASIRA_POLICY_SOURCE=rest "
                              "for an OPA sidecar)") from exc

    def resolver(self, full_method: str, resolver: ResourceResolver) -> None:
        """Let the gate learn a request's zone/owner from this service's own data."""
        self._resolvers[full_method] = resolver

    def loop(self, body: Loop) -> None:
        """A background loop (a NATS consumer, a stream reader) run until shutdown."""
        self._loops.append(body)

    async def _keep_running(self, body: Loop, *, first_pause_s: float = 1.0, max_pause_s: float = 30.0
                            ) -> None:
        """Run a background loop until shutdown; when it fails, log why and start it again after a
        growing pause. Without this, one failed database or NATS call ended a consumer for good (the
        audit log stopped growing after a PostgreSQL restart) while health still said SERVING."""
        pause = first_pause_s
        while not self.stop.is_set():
            try:
                await body(self.stop)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background loop failed; starting it again in %.0fs", pause,
                              extra={"loop": getattr(body, "__qualname__", repr(body))})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), pause)
            pause = min(pause * 2, max_pause_s)

    def build_server(self, add_servicers: Callable[[grpc.aio.Server], list[str]]) -> None:
        """Create the gRPC server: gate interceptor, servicers, health (NOT_SERVING), reflection."""
        assert self.gate is not None, "connect() first"
        self.server = grpc.aio.server(
            interceptors=[GateInterceptor(self.gate)],
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                     ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)],
        )
        self._service_names = add_servicers(self.server)
        self.health = health_async.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server)

    async def _set_health(self, status: Any) -> None:
        assert self.health is not None
        for name in ["", *self._service_names]:
            await self.health.set(name, status)

    def _bind(self, server: grpc.aio.Server, port: int, credentials: grpc.ServerCredentials | None) -> int:
        """The port `server` listens on (`port`, or a free one for 0); ConfigError if it cannot."""
        address = f"{self.settings.host}:{port}"
        try:
            bound = (server.add_secure_port(address, credentials) if credentials is not None
                     else server.add_insecure_port(address))
        except RuntimeError:  # newer grpcio raises where older ones returned 0
            bound = 0
        if bound == 0:
            from basira.common.errors import ConfigError
            raise ConfigError(f"{self.name}: cannot listen on {address} (port taken?)")
        return bound

    def _server_credentials(self) -> grpc.ServerCredentials | None:
        """TLS (mutual when tls_require_client_cert) when the three TLS files are set; else none."""
        s = self.settings
        if not (s.tls_cert and s.tls_key and s.tls_ca):
            return None
        ca, cert, key = TlsFiles(s.tls_ca, s.tls_cert, s.tls_key).read()
        assert cert is not None and key is not None
        return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca,
                                           require_client_auth=s.tls_require_client_cert)

    def _build_health_server(self) -> None:
        """The plaintext probe port (health_port): the same health state as the main server, so it
        says NOT_SERVING while starting and draining too, and no other service, so the APIs are
        never reachable without TLS. For probes that cannot speak TLS (the kubelet's gRPC probes)."""
        assert self.health is not None
        if not self.settings.health_port:
            return
        self.health_server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.health_server)
        self.health_port = self._bind(self.health_server, self.settings.health_port, None)

    async def serve(self) -> None:
        """Serve until SIGTERM/SIGINT or `stop` is set; then drain with the grace period."""
        assert self.server is not None and self.health is not None
        s = self.settings
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.grpc_port = self._bind(self.server, s.grpc_port, self._server_credentials())
        self._build_health_server()
        if self.health_server is not None:
            await self.health_server.start()
        await self.server.start()
        self.metrics_port = start_metrics_server(s.host, s.metrics_port)
        tasks: list[asyncio.Task[None]] = [
            asyncio.create_task(self._keep_running(body), name=f"{self.name}-loop") for body in self._loops]
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        if s.ready_file:
            s.ready_file.parent.mkdir(parents=True, exist_ok=True)
            s.ready_file.write_text(json.dumps({"grpc_port": self.grpc_port,
                                                "metrics_port": self.metrics_port,
                                                "health_port": self.health_port}))
        log.info("serving", extra={"grpc_port": self.grpc_port, "metrics_port": self.metrics_port,
                                   "health_port": self.health_port})
        await self.stop.wait()
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(s.grace_period_s)
        if self.health_server is not None:  # after the drain, so probes see NOT_SERVING through it
            await self.health_server.stop(0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.close()

    async def close(self) -> None:
        if self.gate is not None and hasattr(self.gate.authorizer, "close"):
            await self.gate.authorizer.close()
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.drain()
        if self.pool is not None:
            await self.pool.close()


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def _start(host: ServiceHost, setup: Callable[[ServiceHost], Awaitable[None]]) -> None:
    await host.connect()
    await setup(host)


def run_service(name: str, settings: ServiceSettings,
                setup: Callable[[ServiceHost], Awaitable[None]], migrations: Path | None = None) -> int:
    """Entry point body for `python -m basira.<service>`: returns the process exit code."""
    from basira.common.errors import ConfigError, Unavailable

    configure_logging(name, settings.log_level)

    async def main() -> None:
        host = ServiceHost(name, settings, migrations=migrations)
        install_signal_handlers(host.stop)
        starting = asyncio.create_task(_start(host, setup))
        stopped = asyncio.create_task(host.stop.wait())
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # SIGTERM while still connecting: give up at once
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            await host.close()
            return
        stopped.cancel()
        starting.result()
        await host.serve()

    try:
        asyncio.run(main())
    except (ConfigError, Unavailable) as exc:
        log.error("cannot start: %s", exc)
        return 2
    return 0
