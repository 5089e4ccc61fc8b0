"""Forwarding to the gRPC services with the signed-in person's own access token.

The console has no identity of its own on these calls: each carries `authorization: Bearer <the
user's access token>`, so the gate authenticates the person, policy decides for the person and the
access log records the person. A failed call becomes a Problem (problems.from_rpc_error).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from basira.cli.session import bearer_metadata
from basira.common.channels import open_aio_channel
from basira.console.config import ConsoleSettings
from basira.console.problems import from_grpc, from_rpc_error
from basira.v1 import (
    alert_pb2_grpc,
    audit_pb2_grpc,
    camera_pb2_grpc,
    search_pb2_grpc,
    watchlist_pb2_grpc,
)

MAX_MESSAGE_BYTES = 32 * 1024 * 1024
Response = TypeVar("Response")


@dataclass
class Backends:
    """One channel per service and its stubs; closed with the console."""

    cameras: camera_pb2_grpc.CameraServiceStub
    watchlists: watchlist_pb2_grpc.WatchlistServiceStub
    search: search_pb2_grpc.SearchServiceStub
    alerts: alert_pb2_grpc.AlertServiceStub
    audit: audit_pb2_grpc.AuditServiceStub
    channels: list[grpc.aio.Channel]
    timeout_s: float = 30.0

    @classmethod
    def open(cls, settings: ConsoleSettings) -> Backends:
        options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
        opened: dict[str, grpc.aio.Channel] = {}

        def channel(target: str) -> grpc.aio.Channel:
            if target not in opened:
                opened[target] = open_aio_channel(target, options=options)
            return opened[target]

        return cls(cameras=camera_pb2_grpc.CameraServiceStub(channel(settings.ingest_target)),
                   watchlists=watchlist_pb2_grpc.WatchlistServiceStub(channel(settings.analytics_target)),
                   search=search_pb2_grpc.SearchServiceStub(channel(settings.search_target)),
                   alerts=alert_pb2_grpc.AlertServiceStub(channel(settings.alerting_target)),
                   audit=audit_pb2_grpc.AuditServiceStub(channel(settings.audit_target)),
                   channels=list(opened.values()), timeout_s=settings.rpc_timeout_s)

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close(None)

    async def unary(self, method: Callable[..., Awaitable[Response]], request: Any, token: str) -> Response:
        """Call a unary RPC as the user; a gRPC error is raised as the matching Problem."""
        try:
            return await method(request, metadata=bearer_metadata(token), timeout=self.timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc


async def opened_stream(call: Any) -> Any:
    """Wait until a server stream is admitted (the gate sends its headers) or refused (raise Problem).

    Returns the call, ready to iterate.
    """
    try:
        await call.initial_metadata()
    except grpc.aio.AioRpcError as exc:
        raise from_rpc_error(exc) from exc
    if call.done():
        await raise_if_failed(call)
    return call


async def raise_if_failed(call: Any) -> None:
    """Raise the Problem of a finished call that did not end OK."""
    code = await call.code()
    if code != grpc.StatusCode.OK:
        raise from_grpc(code, await call.details() or "", await call.trailing_metadata())


async def stream_items(call: Any) -> AsyncIterator[Any]:
    """Iterate a server stream; a failure mid-stream is raised as a Problem."""
    try:
        async for item in call:
            yield item
    except grpc.aio.AioRpcError as exc:
        raise from_rpc_error(exc) from exc
