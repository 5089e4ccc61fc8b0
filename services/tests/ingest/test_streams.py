"""Camera streams against real NATS JetStream and PostgreSQL: a file camera publishing frames and health,
stopping, backpressure from a full stream, restarts after a crash, updates, decommissioning."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from google.protobuf import field_mask_pb2
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, RetentionPolicy, StreamConfig
from psycopg_pool import AsyncConnectionPool

from basira.common.db import migrate, open_pool
from basira.common.errors import FailedPrecondition
from basira.common.nats import FRAMES_QUEUED_PER_CAMERA, connect, ensure_streams
from basira.ingest.cameras import CameraStore
from basira.ingest.config import IngestSettings
from basira.ingest.events import EventPublisher, RetryPolicy
from basira.ingest.server import MIGRATIONS
from basira.ingest.servicer import CameraServicer
from basira.ingest.streams import StreamManager, StreamStats
from basira.v1 import camera_pb2, events_pb2
from services.tests.support.jetstream import read_all

pytestmark = pytest.mark.integration

RUNNING = camera_pb2.STREAM_STATE_RUNNING


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = 10.0,
                     what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        outcome = check()
        if isinstance(outcome, Awaitable):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def subject_count(js: JetStreamContext, stream: str, subject: str) -> int:
    info = await js.stream_info(stream, subjects_filter=subject)
    return int((info.state.subjects or {}).get(subject, 0))


@dataclass
class World:
    pool: AsyncConnectionPool
    js: JetStreamContext
    store: CameraStore
    uid: str
    postgres_url: str
    nats_url: str
    managers: list[StreamManager]
    streams: list[str]

    def settings(self, **overrides: Any) -> IngestSettings:
        return IngestSettings.model_validate({"database_url": self.postgres_url, "nats_url": self.nats_url,
                                              **overrides})

    def manager(self, settings: IngestSettings, prefix: str = "frames") -> StreamManager:
        retry = RetryPolicy(initial_s=0.02, max_s=0.2, timeout_s=2)
        manager = StreamManager(self.store, EventPublisher(self.js, retry, frames_prefix=prefix), settings)
        self.managers.append(manager)
        return manager

    async def small_stream(self, max_msgs: int) -> str:
        """A FRAMES-like work queue of at most `max_msgs` messages; returns its subject prefix."""
        name, prefix = f"T{self.uid}_{len(self.streams)}", f"t{self.uid}x{len(self.streams)}.frames"
        await self.js.add_stream(StreamConfig(
            name=name, subjects=[f"{prefix}.>"], retention=RetentionPolicy.WORK_QUEUE,
            discard=DiscardPolicy.NEW, max_msgs=max_msgs, duplicate_window=30))
        self.streams.append(name)
        return prefix

    async def register(self, servicer: CameraServicer, suffix: str, source: str, **fields: Any) -> str:
        camera_id = f"cam-{self.uid}-{suffix}"
        values: dict[str, Any] = {"kind": camera_pb2.CAMERA_KIND_FIXED, "zone": "port",
                                  "owner_agency": "police", "source_url": source, "analysis_fps": 2.0}
        values.update(fields)
        await servicer.RegisterCamera(camera_pb2.RegisterCameraRequest(
            camera=camera_pb2.Camera(id=camera_id, **values)), None)
        return camera_id


@pytest.fixture
async def world(postgres_url: str, nats_url: str) -> AsyncIterator[World]:
    pool = await open_pool(postgres_url, max_size=6)
    await migrate(pool, "ingest", MIGRATIONS)
    nc, js = await connect(nats_url, "ingest-streams-test")
    await ensure_streams(js)
    w = World(pool, js, CameraStore(pool), uuid.uuid4().hex[:6], postgres_url, nats_url, [], [])
    try:
        yield w
    finally:
        for manager in w.managers:
            await manager.close()
        async with pool.connection() as conn:
            await conn.execute("UPDATE ingest_cameras SET stream_wanted = false, decommissioned = true,"
                               " stream_owner = '' WHERE id LIKE %s", (f"cam-{w.uid}-%",))
        for name in w.streams:
            with contextlib.suppress(Exception):
                await js.delete_stream(name)
        await js.purge_stream("FRAMES", subject=f"frames.cam-{w.uid}-*")
        await nc.close()
        await pool.close()


async def test_file_camera_publishes_frames_and_health_then_stops(world: World, car_clip: Path) -> None:
    settings = world.settings()
    manager = world.manager(settings)
    servicer = CameraServicer(world.store, manager, settings)
    cam = await world.register(servicer, "file", str(car_clip), analysis_fps=2.0)
    subject = f"frames.{cam}"

    started = (await servicer.StartStream(camera_pb2.StartStreamRequest(camera_id=cam), None)).camera
    assert started.stream_state == camera_pb2.STREAM_STATE_CONNECTING
    t0 = time.monotonic()
    await eventually(lambda: _count_at_least(world.js, subject, 4), what="4 frames")
    elapsed = time.monotonic() - t0
    count = await subject_count(world.js, "FRAMES", subject)
    # Real-time file playback sampled at 2 fps: about 2 frames a second, never the clip's 12.5 fps.
    assert count <= 2.0 * elapsed + 3
    stats = manager.stats(cam)
    assert stats is not None and stats.still >= 3  # the clip's first seconds are a still road

    # Count and check them with a JetStream consumer (FRAMES is a work queue: acking removes them).
    sub = await world.js.pull_subscribe(subject, durable=f"check-{world.uid}", stream="FRAMES",
                                        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT))
    frames = []
    for msg in await sub.fetch(count, timeout=2):
        frames.append(events_pb2.FrameEvent.FromString(msg.data))
        await msg.ack()
    await world.js.delete_consumer("FRAMES", f"check-{world.uid}")
    assert len(frames) == count
    first = frames[0]
    assert (first.camera_id, first.zone, first.owner_agency) == (cam, "port", "police")
    assert first.id.startswith(f"{cam}-") and len({f.id for f in frames}) == count
    image = cv2.imdecode(np.frombuffer(first.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape[:2] == (first.height, first.width) == (432, 768)
    assert first.published.ToMicroseconds() >= first.captured.ToMicroseconds() - 1_000_000
    assert [f.frame_number for f in frames] == sorted(f.frame_number for f in frames)
    gaps = np.diff([f.captured.ToMicroseconds() / 1e6 for f in frames])
    assert np.all(gaps >= 0.45)  # sampled to 2 fps (motion-gated frames only widen the gaps)

    record = await world.store.get(cam)
    assert record.stream_state == RUNNING and record.stream_owner == manager.me

    # Stopping stops: no new frames, table and health say STOPPED.
    stopped = (await servicer.StopStream(camera_pb2.StopStreamRequest(camera_id=cam), None)).camera
    assert stopped.stream_state == camera_pb2.STREAM_STATE_STOPPED
    assert manager.running() == []
    after_stop = await subject_count(world.js, "FRAMES", subject)
    await asyncio.sleep(1.2)
    assert await subject_count(world.js, "FRAMES", subject) == after_stop
    health = [events_pb2.CameraHealthEvent.FromString(d)
              for d in await read_all(world.js, "HEALTH", f"camera.health.{cam}")]
    states = [(h.kind, h.state) for h in health]
    assert ("stream", "STREAM_STATE_CONNECTING") in states
    assert ("stream", "STREAM_STATE_RUNNING") in states
    assert states[-1] == ("stream", "STREAM_STATE_STOPPED")
    assert all(h.zone == "port" and h.id for h in health)
    assert (await world.store.get(cam)).stream_state == camera_pb2.STREAM_STATE_STOPPED


async def _count_at_least(js: JetStreamContext, subject: str, n: int) -> bool:
    return await subject_count(js, "FRAMES", subject) >= n


async def _read_until_refused(world: World, clip: Path, suffix: str,
                              prefix: str = "frames") -> tuple[str, StreamStats]:
    """A file camera taking every frame as fast as it can read them, once JetStream first refused one."""
    settings = world.settings(file_realtime=False, motion_gate=False, offline_after_s=1.0)
    manager = world.manager(settings, prefix)
    servicer = CameraServicer(world.store, manager, settings)
    cam = await world.register(servicer, suffix, str(clip), analysis_fps=30.0)  # every frame
    await servicer.StartStream(camera_pb2.StartStreamRequest(camera_id=cam), None)
    stats = manager.stats(cam)
    assert stats is not None
    await eventually(lambda: stats.refusals > 0, what="the camera's queue to fill")
    return cam, stats


async def test_backpressure_slows_reading_instead_of_buffering(world: World, car_clip: Path) -> None:
    prefix = await world.small_stream(max_msgs=3)
    cam, stats = await _read_until_refused(world, car_clip, "bp", prefix)
    reads_when_full = stats.reads
    await asyncio.sleep(1.0)
    # Nothing consumed: 3 frames published, one held in hand, and the file is not read further.
    assert stats.published == 3
    assert stats.reads == reads_when_full <= stats.published + 2
    record = await world.store.get(cam)
    assert record.stream_state == RUNNING  # waiting on analytics is not a failure

    # A slow consumer: each frame it takes lets exactly one more be read and published.
    name = world.streams[-1]
    sub = await world.js.pull_subscribe(f"{prefix}.>", durable="slow", stream=name,
                                        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT))
    numbers = []
    for _ in range(6):
        (msg,) = await sub.fetch(1, timeout=5)
        numbers.append(events_pb2.FrameEvent.FromString(msg.data).frame_number)
        await msg.ack_sync()
        await asyncio.sleep(0.2)
        assert stats.reads <= stats.published + 2
    assert numbers == list(range(1, 7))  # in order, none lost
    await eventually(lambda: stats.published == 9, timeout=5, what="the freed room to be used")
    await asyncio.sleep(0.5)
    assert stats.published == 9 and stats.reads <= 11  # of the clip's 377 frames
    # Seconds of waiting for analytics are not the camera going offline.
    health = [events_pb2.CameraHealthEvent.FromString(d)
              for d in await read_all(world.js, "HEALTH", f"camera.health.{cam}")]
    assert [h for h in health if h.kind == "offline"] == []


async def test_a_lagging_analytics_holds_back_only_its_camera(world: World, car_clip: Path) -> None:
    """On the real FRAMES stream: a camera nobody drains stops at its queue's cap and its file is not
    read further (its frames wait at ingest instead of expiring in the queue), while another camera's
    frames are still taken."""
    cam, stats = await _read_until_refused(world, car_clip, "lag")
    reads_when_full = stats.reads
    await asyncio.sleep(1.0)
    assert await subject_count(world.js, "FRAMES", f"frames.{cam}") == FRAMES_QUEUED_PER_CAMERA
    assert stats.published == FRAMES_QUEUED_PER_CAMERA
    assert stats.reads == reads_when_full <= stats.published + 2  # of the clip's 377 frames
    assert (await world.store.get(cam)).stream_state == RUNNING

    other = f"cam-{world.uid}-other"
    event = events_pb2.FrameEvent(id=f"{other}-1", camera_id=other, frame_number=1)
    accepted = await EventPublisher(world.js, RetryPolicy(initial_s=0.02, max_s=0.2, timeout_s=2)
                                    ).publish_frame(event)
    assert accepted.refusals == 0


async def test_streams_resume_after_a_crash_and_after_a_restart(world: World, car_clip: Path) -> None:
    prefix = await world.small_stream(max_msgs=1000)
    settings = world.settings(stream_lease_s=3.0, analysis_max_width=320)
    servicer = CameraServicer(world.store, world.manager(settings, prefix), settings)
    orphan = await world.register(servicer, "orphan", str(car_clip))
    taken = await world.register(servicer, "taken", str(car_clip))
    async with world.pool.connection() as conn:  # as left by instances: one crashed, one alive
        await conn.execute(
            "UPDATE ingest_cameras SET stream_wanted = true, stream_state = %s, stream_owner = %s,"
            " stream_lease_until = now() - interval '1 second' WHERE id = %s", (RUNNING, "crashed", orphan))
        await conn.execute(
            "UPDATE ingest_cameras SET stream_wanted = true, stream_state = %s, stream_owner = %s,"
            " stream_lease_until = now() + interval '1 hour' WHERE id = %s", (RUNNING, "alive", taken))

    manager = world.manager(settings, prefix)
    stop = asyncio.Event()
    loop = asyncio.create_task(manager.run(stop))
    await eventually(lambda: manager.running() == [orphan], what="the orphaned stream to be taken over")
    stats = manager.stats(orphan)
    assert stats is not None
    await eventually(lambda: stats.published >= 1, what="frames from the resumed stream")
    record = await world.store.get(orphan)
    assert record.stream_owner == manager.me and record.stream_wanted
    assert (await world.store.get(taken)).stream_owner == "alive"  # a live lease is respected

    # A graceful shutdown gives the lease back; the stream stays wanted and the next instance
    # resumes it at once (no lease expiry to wait for).
    stop.set()
    await asyncio.wait_for(loop, 10)
    record = await world.store.get(orphan)
    assert record.stream_wanted and record.stream_owner == ""
    successor = world.manager(settings, prefix)
    stop2 = asyncio.Event()
    loop2 = asyncio.create_task(successor.run(stop2))
    started = time.monotonic()
    await eventually(lambda: successor.running() == [orphan], what="the next instance to resume it")
    assert time.monotonic() - started < 2.0
    stop2.set()
    await asyncio.wait_for(loop2, 10)


async def test_updates_restart_a_running_stream_only_when_needed(world: World, car_clip: Path) -> None:
    prefix = await world.small_stream(max_msgs=1000)
    settings = world.settings(analysis_max_width=320)
    manager = world.manager(settings, prefix)
    servicer = CameraServicer(world.store, manager, settings)
    cam = await world.register(servicer, "upd", str(car_clip))
    stop = asyncio.Event()
    loop = asyncio.create_task(manager.run(stop))
    await servicer.StartStream(camera_pb2.StartStreamRequest(camera_id=cam), None)
    first = manager.stats(cam)
    assert first is not None

    await servicer.UpdateCamera(camera_pb2.UpdateCameraRequest(
        camera=camera_pb2.Camera(id=cam, name="renamed"),
        update_mask=field_mask_pb2.FieldMask(paths=["name"])), None)
    await asyncio.sleep(0.5)
    assert manager.stats(cam) is first  # a new name needs no reconnect

    await servicer.UpdateCamera(camera_pb2.UpdateCameraRequest(
        camera=camera_pb2.Camera(id=cam, analysis_fps=1.0),
        update_mask=field_mask_pb2.FieldMask(paths=["analysis_fps"])), None)
    await eventually(lambda: manager.stats(cam) not in (None, first), timeout=5,
                     what="the reader to restart with the new frame rate")
    stop.set()
    await asyncio.wait_for(loop, 10)


async def test_decommissioning_stops_the_stream_and_refuses_restarts(world: World, car_clip: Path) -> None:
    prefix = await world.small_stream(max_msgs=1000)
    settings = world.settings()
    manager = world.manager(settings, prefix)
    servicer = CameraServicer(world.store, manager, settings)
    cam = await world.register(servicer, "dec", str(car_clip))
    await servicer.StartStream(camera_pb2.StartStreamRequest(camera_id=cam), None)
    assert manager.running() == [cam]
    gone = (await servicer.DecommissionCamera(camera_pb2.DecommissionCameraRequest(
        camera_id=cam, reason="moved to storage"), None)).camera
    assert gone.decommissioned and gone.stream_state == camera_pb2.STREAM_STATE_STOPPED
    assert manager.running() == []
    with pytest.raises(FailedPrecondition, match="decommissioned"):
        await servicer.StartStream(camera_pb2.StartStreamRequest(camera_id=cam), None)

    pushed = await world.register(servicer, "bwc", "", kind=camera_pb2.CAMERA_KIND_BODY_WORN)
    with pytest.raises(FailedPrecondition, match="PushFrames"):
        await servicer.StartStream(camera_pb2.StartStreamRequest(camera_id=pushed), None)


async def test_a_file_that_ends_or_fails_is_recorded(world: World, people_gif: Path, tmp_path: Path) -> None:
    prefix = await world.small_stream(max_msgs=1000)
    settings = world.settings(file_realtime=False)
    manager = world.manager(settings, prefix)
    servicer = CameraServicer(world.store, manager, settings)
    short = await world.register(servicer, "gif", str(people_gif), analysis_fps=30.0)
    junk = tmp_path / "not-a-video.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    broken = await world.register(servicer, "junk", str(junk))
    for cam in (short, broken):
        await servicer.StartStream(camera_pb2.StartStreamRequest(camera_id=cam), None)

    await eventually(lambda: manager.running() == [], what="both streams to finish")
    ended, failed = await world.store.get(short), await world.store.get(broken)
    assert ended.stream_state == camera_pb2.STREAM_STATE_ENDED and not ended.stream_wanted
    assert "end of" in ended.stream_detail
    assert failed.stream_state == camera_pb2.STREAM_STATE_FAILED and not failed.stream_wanted
    assert "not a readable video file" in failed.stream_detail
    health = [events_pb2.CameraHealthEvent.FromString(d)
              for d in await read_all(world.js, "HEALTH", f"camera.health.{broken}")]
    assert ("stream", "STREAM_STATE_FAILED") in [(h.kind, h.state) for h in health]
