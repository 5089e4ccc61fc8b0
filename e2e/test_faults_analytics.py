"""Faults survived by the frame pipeline: the analytics worker killed (SIGKILL) mid-stream on a real
road clip. Every frame ingest published must be counted exactly once across the minute counts (the
killed worker's open minute resumed from its checkpoint, its in-flight frames redelivered before the
FRAMES stream's 60 s max age expires them), and no event published twice.

Its own small platform (ingest and analytics; audit for the access records), so the kill disturbs no
other test.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import NotFoundError

from basira.analytics.count_checkpoints import COUNTING_STREAM, checkpoint_subject, decode_checkpoint
from basira.analytics.counting import CountCheckpoint
from basira.runtime.supervisor import Platform
from basira.v1 import camera_pb2, camera_pb2_grpc, events_pb2

from .clients import channel, metadata, own_platform, register_camera, wait_until
from .test_faults import nats_call, process

pytestmark = pytest.mark.integration

CAMERA = "cam-fault-road-01"
ENV = {"BASIRA_COUNT_IDLE_CLOSE_S": "5", "BASIRA_FACE_DETECTION": "false", "BASIRA_FACE_MATCHER": "false"}


@pytest.fixture(scope="module")
def pipeline_platform() -> Iterator[Platform]:
    with own_platform("basira-faults-analytics-", ("audit", "ingest", "analytics"), ENV) as running:
        yield running


def checkpoint(platform: Platform) -> CountCheckpoint | None:
    async def query(js) -> CountCheckpoint | None:  # type: ignore[no-untyped-def]
        try:
            msg = await js.get_last_msg(COUNTING_STREAM, checkpoint_subject(CAMERA))
        except NotFoundError:
            return None
        return decode_checkpoint(msg.data)

    result: CountCheckpoint | None = nats_call(platform, query)
    return result


def published(platform: Platform, subject: str) -> list[bytes]:
    """Every message stored on `subject` so far (an ordered consumer from the start)."""

    async def query(js) -> list[bytes]:  # type: ignore[no-untyped-def]
        sub = await js.subscribe(subject, ordered_consumer=True)
        found: list[bytes] = []
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=2.0)
                except (TimeoutError, NatsTimeoutError):
                    return found
                found.append(msg.data)
        finally:
            await sub.unsubscribe()

    result: list[bytes] = nats_call(platform, query)
    return result


def frames_published(platform: Platform) -> int:
    """Frames ingest put into FRAMES (this platform has one camera; the work queue forgets acked ones)."""

    async def query(js) -> int:  # type: ignore[no-untyped-def]
        return int((await js.stream_info("FRAMES")).state.last_seq)

    result: int = nats_call(platform, query)
    return result


def test_analytics_killed_mid_stream_loses_no_count(pipeline_platform: Platform, shared_data: Path) -> None:
    platform = pipeline_platform
    register_camera(platform, camera_pb2.Camera(
        id=CAMERA, name="Ring road, fault test", kind=camera_pb2.CAMERA_KIND_FIXED, zone="ring-road",
        owner_agency="police", source_url=str(shared_data / "video" / "car-detection.mp4"),
        analysis_fps=4.0), start=True)
    before: list[CountCheckpoint] = []

    def counting_under_way() -> bool:
        found = checkpoint(platform)
        if found is None or found.bucket is None or found.bucket.frames < 15:
            return False
        before.append(found)
        return True

    wait_until(counting_under_way, 120, "the road clip's first frames counted")
    analytics = process(platform, "analytics")
    analytics.stop(sig=signal.SIGKILL)
    assert platform.restart_dead() == ["analytics"]

    cameras = camera_pb2_grpc.CameraServiceStub(channel(platform, "ingest"))
    admin = metadata(platform, "police-admin")

    def clip_done() -> bool:
        reply = cameras.GetCamera(camera_pb2.GetCameraRequest(camera_id=CAMERA), metadata=admin)
        return reply.camera.stream_state == camera_pb2.STREAM_STATE_ENDED

    wait_until(clip_done, 150, "the road clip to end")
    sent = frames_published(platform)
    latest: dict[str, events_pb2.CountEvent] = {}

    def every_frame_counted() -> bool:
        latest.clear()
        for data in published(platform, f"counts.{CAMERA}"):
            event = events_pb2.CountEvent.FromString(data)
            if event.id not in latest or event.frames >= latest[event.id].frames:
                latest[event.id] = event
        return sum(e.frames for e in latest.values()) >= sent

    try:
        wait_until(every_frame_counted, 90, f"all {sent} frames in the published minute counts")
    except AssertionError as exc:  # say what was counted and what the frames consumer still holds
        async def consumer(js) -> str:  # type: ignore[no-untyped-def]
            info = await js.consumer_info("FRAMES", "analytics-frames")
            return (f"pending {info.num_pending}, unacked {info.num_ack_pending}, redelivered "
                    f"{info.num_redelivered}; FRAMES holds {(await js.stream_info('FRAMES')).state.messages}")

        minutes = sorted((e.minute.ToDatetime(tzinfo=UTC).isoformat(), e.frames) for e in latest.values())
        raise AssertionError(f"{exc}: counted {minutes}; frames consumer: {nats_call(platform, consumer)}; "
                             f"before the kill: {before[-1]}") from exc
    counted = sum(e.frames for e in latest.values())
    vehicles = sum(e.vehicles for e in latest.values())
    print(f"{sent} frames sent, {counted} counted in {len(latest)} minutes, {vehicles} vehicles; "
          f"before the kill: {before[-1]}")
    assert counted == sent, "a frame was counted twice"
    open_minute = before[-1].bucket
    assert open_minute is not None
    [killed_minute] = [e for e in latest.values() if e.minute.ToDatetime(tzinfo=UTC) == open_minute.minute]
    assert killed_minute.frames >= open_minute.frames and killed_minute.vehicles >= open_minute.vehicles
    ids = [events_pb2.PlateDetectionEvent.FromString(d).id
           for d in published(platform, f"detections.plate.{CAMERA}")]
    ids += [events_pb2.PlateSightingEvent.FromString(d).id
            for d in published(platform, f"detections.sighting.{CAMERA}")]
    assert len(ids) == len(set(ids)), "a plate detection or sighting published twice"

    async def ack_wait(js) -> float:  # type: ignore[no-untyped-def]
        return float((await js.consumer_info("FRAMES", "analytics-frames")).config.ack_wait)

    assert nats_call(platform, ack_wait) <= 20, "a dead worker's frames must come back well within 60 s"
