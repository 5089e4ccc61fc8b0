"""The ingest service over real gRPC, NATS and PostgreSQL: PushFrames (bad frames counted and explained,
the stream survives, rate limit, power events, backpressure) and the process wiring."""

from __future__ import annotations

import asyncio
import struct
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import cv2
import grpc
import nats
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, RetentionPolicy, StreamConfig
from psycopg_pool import AsyncConnectionPool

from basira.common.config import load_settings
from basira.common.db import migrate, open_pool
from basira.common.errors import ConfigError
from basira.common.nats import connect, ensure_streams
from basira.common.service import ServiceHost
from basira.ingest.cameras import CameraSpec, CameraStore, validate_camera
from basira.ingest.config import IngestSettings
from basira.ingest.events import EventPublisher, RetryPolicy
from basira.ingest.health import PowerSource
from basira.ingest.server import MIGRATIONS, setup
from basira.ingest.servicer import FrameIngestServicer, power_report
from basira.ingest.streams import RejectionTally, StreamManager, TokenBucket
from basira.v1 import camera_pb2, camera_pb2_grpc, events_pb2
from services.tests.support.jetstream import read_all

pytestmark = pytest.mark.integration


# ---- pure pieces ----

def test_token_bucket_allows_bursts_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 100  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 3


def test_rejection_tally_groups_by_reason_and_stays_bounded() -> None:
    tally = RejectionTally(max_lines=3)
    tally.add("invalid", "JPEG is truncated: no end-of-image marker in 1,234 bytes")
    tally.add("invalid", "JPEG is truncated: no end-of-image marker in 987 bytes")
    tally.add("too_large", "jpeg image is 20000×20000, a side is over the limit of 16384 pixels")
    tally.add("status", "battery_percent must be 0–100, got 150.0")
    for i in range(5):
        tally.add("invalid", f"frame is not a JPEG or PNG image (starts with bytes 0{i} 41 42)")
    assert tally.frames == 8  # status reports are not frames
    lines = tally.lines()
    assert lines[0] == "2 frames rejected (not a valid JPEG/PNG image): JPEG is truncated: no end-of-image " \
                       "marker in 1,234 bytes"
    assert lines[1].startswith("1 frame rejected (too large): jpeg image is 20000×20000")
    assert lines[2].startswith("1 status report rejected (device status ignored)")
    assert lines[3] == "5 more rejected for other reasons"


@pytest.mark.parametrize(("source", "percent", "expected"), [
    (camera_pb2.POWER_SOURCE_BATTERY, 0, (PowerSource.BATTERY, 0.0)),
    (camera_pb2.POWER_SOURCE_BATTERY, 42, (PowerSource.BATTERY, 42.0)),
    (camera_pb2.POWER_SOURCE_MAINS, 0, (PowerSource.MAINS, None)),
    (camera_pb2.POWER_SOURCE_SOLAR, -1, (PowerSource.SOLAR, None)),
    (camera_pb2.POWER_SOURCE_UNSPECIFIED, 0, (PowerSource.UNKNOWN, None)),
])
def test_device_status_becomes_a_power_report(source: int, percent: int, expected: tuple[Any, ...]) -> None:
    report = power_report(camera_pb2.DeviceStatus(power_source=source, battery_percent=percent))  # type: ignore[arg-type]
    assert (report.source, report.battery_percent) == expected


def test_settings_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"BASIRA_PUBLISH_RETRY_MAX_S: .*publish_retry_initial_s"):
        load_settings(IngestSettings, publish_retry_initial_s=3.0, publish_retry_max_s=1.0)
    with pytest.raises(ConfigError, match="BASIRA_JPEG_QUALITY"):
        load_settings(IngestSettings, jpeg_quality=101)


# ---- PushFrames over gRPC (no gate: the gate is tested with the common kit) ----

def jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return data.tobytes()


def huge_header_jpeg() -> bytes:
    """A complete, tiny JPEG whose frame header claims 20000 × 20000 pixels (1.2 GB decoded)."""
    data = bytearray(jpeg(np.full((16, 16, 3), 128, np.uint8)))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 20000, 20000)
    return bytes(data)


