"""Client channels to Basira's gRPC services: the one place that decides how a client connects.

Every client of the platform (the CLI, the demo, the supervisor's readiness checks, e2e tests, load
tests, the console) opens its channels here, so transport security is decided once for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

ChannelOptions = Sequence[tuple[str, Any]]


def open_channel(target: str, *, options: ChannelOptions = ()) -> grpc.Channel:
    """A blocking channel to `host:port`."""
    return grpc.insecure_channel(target, options=list(options))


def open_aio_channel(target: str, *, options: ChannelOptions = ()) -> grpc.aio.Channel:
    """An asyncio channel to `host:port`."""
    return grpc.aio.insecure_channel(target, options=list(options))
