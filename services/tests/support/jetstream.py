"""NATS JetStream for tests: a connection with every stream declared, and reading a subject back."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from basira.common.nats import connect, ensure_streams


@contextlib.asynccontextmanager
async def jetstream_session(nats_url: str, name: str) -> AsyncIterator[tuple[NatsClient, JetStreamContext]]:
    """(client, JetStream) with the kit's streams declared; the client is closed on leaving.

    close(), not drain(): the kit's PullConsumer leaves its pull subscription open, and drain() would
    wait its full timeout for it.
    """
    nc, js = await connect(nats_url, name)
    await ensure_streams(js)
    try:
        yield nc, js
    finally:
        await nc.close()


async def read_all(js: JetStreamContext, stream: str, subject: str) -> list[bytes]:
    """Every message of `subject` in a limits stream, read with an ordered consumer."""
    sub = await js.subscribe(subject, stream=stream, ordered_consumer=True)
    out: list[bytes] = []
    try:
        while True:
            out.append((await sub.next_msg(timeout=0.5)).data)
    except nats.errors.TimeoutError:
        pass
    finally:
        await sub.unsubscribe()
    return out