@dataclass
class PushWorld:
    pool: AsyncConnectionPool
    js: JetStreamContext
    store: CameraStore
    uid: str
    urls: tuple[str, str]
    cleanups: list[Any]

    async def camera(self, suffix: str, **changes: Any) -> str:
        values: dict[str, Any] = {"id": f"bwc-{self.uid}-{suffix}", "kind": camera_pb2.CAMERA_KIND_BODY_WORN,
                                  "zone": "medina", "owner_agency": "police", "analysis_fps": 30.0}
        values.update(changes)
        await self.store.register(validate_camera(CameraSpec(**values), default_fps=2.0))
        return str(values["id"])

    async def serve(self, prefix: str = "frames", **overrides: Any
                    ) -> tuple[camera_pb2_grpc.FrameIngestServiceStub, StreamManager]:
        settings = IngestSettings.model_validate({"database_url": self.urls[0], "nats_url": self.urls[1],
                                                  **overrides})
        retry = RetryPolicy(initial_s=0.02, max_s=0.2, timeout_s=2)
        manager = StreamManager(self.store, EventPublisher(self.js, retry, frames_prefix=prefix), settings)
        server = grpc.aio.server()
        camera_pb2_grpc.add_FrameIngestServiceServicer_to_server(FrameIngestServicer(self.store, manager),
                                                                 server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        self.cleanups += [channel.close, lambda: server.stop(1), manager.close]
        return camera_pb2_grpc.FrameIngestServiceStub(channel), manager


@pytest.fixture
async def world(postgres_url: str, nats_url: str) -> AsyncIterator[PushWorld]:
    pool = await open_pool(postgres_url, max_size=4)
    await migrate(pool, "ingest", MIGRATIONS)
    nc, js = await connect(nats_url, "ingest-service-test")
    await ensure_streams(js)
    w = PushWorld(pool, js, CameraStore(pool), uuid.uuid4().hex[:6], (postgres_url, nats_url), [])
    try:
        yield w
    finally:
        for cleanup in reversed(w.cleanups):
            await cleanup()
        await js.purge_stream("FRAMES", subject=f"frames.bwc-{w.uid}-*")
        async with pool.connection() as conn:
            await conn.execute("UPDATE ingest_cameras SET decommissioned = true WHERE id LIKE %s",
                               (f"bwc-{w.uid}-%",))
        await nc.close()
        await pool.close()


def frame_request(image: bytes, captured: float, camera_id: str = "", **fields: Any
                  ) -> camera_pb2.PushFramesRequest:
    request = camera_pb2.PushFramesRequest(camera_id=camera_id, image=image, **fields)
    request.captured.FromMicroseconds(round(captured * 1e6))
    return request


async def requests(items: Iterable[camera_pb2.PushFramesRequest]
                   ) -> AsyncIterator[camera_pb2.PushFramesRequest]:
    for item in items:
        yield item


async def test_push_frames_counts_and_explains_bad_frames_and_keeps_going(
        world: PushWorld, car_frames: list[tuple[float, np.ndarray]], sample_jpeg: bytes) -> None:
    cam = await world.camera("main")
    stub, _ = await world.serve(push_rate_fps=100, push_burst=100)
    good = [jpeg(image) for _, image in car_frames[:6]]
    t0 = time.time()
    battery = camera_pb2.DeviceStatus(power_source=camera_pb2.POWER_SOURCE_BATTERY, battery_percent=6)
    sent = [
        frame_request(good[0], t0, cam, status=battery),
        frame_request(good[1], t0 + 0.1),
        frame_request(sample_jpeg[: len(sample_jpeg) // 2], t0 + 0.2),  # cut off in transfer
        frame_request(b"<html>not an image</html>", t0 + 0.3),
        frame_request(good[2], t0 + 0.4),
        frame_request(huge_header_jpeg(), t0 + 0.5),
        frame_request(good[3], t0 + 0.6),
        frame_request(good[4], t0 + 0.7, "bwc-someone-else"),  # not this stream's camera
        frame_request(good[5], t0 + 0.8),
    ]
    reply = await stub.PushFrames(requests(sent), timeout=20)

    assert (reply.frames_received, reply.frames_published, reply.frames_rejected) == (9, 5, 4)
    text = "\n".join(reply.rejections)
    assert len(reply.rejections) == 4, text
    assert "JPEG is truncated" in text and "send it whole" in text
    assert "not a JPEG or PNG image" in text
    assert "20000×20000" in text and "downscale on the device" in text
    assert "this stream is for" in text

    info = await world.js.stream_info("FRAMES", subjects_filter=f"frames.{cam}")
    assert (info.state.subjects or {}).get(f"frames.{cam}") == 5
    last = events_pb2.FrameEvent.FromString((await world.js.get_last_msg("FRAMES", f"frames.{cam}")).data
                                            or b"")
    assert last.camera_id == cam and last.zone == "medina" and last.width == 768
    assert last.captured.ToMicroseconds() == round((t0 + 0.8) * 1e6)

    health = [events_pb2.CameraHealthEvent.FromString(d)
              for d in await read_all(world.js, "HEALTH", f"camera.health.{cam}")]
    power = [h for h in health if h.kind == "power"]
    assert len(power) == 1 and power[0].state == "critical" and power[0].device.battery_percent == 6
    assert [h.state for h in health if h.kind == "stream"] == ["STREAM_STATE_RUNNING", "STREAM_STATE_ENDED"]
    record = await world.store.get(cam)
    assert record.stream_state == camera_pb2.STREAM_STATE_ENDED


async def test_frames_over_the_rate_limit_are_rejected_not_fatal(
        world: PushWorld, car_frames: list[tuple[float, np.ndarray]]) -> None:
    cam = await world.camera("rate")
    stub, _ = await world.serve(push_rate_fps=1, push_burst=3)
    t0 = time.time()
    images = [jpeg(image) for _, image in car_frames[:8]]
    reply = await stub.PushFrames(requests(frame_request(image, t0 + i * 0.1, cam if i == 0 else "")
                                           for i, image in enumerate(images)), timeout=20)
    assert reply.frames_received == 8
    assert reply.frames_published + reply.frames_rejected == 8
    assert 4 <= reply.frames_rejected <= 5  # a burst of 3 (+1 refilled if the call was slow)
    (line,) = reply.rejections
    assert "over the rate limit" in line and f"camera {cam} may push 1 frames/s" in line


async def test_a_full_frames_stream_slows_the_sender(world: PushWorld,
                                                   car_frames: list[tuple[float, np.ndarray]]) -> None:
    name, prefix = f"P{world.uid}", f"p{world.uid}.frames"
    await world.js.add_stream(StreamConfig(name=name, subjects=[f"{prefix}.>"],
                                           retention=RetentionPolicy.WORK_QUEUE, discard=DiscardPolicy.NEW,
                                           max_msgs=2))
    world.cleanups.insert(0, lambda: world.js.delete_stream(name))
    cam = await world.camera("slow")
    stub, manager = await world.serve(prefix, push_rate_fps=100, push_burst=100, push_queue=2)
    t0 = time.time()
    sent = [0]

    async def frames() -> AsyncIterator[camera_pb2.PushFramesRequest]:
        for i, (_, image) in enumerate(car_frames[:12]):
            sent[0] += 1
            yield frame_request(jpeg(image), t0 + i * 0.1, cam if i == 0 else "")

    async def push() -> camera_pb2.PushFramesResponse:
        return await stub.PushFrames(frames(), timeout=30)

    call = asyncio.create_task(push())
    await asyncio.sleep(1.5)
    assert not call.done()
    stats = manager.stats(cam)
    assert stats is not None and stats.published == 2 and stats.refusals > 0
    # 2 in the stream, 1 held by the publisher, 2 queued, 1 waiting in push(): the rest stay with
    # the client (gRPC flow control), not in the service's memory.
    assert stats.reads <= 2 + 1 + 2
    sub = await world.js.pull_subscribe(f"{prefix}.>", durable="drain", stream=name,
                                        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT))
    taken = 0
    while not call.done() or taken < 12:
        try:
            for msg in await sub.fetch(2, timeout=1):
                await msg.ack_sync()
                taken += 1
        except nats.errors.TimeoutError:
            if call.done():
                break
    reply = await call
    assert (reply.frames_received, reply.frames_published, reply.frames_rejected) == (12, 12, 0)
    assert taken == 12


async def test_pushing_is_refused_for_decommissioned_or_pulled_cameras(world: PushWorld,
                                                                      sample_jpeg: bytes) -> None:
    stub, _ = await world.serve()
    gone = await world.camera("gone")
    await world.store.decommission(gone, "lost")
    pulled = await world.camera("pulled", kind=camera_pb2.CAMERA_KIND_FIXED,
                                source_url="rtsp://cam.example/live")
    await world.store.want_stream(pulled, True, "test")
    for cam, expected in ((gone, "decommissioned"), (pulled, "stop the stream before pushing"),
                          (f"bwc-{world.uid}-unknown", "not registered")):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.PushFrames(requests([frame_request(sample_jpeg, time.time(), cam)]), timeout=10)
        assert expected in (caught.value.details() or "")


# ---- the process wiring ----

async def test_the_service_starts_with_the_gate_health_and_resolvers(postgres_url: str,
                                                                     nats_url: str) -> None:
    settings = IngestSettings.model_validate({"database_url": postgres_url, "nats_url": nats_url,
                                              "policy_url": "http://127.0.0.1:9", "policy_source": "rest",
                                              "oidc_url": "http://127.0.0.1:9"})
    host = ServiceHost("ingest", settings, migrations=MIGRATIONS)
    await host.connect()
    await setup(host)
    serving = asyncio.create_task(host.serve())
    try:
        deadline = time.monotonic() + 10
        while host.grpc_port == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.grpc_port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for service in ("", "basira.v1.CameraService", "basira.v1.FrameIngestService"):
                reply = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as caught:  # no token: the gate refuses
                await camera_pb2_grpc.CameraServiceStub(channel).GetCamera(
                    camera_pb2.GetCameraRequest(camera_id="cam-x1"), timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert host.gate is not None
        assert {"/basira.v1.CameraService/StartStream", "/basira.v1.FrameIngestService/PushFrames",
                "/basira.v1.CameraService/UpdateCamera"} <= set(host.gate.resolvers)
    finally:
        host.stop.set()
        await asyncio.wait_for(serving, 15)
