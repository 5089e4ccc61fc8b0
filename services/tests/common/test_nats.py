"""The consumer kit's payload decoding: a protobuf back, or None and a warning for a poison message."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from nats.aio.msg import Msg

from basira.common.nats import decoded
from basira.v1 import events_pb2

NO_CLIENT: Any = None  # decoding never talks to NATS


def test_decoded_returns_the_payload_as_the_message_type() -> None:
    event = events_pb2.CountEvent(id="c-1", camera_id="cam-1", vehicles=3)
    msg = Msg(NO_CLIENT, subject="counts.cam-1", data=event.SerializeToString())
    assert decoded(msg, events_pb2.CountEvent, "count event", logging.getLogger("t")) == event


def test_an_undecodable_payload_is_none_and_warned_about_on_the_callers_logger(
        caplog: pytest.LogCaptureFixture) -> None:
    msg = Msg(NO_CLIENT, subject="counts.cam-1", data=b"\xff\xff\xff")
    consumer_log = logging.getLogger("basira.search.events")
    with caplog.at_level(logging.WARNING, logger=consumer_log.name):
        assert decoded(msg, events_pb2.CountEvent, "count event", consumer_log) is None
    [record] = caplog.records
    assert record.name == "basira.search.events"
    assert record.getMessage() == "undecodable count event dropped"
    assert record.subject == "counts.cam-1"  # type: ignore[attr-defined]
