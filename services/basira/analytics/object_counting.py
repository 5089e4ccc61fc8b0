"""Counting people and vehicles once each: detections → tracks → one count per track, by its class.

Each frame's detections (from any `ObjectDetector`) are associated with tracks by how far their box
centre moved relative to the box size, so fast vehicles at a low analysis rate and people standing
still for minutes both keep one track. A track is counted once, when it has been seen in enough frames:

* as a **person** when most of its detections were labelled `person` (people are counted whether they
  walk or stand: crowds are made of people standing);
* as a **vehicle** when it is not a person or an animal and it has travelled (a parked car is not
  traffic). Every other moving object big enough counts as a vehicle, whatever its label: detectors
  trained on street-level photos label cars seen from straight above as phones, bottles or buses,
  while the things that move across a road and are neither people nor animals are vehicles.

Objects mostly inside a person's box (bags, phones, umbrellas they carry) are never counted.
No I/O and no clock; one `DetectorCounter` per camera, fed frames in capture order.
"""

from __future__ import annotations

import math
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from basira.analytics.object_detection import DarknetDetectorConfig, Detection

PERSON = "person"
VEHICLE = "vehicle"
ANIMAL = "animal"
OTHER = "other"

VEHICLE_LABELS = frozenset({"bicycle", "car", "motorbike", "motorcycle", "bus", "train", "truck"})
ANIMAL_LABELS = frozenset({"bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
                           "giraffe"})


def label_group(label: str) -> str:
    """The counting group of a detector class name (COCO names; unknown names are OTHER)."""
    if label == PERSON:
        return PERSON
    if label in VEHICLE_LABELS:
        return VEHICLE
    if label in ANIMAL_LABELS:
        return ANIMAL
    return OTHER


class ObjectDetector(Protocol):
    def detect(self, frame_bgr: np.ndarray) -> list[Detection]: ...


Box = tuple[int, int, int, int]


def centre(box: Box) -> tuple[float, float]:
    x, y, w, h = box
    return x + w / 2.0, y + h / 2.0


def diagonal(box: Box) -> float:
    return math.hypot(box[2], box[3])


def overlap_share(inner: Box, outer: Box) -> float:
    """The share of `inner`'s area that lies inside `outer` (0 when either is empty)."""
    ix, iy, iw, ih = inner
    ox, oy, ow, oh = outer
    w = min(ix + iw, ox + ow) - max(ix, ox)
    h = min(iy + ih, oy + oh) - max(iy, oy)
    if w <= 0 or h <= 0 or iw <= 0 or ih <= 0:
        return 0.0
    return (w * h) / float(iw * ih)


def drop_carried(detections: Iterable[Detection], inside: float) -> list[Detection]:
    """Detections other than people, minus those lying mostly (share >= `inside`) in a person's box."""
    detections = list(detections)
    people = [d.box for d in detections if d.label == PERSON]
    return [d for d in detections
            if d.label == PERSON or not any(overlap_share(d.box, p) >= inside for p in people)]


@dataclass(slots=True)
class ObjectTrack:
    """One followed object: first and latest box, frames seen, since when missing, labels, if counted."""

    id: int
    origin: tuple[float, float]
    box: Box
    seen: int = 1
    missed_since_s: float | None = None  # capture time of the first analysed frame it was missing from
    travelled: float = 0.0  # farthest the centre got from `origin`, in pixels
    votes: Tally[str] = field(default_factory=Tally)
    counted_as: str = ""

    def share(self, group: str) -> float:
        return self.votes[group] / max(1, self.seen)


class BoxTracker:
    """Greedy association of detections to tracks by centre distance relative to the box diagonal.

    A detection joins the nearest free track whose box centre is within `max_jump` diagonals (of the
    larger of the two boxes); the rest start tracks; a track missing from the analysed frames for more
    than `max_missed_s` seconds is dropped. Seconds, not frames: how long a person may stay hidden
    (behind a passer-by, or missed by the detector) does not depend on the camera's analysis rate.
    Absence is timed from the first analysed frame without the object, so frames a motion gate held
    back (a still scene: the person is still standing there) do not age a track.
    """

    def __init__(self, max_jump: float, max_missed_s: float) -> None:
        self.max_jump, self.max_missed_s = max_jump, max_missed_s
        self.tracks: dict[int, ObjectTrack] = {}
        self._next_id = 1

    def update(self, detections: list[Detection], at_s: float) -> list[ObjectTrack]:
        """Associate the detections of the frame captured at `at_s` (seconds, any epoch, increasing);
        returns the tracks matched or started in this frame."""
        self._drop_lost(at_s)
        pairs = []
        for track_id, track in self.tracks.items():
            for i, detection in enumerate(detections):
                scale = max(diagonal(track.box), diagonal(detection.box), 1.0)
                jump = math.dist(centre(track.box), centre(detection.box)) / scale
                if jump <= self.max_jump:
                    pairs.append((jump, track_id, i))
        pairs.sort()
        used_tracks: set[int] = set()
        used: set[int] = set()
        touched: list[ObjectTrack] = []
        for _, track_id, i in pairs:
            if track_id in used_tracks or i in used:
                continue
            used_tracks.add(track_id)
            used.add(i)
            track = self.tracks[track_id]
            detection = detections[i]
            track.box, track.missed_since_s = detection.box, None
            track.seen += 1
            track.votes[label_group(detection.label)] += 1
            track.travelled = max(track.travelled, math.dist(track.origin, centre(detection.box)))
            touched.append(track)
        for i, detection in enumerate(detections):
            if i not in used:
                track = ObjectTrack(self._next_id, origin=centre(detection.box), box=detection.box)
                track.votes[label_group(detection.label)] += 1
                self._next_id += 1
                self.tracks[track.id] = track
                touched.append(track)
        for track_id, track in self.tracks.items():
            if track_id not in used_tracks and track.missed_since_s is None and track not in touched:
                track.missed_since_s = at_s
        return touched

    def _drop_lost(self, at_s: float) -> None:
        for track_id in [i for i, t in self.tracks.items()
                         if t.missed_since_s is not None and at_s - t.missed_since_s > self.max_missed_s]:
            del self.tracks[track_id]


