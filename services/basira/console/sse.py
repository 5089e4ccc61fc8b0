"""Server-sent events: resume points, event framing, and relaying a gRPC stream to the browser.

An event's `id:` is its stream sequence. EventSource sends the last one it saw as `Last-Event-ID`
when it reconnects; the console asks the gRPC stream to resume after it, and never writes an id at or
below one it already wrote on this connection, so a reconnecting browser loses and doubles nothing.
A relay ends when the session ends (logout), when the access token it was opened with expires (the
browser reconnects, the console refreshes the token and policy decides again), or on a stream error
(an `event: problem` is written first).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from basira.console.problems import Problem, bad_request

RETRY_MS = 2000


def resume_point(headers: Mapping[str, str], query: Mapping[str, str]) -> int:
    """The sequence to resume after: Last-Event-ID wins over ?after_sequence; 0 = from now."""
    for name, value in (("Last-Event-ID", headers.get("Last-Event-ID")),
                        ("after_sequence", query.get("after_sequence"))):
        if value is None or value.strip() == "":
            continue
        try:
            sequence = int(value.strip())
        except ValueError as exc:
            raise bad_request(f"{name} must be a stream sequence (a non-negative integer)", name) from exc
        if sequence < 0:
            raise bad_request(f"{name} must not be negative", name)
        return sequence
    return 0


def frame(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One SSE event: `id`, `event` and a single `data:` line of compact JSON."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, separators=(",", ":"), ensure_ascii=False))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


@dataclass(frozen=True)
class Item:
    """One thing to send: its sequence (the SSE id), event name and JSON payload."""

    sequence: int
    event: str
    data: Any


async def open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})
    await response.prepare(request)
    await response.write(f"retry: {RETRY_MS}\n\n".encode())
    return response


async def relay(response: web.StreamResponse, items: AsyncIterator[Item], *, after: int,
                stop: asyncio.Event, until_epoch: float, keepalive_s: float) -> int:
    """Write `items` as events until `stop`, `until_epoch` or the end; returns the last id written.

    Items at or below `after` (or below one already written) are skipped. A Problem raised by
    `items` is written as `event: problem`.
    """
    last = after
    queue: asyncio.Queue[Item | Problem | None] = asyncio.Queue(maxsize=256)

    async def pump() -> None:
        try:
            async for item in items:
                await queue.put(item)
            await queue.put(None)
        except Problem as problem:
            await queue.put(problem)

    task = asyncio.create_task(pump())
    stopper = asyncio.create_task(stop.wait())
    try:
        while True:
            remaining = until_epoch - time.time()
            if remaining <= 0 or stop.is_set():
                break
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, stopper}, timeout=min(keepalive_s, remaining),
                                         return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getter
                if stop.is_set():
                    break
                await response.write(b": keep-alive\n\n")
                continue
            got = getter.result()
            if got is None:
                break
            if isinstance(got, Problem):
                await response.write(frame("problem", got.body()))
                break
            if got.sequence <= last:
                continue
            await response.write(frame(got.event, got.data, got.sequence))
            last = got.sequence
    except ConnectionResetError:
        pass  # the browser went away; it resumes from its Last-Event-ID
    finally:
        for pending in (task, stopper):
            pending.cancel()
        await asyncio.gather(task, stopper, return_exceptions=True)
    return last
