"""Client channels to Basira's gRPC services: the one place that decides how a client connects.

Every client of the platform (the CLI, the demo, the supervisor's readiness checks, e2e tests, load
tests, the console) opens its channels here, so transport security is decided once for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from basira.common.tls import TlsFiles

ChannelOptions = Sequence[tuple[str, Any]]


def channel_credentials(tls: TlsFiles | None) -> grpc.ChannelCredentials | None:
    """TLS verified against the platform's CA, with this party's certificate when it has one."""
    if tls is None:
        return None
    ca, cert, key = tls.read()
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


def open_channel(target: str, *, options: ChannelOptions = (), tls: TlsFiles | None = None) -> grpc.Channel:
    """A blocking channel to `host:port`: TLS when `tls` is given or BASIRA_TLS_CA is set."""
    credentials = channel_credentials(tls or TlsFiles.from_env())
    if credentials is None:
        return grpc.insecure_channel(target, options=list(options))
    return grpc.secure_channel(target, credentials, options=list(options))


def open_aio_channel(target: str, *, options: ChannelOptions = (), tls: TlsFiles | None = None
                     ) -> grpc.aio.Channel:
    """An asyncio channel to `host:port`: TLS when `tls` is given or BASIRA_TLS_CA is set."""
    credentials = channel_credentials(tls or TlsFiles.from_env())
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=list(options))
    return grpc.aio.secure_channel(target, credentials, options=list(options))
