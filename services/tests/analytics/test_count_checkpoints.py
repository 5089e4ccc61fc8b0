"""Count checkpoints: the codec, resuming a camera's minute, and a worker killed mid-minute on real NATS."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from basira.analytics.count_checkpoints import CheckpointStore, decode_checkpoint, encode_checkpoint
from basira.analytics.counting import CameraCounting, CountBucket, CountCheckpoint, FrameCounts
from basira.analytics.engines import EngineThreads
from basira.analytics.events import FrameWorker
from basira.analytics.plates.engine import create_plate_engine
from basira.common.nats import connect, ensure_streams
from basira.v1 import events_pb2
from services.tests.analytics.test_frame_worker import FakeMsg, frame_event, stored

MINUTE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class OnePerFrame:
    """Counts one vehicle in every frame (a stand-in for the vision part)."""

    def update(self, frame_bgr: np.ndarray, at_s: float) -> FrameCounts:
        return FrameCounts(vehicles=1)


def test_a_checkpoint_survives_its_encoding() -> None:
    open_minute = CountBucket("cam-1", "medina", MINUTE, vehicles=3, persons=1, frames=9)
    closed = CountBucket("cam-1", "medina", MINUTE - timedelta(minutes=1), vehicles=2, frames=12)
    checkpoint = CountCheckpoint("cam-1", 7, open_minute, MINUTE + timedelta(seconds=12.5), (closed,))
    assert decode_checkpoint(encode_checkpoint(checkpoint)) == checkpoint
    idle = CountCheckpoint("cam-2", 1, None, None)
    assert decode_checkpoint(encode_checkpoint(idle)) == idle


@pytest.mark.parametrize("data", [b"not json", b"{}", b'{"camera_id": "c", "version": 1, "bucket": null,'
                                  b' "last_captured": "2026-03-01T12:00:00", "unpublished": []}'])
def test_a_damaged_checkpoint_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_checkpoint(data)


def test_a_resumed_camera_goes_on_with_its_minute_and_skips_frames_it_counted() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    first = CameraCounting(OnePerFrame)
    for second in range(3):
        first.observe("cam-1", "medina", MINUTE + timedelta(seconds=second), image, now_s=0)
    saved = first.checkpoint("cam-1")
    assert saved is not None and saved.bucket is not None and saved.bucket.frames == 3

    restarted = CameraCounting(OnePerFrame)
    assert restarted.restore(saved, now_s=0)
    assert not restarted.restore(saved, now_s=0)  # live state is never replaced
    # The killed worker's last frame again (redelivered), then the next ones.
    for second in (2, 3, 4):
        restarted.observe("cam-1", "medina", MINUTE + timedelta(seconds=second), image, now_s=1)
    (bucket,) = restarted.close_all()
    assert (bucket.minute, bucket.frames, bucket.vehicles) == (MINUTE, 5, 5)
    assert first.checkpoint("cam-unknown") is None


def test_every_change_raises_the_version() -> None:
    counting = CameraCounting(OnePerFrame, idle_close_s=10)
    image = np.zeros((8, 8, 3), np.uint8)
    counting.observe("cam-1", "z", MINUTE, image, now_s=0)
    v1 = counting.checkpoint("cam-1")
    counting.close_idle(now_s=20)
    v2 = counting.checkpoint("cam-1")
    assert v1 is not None and v2 is not None and v2.version > v1.version and v2.bucket is None


@pytest.mark.integration
async def test_a_worker_killed_mid_minute_loses_and_doubles_no_frame(nats_url: str,
                                                                    shared_data: Path) -> None:
    """Worker one counts frames 0-5 and dies before acking frame 5 (no close, no publish); worker two
    resumes from the checkpoints, gets frame 5 again and the rest: the minute holds each frame once."""
    nc, js = await connect(nats_url, "count-checkpoint-tests")
    threads = EngineThreads(1, "test-checkpoints")
    plates = create_plate_engine({"type": "rapidocr"})
    camera = f"cam-ckpt-{uuid.uuid4().hex[:6]}"
    capture = cv2.VideoCapture(str(shared_data / "video" / "car-detection.mp4"))
    frames = []
    for number in range(10):
        ok, image = capture.read()
        assert ok
        jpeg = cv2.imencode(".jpg", cv2.resize(image, (192, 108)))[1].tobytes()
        frames.append(frame_event(camera, jpeg, MINUTE + timedelta(seconds=10 + number), number))
    capture.release()
    workers = []
    try:
        await ensure_streams(js)

        def new_worker() -> FrameWorker:
            worker = FrameWorker(js, plates, threads, CameraCounting(OnePerFrame),
                                 checkpoints=CheckpointStore(js))
            workers.append(worker)
            return worker

        first = new_worker()
        await first.resume_counts()  # other tests' cameras may be resumed too
        for frame in frames[:6]:
            await first.handle(FakeMsg(frame.SerializeToString(), f"frames.{camera}"))  # type: ignore[arg-type]
        first.shutdown()  # killed: its open minute is only in the checkpoint

        second = new_worker()
        assert await second.resume_counts() >= 1
        for frame in frames[5:]:
            await second.handle(FakeMsg(frame.SerializeToString(), f"frames.{camera}"))  # type: ignore[arg-type]
        stop = asyncio.Event()
        stop.set()
        await second.close_idle_buckets(stop)  # at stop: every open minute closed and published

        found = await stored(js, f"counts.{camera}", lambda got: len(got) >= 1, wait_s=10, settle_s=0.5)
        (count,) = [events_pb2.CountEvent.FromString(d) for d in found]
        assert (count.frames, count.vehicles) == (10, 10)
    finally:
        for worker in workers:
            worker.shutdown()
        threads.shutdown()
        await nc.close()


def test_a_minute_closed_by_an_idle_spell_is_carried_on_by_its_next_frame() -> None:
    """A slow worker's gap closes the minute early; its later frames must not start it over."""
    counting = CameraCounting(OnePerFrame, idle_close_s=5)
    image = np.zeros((8, 8, 3), np.uint8)
    for second in range(3):
        counting.observe("cam-1", "z", MINUTE + timedelta(seconds=second), image, now_s=second)
    (early,) = counting.close_idle(now_s=10)
    counting.observe("cam-1", "z", MINUTE + timedelta(seconds=20), image, now_s=11)
    (whole,) = counting.close_all()
    assert (early.frames, whole.frames, whole.minute) == (3, 4, MINUTE)


def test_frames_coming_back_out_of_order_after_a_restart_are_counted_once() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    first = CameraCounting(OnePerFrame)
    first.observe("cam-1", "z", MINUTE + timedelta(seconds=1), image, now_s=0)
    saved = first.checkpoint("cam-1")
    assert saved is not None
    restarted = CameraCounting(OnePerFrame)
    restarted.restore(saved, now_s=0)
    # Frame 4 reached the new worker before frames 2 and 3, which the killed worker held; 4 again.
    for second in (4, 2, 3, 4, 1):
        restarted.observe("cam-1", "z", MINUTE + timedelta(seconds=second), image, now_s=1)
    (bucket,) = restarted.close_all()
    assert bucket.frames == 4


def test_a_frame_older_than_the_reorder_window_is_not_counted() -> None:
    counting = CameraCounting(OnePerFrame, reorder_s=30)
    image = np.zeros((8, 8, 3), np.uint8)
    for second in (0, 40, 5, 20):  # 5 is older than 40 - 30: a straggler; 20 is within the window
        counting.observe("cam-1", "z", MINUTE + timedelta(seconds=second), image, now_s=0)
    (bucket,) = counting.close_all()
    assert bucket.frames == 3