class DetectorCounterConfig(BaseModel):
    """The `detector` counter: a COCO detector, box tracking, one count per track (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["detector"] = Field(default="detector", description="Counter selector.")
    detector: DarknetDetectorConfig = Field(default_factory=DarknetDetectorConfig,
                                            description="The person/vehicle detector.")
    min_area: float = Field(default=0.002, gt=0, lt=1,
                            description="Smallest object considered, as a fraction of the frame.")
    min_vehicle_area: float = Field(
        default=0.01, gt=0, lt=1,
        description="Smallest moving object counted as a vehicle when the detector gave it no vehicle "
        "label, as a fraction of the frame.")
    carried_overlap: float = Field(
        default=0.6, gt=0, le=1,
        description="An object with this share of its box inside a person's box is carried: not counted.")
    max_jump: float = Field(
        default=1.5, gt=0, le=10,
        description="Farthest a box centre moves between two analysed frames, in box diagonals.")
    max_missed_s: float = Field(default=4.0, ge=0, le=600,
                                description="Seconds a track survives without a detection.")
    min_track_frames: int = Field(default=2, ge=1, le=100,
                                  description="Frames an object must be seen before it is counted.")
    min_travel: float = Field(
        default=0.1, ge=0, lt=2,
        description="How far (fraction of the frame diagonal) a vehicle must travel to be counted.")


@dataclass(frozen=True, slots=True)
class FrameCounts:
    """Objects that completed a count in one frame (what every counter plugin returns)."""

    vehicles: int = 0
    persons: int = 0


class DetectorCounter:
    """Counts people and vehicles in one camera's frames, once per track; not thread-safe."""

    def __init__(self, detector: ObjectDetector, config: DetectorCounterConfig | None = None) -> None:
        self.detector = detector
        self.config = config or DetectorCounterConfig()
        self.tracker = BoxTracker(self.config.max_jump, self.config.max_missed_s)
        self.frames = 0

    def count(self, detections: list[Detection], frame_width: int, frame_height: int, at_s: float
              ) -> FrameCounts:
        """Feed the detections of one frame captured at `at_s` (seconds); returns what completed a
        count in it."""
        c = self.config
        frame_area = float(max(1, frame_width * frame_height))
        frame_diagonal = math.hypot(frame_width, frame_height)
        kept = [d for d in detections if d.box[2] * d.box[3] >= c.min_area * frame_area]
        self.frames += 1
        vehicles = persons = 0
        for track in self.tracker.update(drop_carried(kept, c.carried_overlap), at_s):
            if track.counted_as or track.seen < c.min_track_frames:
                continue
            if track.share(PERSON) >= 0.5:
                track.counted_as = PERSON
                persons += 1
            elif track.share(ANIMAL) >= 0.5:
                continue
            elif track.travelled >= c.min_travel * frame_diagonal and (
                    track.votes[VEHICLE] > 0
                    or track.box[2] * track.box[3] >= c.min_vehicle_area * frame_area):
                track.counted_as = VEHICLE
                vehicles += 1
        return FrameCounts(vehicles=vehicles, persons=persons)

    def update(self, frame_bgr: np.ndarray, at_s: float) -> FrameCounts:
        height, width = frame_bgr.shape[:2]
        return self.count(self.detector.detect(frame_bgr), width, height, at_s)


def detector_counter_factory(config: DetectorCounterConfig,
                             load: Callable[[DarknetDetectorConfig], ObjectDetector]
                             ) -> Callable[[], DetectorCounter]:
    """A function making one counter per camera; the detector is loaded on first use and shared."""
    loaded: list[ObjectDetector] = []

    def make() -> DetectorCounter:
        if not loaded:
            loaded.append(load(config.detector))
        return DetectorCounter(loaded[0], config)

    return make
