"""Vehicle counting: tracker and geometry, minute buckets, and the MOG2 counter on a real street clip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from basira.analytics.counting import (
    CameraCounting,
    CentroidTracker,
    FrameCounts,
    Mog2LineCounter,
    counter_factory,
    merge_near_boxes,
    minute_of,
    on_opposite_sides,
)
from basira.common.errors import ConfigError

T0 = datetime(2026, 3, 1, 12, 0, 40, tzinfo=UTC)


def test_tracker_follows_the_nearest_centroid_and_drops_lost_tracks() -> None:
    tracker = CentroidTracker(max_jump=20, max_missed=1)
    (a,) = tracker.update([(10.0, 10.0)])
    tracks = tracker.update([(15.0, 12.0), (100.0, 100.0)])
    assert [t.id for t in tracks] == [a.id, a.id + 1]
    assert a.position == (15.0, 12.0) and a.origin == (10.0, 10.0) and a.seen == 2
    tracker.update([(100.0, 104.0)])  # `a` missed once: kept
    assert a.id in tracker.tracks
    tracker.update([(100.0, 108.0)])  # missed twice: dropped
    assert a.id not in tracker.tracks
    (far,) = tracker.update([(100.0, 140.0)])  # a jump beyond max_jump starts a new track
    assert far.id == a.id + 2


def test_line_sides_and_box_merging() -> None:
    line = ((0.0, 50.0), (100.0, 50.0))
    assert on_opposite_sides((10, 40), (12, 60), line)
    assert not on_opposite_sides((10, 40), (12, 49), line)
    assert not on_opposite_sides((10, 50), (12, 60), line)  # on the line is not across it
    boxes = [(0, 0, 10, 10), (14, 0, 10, 10), (60, 60, 5, 5)]
    assert sorted(merge_near_boxes(boxes, gap=5)) == [(0, 0, 24, 10), (60, 60, 5, 5)]
    assert len(merge_near_boxes(boxes, gap=3)) == 3


class Scripted:
    """A counter that returns pre-set counts (a stand-in for the vision part in bucket tests)."""

    def __init__(self, counts: list[int]) -> None:
        self.counts = counts

    def update(self, frame_bgr: np.ndarray, at_s: float) -> FrameCounts:
        return FrameCounts(vehicles=self.counts.pop(0) if self.counts else 0)


def test_minute_buckets_close_on_the_next_minute_and_ignore_repeats() -> None:
    counting = CameraCounting(lambda: Scripted([1, 0, 2, 1]), idle_close_s=30)
    frame = np.zeros((4, 4, 3), np.uint8)
    assert counting.observe("cam", "medina", T0, frame, now_s=0) == []
    assert counting.observe("cam", "medina", T0 + timedelta(seconds=5), frame, now_s=1) == []
    # a redelivered (older or same-time) frame is not counted again
    assert counting.observe("cam", "medina", T0 + timedelta(seconds=5), frame, now_s=2) == []
    assert counting.observe("cam", "medina", T0 + timedelta(seconds=19), frame, now_s=3) == []
    (closed,) = counting.observe("cam", "medina", T0 + timedelta(seconds=25), frame, now_s=4)
    assert (closed.minute, closed.vehicles, closed.frames, closed.zone) == (minute_of(T0), 3, 3, "medina")
    assert counting.close_idle(now_s=20) == []
    (idle,) = counting.close_idle(now_s=34)
    assert (idle.minute, idle.vehicles, idle.frames) == (minute_of(T0) + timedelta(minutes=1), 1, 1)
    assert counting.close_all() == []


def test_unknown_or_invalid_counter_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        counter_factory({"type": "yolo"})
    with pytest.raises(ConfigError):
        counter_factory({"type": "mog2-line", "line": [0, 0.5]})
    assert isinstance(counter_factory({"type": "mog2-line", "process_width": 160})(), Mog2LineCounter)


def read_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


@pytest.fixture(scope="module")
def street(shared_data: Path) -> tuple[list[np.ndarray], float]:
    path = shared_data / "video" / "car-detection.mp4"
    fps = cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) or 12.5
    return read_frames(path), fps


@pytest.mark.parametrize("keep_every", [1, 3])
def test_vehicles_counted_per_minute_on_a_real_clip(
    street: tuple[list[np.ndarray], float], keep_every: int
) -> None:
    """The clip (30 s, 12.5 fps, cars crossing a road seen from above) spans two minute buckets here.

    Four cars cross the middle of the frame; the counter is not asserted to that exact number, only to
    sane bounds, and the per-minute counts are printed as the figure to watch.
    """
    frames, fps = street
    counting = CameraCounting(counter_factory({"type": "mog2-line"}))
    buckets = []
    for i, frame in enumerate(frames[::keep_every]):
        captured = T0 + timedelta(seconds=i * keep_every / fps)
        buckets += counting.observe("cam-street", "ring-road", captured, frame, now_s=i)
    buckets += counting.close_all()
    per_minute = {f"{b.minute:%H:%M}": b.vehicles for b in buckets}
    print(f"\nvehicles per minute at {fps / keep_every:.1f} fps: {per_minute}")
    assert [b.minute for b in buckets] == [minute_of(T0), minute_of(T0) + timedelta(minutes=1)]
    assert sum(b.frames for b in buckets) == len(frames[::keep_every])
    assert 2 <= sum(b.vehicles for b in buckets) <= 8


def test_a_static_scene_counts_nothing(street: tuple[list[np.ndarray], float]) -> None:
    frames, _ = street
    counter = Mog2LineCounter()
    assert sum(counter.update(frames[0]).vehicles for _ in range(40)) == 0
