"""Ingest events: subjects, ids, the wire spelling of health states, and publishing that waits
(backpressure) against a real JetStream stream that refuses new messages when full."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, RetentionPolicy, StreamConfig

from basira.common.nats import connect
from basira.ingest.cameras import CameraSpec
from basira.ingest.events import (
    EventPublisher,
    RetryPolicy,
    frame_event,
    frame_id,
    frame_subject,
    health_message,
    health_subject,
    stream_health,
    wire_state,
)
from basira.ingest.health import HealthEvent, HealthKind
from basira.v1 import camera_pb2, events_pb2

CAM = CameraSpec(id="cam-port-01", kind=camera_pb2.CAMERA_KIND_FIXED, zone="port", owner_agency="police",
                 source_url="rtsp://cam/live", analysis_fps=2)


def test_subjects_follow_the_design() -> None:
    assert frame_subject("cam-port-01") == "frames.cam-port-01"
    assert health_subject("cam-port-01") == "camera.health.cam-port-01"
    assert frame_subject("c1", "t1.frames") == "t1.frames.c1"


@pytest.mark.parametrize(("kind", "state", "wire"), [
    (HealthKind.OFFLINE, "alert", "alarm"),
    (HealthKind.BLOCKED, "ok", "ok"),
    (HealthKind.MOVED, "alert", "alarm"),
    (HealthKind.STREAM, "connected", "STREAM_STATE_RUNNING"),
    (HealthKind.STREAM, "lost", "STREAM_STATE_RECONNECTING"),
    (HealthKind.STREAM, "failed", "STREAM_STATE_FAILED"),
    (HealthKind.STREAM, "STREAM_STATE_STOPPED", "STREAM_STATE_STOPPED"),
    (HealthKind.POWER, "critical", "critical"),
])
def test_health_states_are_spelled_as_the_contract_says(kind: HealthKind, state: str, wire: str) -> None:
    assert wire_state(HealthEvent("cam-port-01", kind, state, "", 0.0)) == wire


def test_health_message_ids_are_stable_and_distinct() -> None:
    event = HealthEvent("cam-port-01", HealthKind.BLOCKED, "alert", "view very dark", 1_700_000_000.25)
    device = camera_pb2.DeviceStatus(power_source=camera_pb2.POWER_SOURCE_BATTERY, battery_percent=7)
    first, again = health_message(CAM, event, device), health_message(CAM, event)
    assert first.id == again.id  # a retry or redelivery is recognised as the same event
    assert first.kind == "blocked" and first.state == "alarm" and first.zone == "port"
    assert first.device.battery_percent == 7
    assert first.time.ToMicroseconds() == 1_700_000_000_250_000
    cleared = HealthEvent("cam-port-01", HealthKind.BLOCKED, "ok", "view clear", 1_700_000_000.25)
    assert health_message(CAM, cleared).id != first.id
    stopped = health_message(CAM, stream_health(CAM, camera_pb2.STREAM_STATE_STOPPED, "by request"))
    assert stopped.kind == "stream" and stopped.state == "STREAM_STATE_STOPPED"


def test_frame_event_carries_the_camera_and_capture_time() -> None:
    event = frame_event(CAM, number=7, captured=1_700_000_000.5, jpeg=b"\xff\xd8jpeg", width=640, height=360)
    assert event.id == frame_id("cam-port-01", 1_700_000_000.5) == "cam-port-01-1700000000500000"
    assert (event.camera_id, event.zone, event.owner_agency) == ("cam-port-01", "port", "police")
    assert (event.width, event.height, event.frame_number) == (640, 360, 7)
    assert event.captured.ToMicroseconds() == 1_700_000_000_500_000
    assert not event.HasField("published")  # stamped when published


@pytest.fixture
async def tiny_stream(nats_url: str) -> AsyncIterator[tuple[Any, str, str]]:
    """A FRAMES-like work queue holding 2 messages at most, refusing new ones when full."""
    nc, js = await connect(nats_url, "ingest-events-test")
    uid = uuid.uuid4().hex[:8]
    name, prefix = f"TINY_{uid}", f"tiny{uid}.frames"
    await js.add_stream(StreamConfig(name=name, subjects=[f"{prefix}.>"],
                                     retention=RetentionPolicy.WORK_QUEUE, discard=DiscardPolicy.NEW,
                                     max_msgs=2, duplicate_window=30))
    try:
        yield js, name, prefix
    finally:
        await js.delete_stream(name)
        await nc.close()


async def test_publish_waits_while_the_stream_is_full_then_delivers(tiny_stream: Any) -> None:
    js, name, prefix = tiny_stream
    publisher = EventPublisher(js, RetryPolicy(initial_s=0.02, max_s=0.1, timeout_s=2), frames_prefix=prefix)
    for n in (1, 2):
        result = await publisher.publish_frame(frame_event(CAM, number=n, captured=1000.0 + n, jpeg=b"j",
                                                           width=1, height=1))
        assert result.refusals == 0
    third = asyncio.create_task(publisher.publish_frame(
        frame_event(CAM, number=3, captured=1003.0, jpeg=b"j", width=1, height=1)))
    await asyncio.sleep(0.5)
    assert not third.done()  # held, not dropped and not buffered elsewhere
    assert (await js.stream_info(name)).state.messages == 2

    sub = await js.pull_subscribe(f"{prefix}.>", durable="drain", stream=name,
                                  config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT))
    (msg,) = await sub.fetch(1, timeout=2)
    await msg.ack_sync()  # analytics took one: room for the held frame
    drained_at = time.time()
    result = await asyncio.wait_for(third, 5)
    assert result.refusals >= 3 and result.waited_s > 0.3

    frames = [events_pb2.FrameEvent.FromString(m.data) for m in await sub.fetch(2, timeout=2)]
    assert [f.frame_number for f in frames] == [2, 3]
    # `published` is the time of the accepted attempt, not of the first refused one.
    assert frames[1].published.ToMicroseconds() / 1e6 >= drained_at - 0.05


async def test_a_repeated_frame_id_is_stored_once(tiny_stream: Any) -> None:
    js, name, prefix = tiny_stream
    publisher = EventPublisher(js, frames_prefix=prefix)
    event = frame_event(CAM, number=1, captured=2000.0, jpeg=b"j", width=1, height=1)
    await publisher.publish_frame(event)
    await publisher.publish_frame(event)  # e.g. a retry after a lost ack
    assert (await js.stream_info(name)).state.messages == 1
