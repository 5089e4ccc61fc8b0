"""fetch_ready: a message is handed over as soon as it comes, a backlog still goes in batches.

On a real JetStream, plus the pull protocol itself against a recording stand-in subscription."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig

from basira.common.nats import FOLLOW_UP_FETCH_S, connect, fetch_ready

PATIENCE_S = 5.0  # far beyond a hand-over, far below the long pull a held message waited out
LONG_PULL_S = 30.0


Queue = tuple[JetStreamContext, JetStreamContext.PullSubscription, str]


@pytest.fixture
async def queue(nats_url: str) -> AsyncIterator[Queue]:
    nc, js = await connect(nats_url, "fetch-ready-test")
    name = f"FETCH{uuid.uuid4().hex[:8]}"
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"],
                                     retention=RetentionPolicy.WORK_QUEUE))
    sub = await js.pull_subscribe(f"{name}.>", durable="d", stream=name,
                                  config=ConsumerConfig(durable_name="d", ack_policy=AckPolicy.EXPLICIT))
    try:
        yield js, sub, name
    finally:
        await nc.close()


async def test_a_message_after_an_expired_pull_is_not_held_for_the_rest_of_a_batch(
        queue: Queue) -> None:
    """The quiet pipeline's case: pulls expire on an idle stream (their expiry notices arrive late),
    then a frame comes. nats-py's fetch(4) held such a frame for its whole pull."""
    js, sub, name = queue
    for i in range(5):
        with pytest.raises(NatsTimeoutError):
            await fetch_ready(sub, 4, 0.2)  # expires; its notice may still be on the way
        await js.publish(f"{name}.frame", str(i).encode())
        messages = await asyncio.wait_for(fetch_ready(sub, 4, LONG_PULL_S), PATIENCE_S)
        assert [m.data for m in messages] == [str(i).encode()]
        await messages[0].ack()


async def test_a_backlog_is_taken_in_batches_of_at_most_the_batch_size(
        queue: Queue) -> None:
    js, sub, name = queue
    for i in range(20):
        await js.publish(f"{name}.n", str(i).encode())
    first = await asyncio.wait_for(fetch_ready(sub, 16, LONG_PULL_S), PATIENCE_S)
    rest = await asyncio.wait_for(fetch_ready(sub, 16, LONG_PULL_S), PATIENCE_S)
    assert [m.data for m in first + rest] == [str(i).encode() for i in range(20)]
    assert (len(first), len(rest)) == (16, 4)


class _Message:
    def __init__(self, pending: int) -> None:
        self.metadata = type("Metadata", (), {"num_pending": pending})()


class _RecordingSubscription:
    """Answers each pull with what it is given and records (batch, timeout) of every pull."""

    def __init__(self, *answers: list[_Message] | Exception) -> None:
        self.answers, self.pulls = list(answers), list[tuple[int, float]]()

    async def fetch(self, batch: int, timeout: float) -> list[_Message]:
        self.pulls.append((batch, timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_only_one_message_is_ever_waited_for_the_rest_only_as_many_as_are_pending() -> None:
    alone = _RecordingSubscription([_Message(pending=0)])
    assert len(await fetch_ready(cast(Any, alone), 16, 1.0)) == 1
    assert alone.pulls == [(1, 1.0)]

    backlog = _RecordingSubscription([_Message(pending=3)], [_Message(2), _Message(1), _Message(0)])
    assert len(await fetch_ready(cast(Any, backlog), 16, 1.0)) == 4
    assert backlog.pulls == [(1, 1.0), (3, FOLLOW_UP_FETCH_S)]

    capped = _RecordingSubscription([_Message(pending=500)], [_Message(0)] * 15)
    assert len(await fetch_ready(cast(Any, capped), 16, 1.0)) == 16
    assert capped.pulls == [(1, 1.0), (15, FOLLOW_UP_FETCH_S)]

    taken_by_another_copy = _RecordingSubscription([_Message(pending=2)], NatsTimeoutError())
    assert len(await fetch_ready(cast(Any, taken_by_another_copy), 16, 1.0)) == 1
