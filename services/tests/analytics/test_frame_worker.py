"""Frame workers on real NATS JetStream: frames in, plate detections and minute counts out, once each."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import pytest
from nats.js.api import DeliverPolicy

from basira.analytics.counting import CameraCounting, counter_factory
from basira.analytics.engines import EngineThreads
from basira.analytics.events import FRAMES_DURABLE, FRAMES_STREAM, FrameWorker
from basira.analytics.plates.engine import PlateEngine, create_plate_engine
from basira.common.nats import Outcome, connect, ensure_streams, publish
from basira.v1 import events_pb2
from services.tests.support.protos import timestamp

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def plates() -> PlateEngine:
    return create_plate_engine({"type": "rapidocr"})


@pytest.fixture(scope="module")
def threads() -> Iterator[EngineThreads]:
    pool = EngineThreads(2, "test-frames")
    yield pool
    pool.shutdown()


@dataclass
class Running:
    nc: Any
    js: Any
    worker: FrameWorker


@pytest.fixture
async def running(nats_url: str, plates: PlateEngine, threads: EngineThreads) -> AsyncIterator[Running]:
    nc, js = await connect(nats_url, "frame-worker-tests")
    await ensure_streams(js)
    worker = FrameWorker(
        js, plates, threads, CameraCounting(counter_factory({"type": "mog2-line"})), max_in_flight=3
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.consumer().run(stop))
    yield Running(nc, js, worker)
    stop.set()
    await asyncio.wait([task], timeout=15)
    with contextlib.suppress(Exception):
        await js.delete_consumer(FRAMES_STREAM, FRAMES_DURABLE)  # leave the work queue as we found it
    worker.shutdown()
    await nc.drain()


def frame_event(camera: str, jpeg: bytes, captured: datetime, number: int = 1) -> events_pb2.FrameEvent:
    return events_pb2.FrameEvent(
        id=f"{camera}-{number}-{uuid.uuid4().hex[:6]}",
        camera_id=camera,
        zone="medina",
        owner_agency="police",
        captured=timestamp(captured),
        published=timestamp(datetime.now(UTC)),
        jpeg=jpeg,
        frame_number=number,
    )


async def stored(js: Any, subject: str, until: Any, wait_s: float, settle_s: float = 1.0) -> list[bytes]:
    """Messages the stream stored on `subject` (after de-duplication), read until `until(list)` holds and
    `settle_s` more seconds pass (to catch duplicates), or `wait_s` runs out."""
    received: list[bytes] = []
    sub = await js.subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    try:
        while (left := deadline - loop.time()) > 0:
            try:
                msg = await sub.next_msg(timeout=left)
            except Exception:
                break
            received.append(msg.data)
            if until(received):
                deadline = min(deadline, loop.time() + settle_s)
    finally:
        await sub.unsubscribe()
    return received


async def test_a_frame_with_a_plate_becomes_one_detection_even_when_redelivered(
    running: Running, shared_data: Path
) -> None:
    camera = f"cam-fw-{uuid.uuid4().hex[:6]}"
    jpeg = (shared_data / "plates" / "eu" / "eu1.jpg").read_bytes()
    frame = frame_event(camera, jpeg, datetime.now(UTC))
    await publish(running.js, f"frames.{camera}", frame.SerializeToString(), frame.id)
    # The same frame again (as after a worker crash before its ack): a second stream message.
    await publish(running.js, f"frames.{camera}", frame.SerializeToString(), frame.id + "-again")

    found = await stored(
        running.js,
        f"detections.plate.{camera}",
        lambda got: any(
            events_pb2.PlateDetectionEvent.FromString(d).id == f"{frame.id}:plate:0" for d in got
        ),
        wait_s=20,
        settle_s=3,
    )
    events = [events_pb2.PlateDetectionEvent.FromString(d) for d in found]
    first = [e for e in events if e.id == f"{frame.id}:plate:0"]
    assert len(first) == 1
    assert len({e.id for e in events}) == len(events)  # no id stored twice
    detection = first[0]
    assert detection.plate.text == "M5XSX"
    assert (detection.frame_id, detection.camera_id, detection.zone, detection.owner_agency) == (
        frame.id,
        camera,
        "medina",
        "police",
    )
    assert detection.snapshot_id == frame.id and detection.snapshot_jpeg == jpeg
    assert detection.captured == frame.captured and detection.frame_published == frame.published


async def test_minute_counts_are_published_when_the_minute_closes(
    running: Running, shared_data: Path
) -> None:
    camera = f"cam-count-{uuid.uuid4().hex[:6]}"
    capture = cv2.VideoCapture(str(shared_data / "video" / "car-detection.mp4"))
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    for number in range(6):
        ok, image = capture.read()
        assert ok
        small = cv2.resize(image, (384, 216))
        captured = (
            minute + timedelta(seconds=50 + number)
            if number < 5
            else minute + timedelta(minutes=1, seconds=1)
        )
        frame = frame_event(camera, cv2.imencode(".jpg", small)[1].tobytes(), captured, number)
        await publish(running.js, f"frames.{camera}", frame.SerializeToString(), frame.id)
    capture.release()

    found = await stored(running.js, f"counts.{camera}", lambda got: len(got) >= 1, wait_s=20, settle_s=0.5)
    (count,) = [events_pb2.CountEvent.FromString(d) for d in found]
    assert count.id == f"{camera}:{minute:%Y-%m-%dT%H:%M}Z"
    assert count.minute.ToDatetime(tzinfo=UTC) == minute
    assert (count.frames, count.vehicles, count.zone) == (
        5,
        0,
        "medina",
    )  # no car crosses in the first frames


@dataclass
class FakeMsg:
    data: bytes
    subject: str = "frames.cam-x"


async def test_poison_frames_are_terminated(running: Running, shared_data: Path) -> None:
    worker = running.worker
    assert await worker.handle(FakeMsg(b"\x00\xffnot a frame")) is Outcome.TERM  # type: ignore[arg-type]
    truncated = frame_event(
        "cam-x", (shared_data / "plates" / "eu" / "eu1.jpg").read_bytes()[:5000], datetime.now(UTC)
    )
    assert await worker.handle(FakeMsg(truncated.SerializeToString())) is Outcome.TERM  # type: ignore[arg-type]
    not_an_image = frame_event("cam-x", b"GIF89a....", datetime.now(UTC))
    assert await worker.handle(FakeMsg(not_an_image.SerializeToString())) is Outcome.TERM  # type: ignore[arg-type]


async def test_a_refused_publish_naks_the_frame(
    nats_url: str, plates: PlateEngine, threads: EngineThreads, shared_data: Path
) -> None:
    nc, js = await connect(nats_url, "frame-worker-closed")
    await nc.close()  # every publish now fails, as when JetStream is down
    worker = FrameWorker(js, plates, threads, CameraCounting(counter_factory({"type": "mog2-line"})))
    frame = frame_event(
        "cam-nak", (shared_data / "plates" / "eu" / "eu1.jpg").read_bytes(), datetime.now(UTC)
    )
    try:
        assert await worker.handle(FakeMsg(frame.SerializeToString())) is Outcome.NAK  # type: ignore[arg-type]
    finally:
        worker.shutdown()


async def test_a_passing_vehicle_gives_one_fused_sighting_and_each_frame_names_its_passage(
    running: Running, shared_data: Path
) -> None:
    """A body camera pushes five looks at one plate (moving, rescaled), then, later, another plate."""
    camera = f"cam-pass-{uuid.uuid4().hex[:6]}"
    photo = cv2.imread(str(shared_data / "plates" / "eu" / "eu1.jpg"), cv2.IMREAD_COLOR)
    start = datetime.now(UTC)
    frames = []
    for look in range(5):
        scale = 0.9 + 0.05 * look
        moved = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        jpeg = cv2.imencode(".jpg", moved, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
        frames.append(frame_event(camera, jpeg, start + timedelta(milliseconds=200 * look), look + 1))
    other = (shared_data / "plates" / "eu" / "test_062.jpg").read_bytes()
    frames.append(frame_event(camera, other, start + timedelta(seconds=5), 6))
    for frame in frames:
        await publish(running.js, f"frames.{camera}", frame.SerializeToString(), frame.id)
    def every_frame_read(got: list[bytes]) -> bool:
        return {events_pb2.PlateDetectionEvent.FromString(d).frame_id for d in got} >= {f.id for f in frames}

    detections = [events_pb2.PlateDetectionEvent.FromString(d) for d in await stored(
        running.js, f"detections.plate.{camera}", every_frame_read, wait_s=60, settle_s=0.5)]
    await running.worker.end_quiet_passages((start + timedelta(seconds=60)).timestamp())  # as the idle loop

    def plate_sightings(got: list[bytes]) -> list[events_pb2.PlateSightingEvent]:
        every = [events_pb2.PlateSightingEvent.FromString(d) for d in got]
        return [s for s in every if s.plate.text == "M5XSX"]  # the photo also holds a sign or two

    found = await stored(running.js, f"detections.sighting.{camera}", lambda got: bool(plate_sightings(got)),
                         wait_s=20, settle_s=2)
    sightings = plate_sightings(found)
    assert len(sightings) == 1, "one passing vehicle, one sighting"
    sighting = sightings[0]
    assert sighting.frames == 5 and sighting.plate.confidence > 0.5
    assert (sighting.camera_id, sighting.zone, sighting.owner_agency) == (camera, "medina", "police")
    assert [i.split(":plate:")[0] for i in sighting.detection_ids] == [f.id for f in frames[:5]]
    of_passage = [d for d in detections if d.id in set(sighting.detection_ids)]
    assert {d.passage_id for d in of_passage} == {sighting.id}
    assert sorted(d.passage_frames for d in of_passage) == [1, 2, 3, 4, 5]
    assert all(d.passage_id != sighting.id for d in detections if d.frame_id == frames[5].id)
