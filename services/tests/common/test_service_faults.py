"""A service outlives its dependencies' faults: a failed background loop starts again, a database that
cannot serve is UNAVAILABLE with a plain message, and a message that cannot be handled yet is retried,
ever later, never dropped."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import psycopg
from psycopg_pool import PoolTimeout

from basira.common.config import ServiceSettings
from basira.common.db import database_down
from basira.common.nats import Outcome, PullConsumer
from basira.common.service import ServiceHost


async def test_a_failed_loop_is_started_again_until_it_ends() -> None:
    host = ServiceHost("test", ServiceSettings())
    runs: list[int] = []

    async def flaky(stop: asyncio.Event) -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    await asyncio.wait_for(host._keep_running(flaky, first_pause_s=0.01), timeout=5)
    assert runs == [0, 1, 2]


async def test_a_failing_loop_stops_being_restarted_at_shutdown() -> None:
    host = ServiceHost("test", ServiceSettings())
    runs: list[int] = []

    async def broken(stop: asyncio.Event) -> None:
        runs.append(1)
        host.stop.set()
        raise RuntimeError("always")

    await asyncio.wait_for(host._keep_running(broken, first_pause_s=0.01), timeout=5)
    assert runs == [1]


def test_a_database_that_cannot_serve_is_unavailable_without_internals() -> None:
    for exc in (psycopg.OperationalError("connection to server on socket /x failed"),
                PoolTimeout("couldn't get a connection after 5.00 sec")):
        down = database_down(exc)
        assert down is not None and "database" in down.message and "socket" not in down.message
    assert database_down(ValueError("a bug")) is None
    assert database_down(psycopg.errors.UniqueViolation("duplicate key")) is None


def test_a_retried_message_waits_longer_each_time_up_to_a_cap() -> None:
    async def handler(msg: Any) -> Outcome:
        return Outcome.NAK

    consumer = PullConsumer(cast(Any, None), "S", "s.>", "d", handler, nak_delay_s=1, max_nak_delay_s=8)
    delays = [consumer._nak_delay(cast(Any, SimpleNamespace(metadata=SimpleNamespace(num_delivered=n))))
              for n in (1, 2, 3, 4, 5, 50)]
    assert delays == [1, 2, 4, 8, 8, 8]
    assert consumer.config.max_deliver == -1  # held back while a dependency is down, never dropped
