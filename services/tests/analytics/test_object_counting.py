"""People and vehicles counted once each: the tracker and its rules on scripted detections, then the
real detector on both shared street clips against a count made by eye."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from basira.analytics.counting import counter_factory
from basira.analytics.object_counting import (
    BoxTracker,
    DetectorCounter,
    DetectorCounterConfig,
    drop_carried,
    label_group,
)
from basira.analytics.object_detection import DarknetDetector, DarknetDetectorConfig, Detection
from basira.common.errors import ConfigError
from basira.ingest.frames import encode_jpeg
from basira.ingest.motion import MotionConfig, MotionGate

W, H = 640, 480


class Scripted:
    """Detections given in advance, one list per frame (stands in for the network)."""

    def __init__(self, frames: list[list[Detection]]) -> None:
        self.frames = frames

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        return self.frames.pop(0) if self.frames else []


def person(x: int, y: int = 100) -> Detection:
    return Detection("person", 0.8, (x, y, 60, 160))


def test_label_groups() -> None:
    assert [label_group(n) for n in ("person", "car", "truck", "dog", "cell phone")] == [
        "person", "vehicle", "vehicle", "animal", "other"]


def test_tracker_keeps_a_person_through_short_gaps_and_forgets_them_after_max_missed() -> None:
    tracker = BoxTracker(max_jump=1.5, max_missed_s=4.0)
    (first,) = tracker.update([person(100)], at_s=0.0)
    tracker.update([], at_s=1.0)
    tracker.update([], at_s=3.5)
    (same,) = tracker.update([person(104)], at_s=4.0)  # hidden 4 s: the same track
    assert same.id == first.id and same.seen == 2
    tracker.update([], at_s=6.0)
    tracker.update([], at_s=8.0)
    (later,) = tracker.update([person(100)], at_s=10.5)  # missing from frames for 4.5 s: someone new
    assert later.id != first.id
    (kept,) = tracker.update([person(102)], at_s=30.0)  # no frame analysed meanwhile (a still scene)
    assert kept.id == later.id


def test_a_person_is_counted_once_however_long_they_stay() -> None:
    frames = [[person(100 + i)] for i in range(30)]
    counter = DetectorCounter(Scripted(frames), DetectorCounterConfig())
    counts = [counter.update(np.zeros((H, W, 3), np.uint8), at_s=i * 0.5) for i in range(30)]
    assert sum(c.persons for c in counts) == 1
    assert sum(c.vehicles for c in counts) == 0


def test_a_moving_object_counts_as_a_vehicle_whatever_its_label_but_a_parked_one_does_not() -> None:
    moving = [[Detection("cell phone", 0.7, (300, 400 - 60 * i, 120, 200))] for i in range(6)]
    parked = [[Detection("car", 0.9, (50, 50, 150, 90))] for _ in range(6)]
    counter = DetectorCounter(Scripted([m + p for m, p in zip(moving, parked, strict=True)]))
    total = [counter.update(np.zeros((H, W, 3), np.uint8), at_s=i * 0.5) for i in range(6)]
    assert sum(c.vehicles for c in total) == 1 and sum(c.persons for c in total) == 0


def test_things_people_carry_and_animals_are_not_counted() -> None:
    walker = [[person(100 + 40 * i), Detection("handbag", 0.7, (110 + 40 * i, 150, 30, 40)),
               Detection("dog", 0.8, (400 - 40 * i, 300, 80, 60))] for i in range(6)]
    assert [d.label for d in drop_carried(walker[0], 0.6)] == ["person", "dog"]
    counter = DetectorCounter(Scripted(walker))
    total = [counter.update(np.zeros((H, W, 3), np.uint8), at_s=float(i)) for i in range(6)]
    assert sum(c.persons for c in total) == 1 and sum(c.vehicles for c in total) == 0


def test_missing_or_unknown_model_files_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        DarknetDetector(DarknetDetectorConfig(model_dir=tmp_path))
    with pytest.raises(ConfigError):
        counter_factory({"type": "detector", "max_missed_s": -1})


# -- the real detector on the shared clips ------------------------------------------------------

def count_clip(path: Path, analysis_fps: float, *, motion_gate: bool = False) -> tuple[int, int]:
    """(vehicles, persons) counted on `path` sampled at `analysis_fps`, as ingest samples a camera;
    with `motion_gate`, only the frames ingest's motion gate passes for a fixed camera, as JPEG."""
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    counter = counter_factory({"type": "detector"})()
    gate = MotionGate(MotionConfig()) if motion_gate else None
    vehicles = persons = index = 0
    next_due = 0.0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index >= next_due:
            next_due += fps / analysis_fps
            at_s = index / fps
            if gate is None or gate.check(at_s, frame).keep:
                if gate is not None:
                    frame = cv2.imdecode(np.frombuffer(encode_jpeg(frame, 85), np.uint8), cv2.IMREAD_COLOR)
                counts = counter.update(frame, at_s=at_s)
                vehicles, persons = vehicles + counts.vehicles, persons + counts.persons
        index += 1
    capture.release()
    return vehicles, persons


def within_ten_percent(counted: int, by_eye: int) -> bool:
    return abs(counted - by_eye) <= 0.1 * by_eye


def test_car_clip_counts_four_vehicles_and_no_person(shared_data: Path) -> None:
    """Hand count: 30 s of a road seen from straight above, looked at one frame a second (contact
    sheets of the frames at 0, 1, 2 ... 30 s). A white car drives up through the frame (5-8 s), a grey
    car drives down while a red car drives up (15-18 s), a white coupé drives down (26-27 s): 4
    vehicles, no person. Sampled at 5 frames/s, the e2e road camera's rate."""
    vehicles, persons = count_clip(shared_data / "video" / "car-detection.mp4", analysis_fps=5.0)
    print(f"\ncar-detection.mp4: {vehicles} vehicles, {persons} persons (by eye: 4, 0)")
    assert within_ten_percent(vehicles, 4) and persons == 0


def test_person_clip_counts_six_people_and_no_vehicle(shared_data: Path) -> None:
    """Hand count: 139 s of a room, looked at one frame every 2 s (contact sheets). One at a time, six
    people walk in, stand at the high table, and leave: a woman in a grey cardigan (6-19 s), a man in
    a black jacket (24-44 s), a woman with long fair hair in black (52-69 s), a man in a black T-shirt
    (76-87 s), a dark-haired woman in grey (94-119 s), a man in a grey shirt (124-135 s): 6 people, no
    vehicle. Sampled at 2 frames/s (the ingest default) through ingest's motion gate, as a fixed
    camera's frames reach analytics: people standing still send a frame only every 10 s."""
    vehicles, persons = count_clip(shared_data / "video" / "one-by-one-person-detection.mp4",
                                   analysis_fps=2.0, motion_gate=True)
    print(f"\none-by-one-person-detection.mp4: {persons} persons, {vehicles} vehicles (by eye: 6, 0)")
    assert within_ten_percent(persons, 6) and vehicles == 0
