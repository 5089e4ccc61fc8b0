"""People and vehicle counting per camera per minute: counter plugins and minute buckets.

The default counter, `detector`, finds people and vehicles with a detector and counts each tracked
object once (`object_counting.py`). The `mog2-line` counter (motion only) separates moving objects
from the background with OpenCV's MOG2, merges nearby foreground blobs into objects, follows their
centroids with a greedy nearest-centroid tracker, and counts an object once when it has been followed
for a few frames and its centroid is on the other side of a virtual line from where it was first seen
(either direction). Line and thresholds are fractions of the frame, so one config fits any
resolution. It cannot tell a person from a car, so it counts every moving object as a vehicle.

No I/O and no clock: callers pass frames and times in; state is per camera.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from basira.analytics.object_counting import (
    DetectorCounterConfig,
    FrameCounts,
    detector_counter_factory,
)
from basira.analytics.object_detection import shared_detector
from basira.common.plugins import resolve_plugin

Point = tuple[float, float]
Box = tuple[int, int, int, int]
Line = tuple[Point, Point]

_TARGET_MEDIAN = 110.0


class Counter(Protocol):
    """Counts objects in one camera's frames, fed in capture order (it keeps state between frames)."""

    def update(self, frame_bgr: np.ndarray, at_s: float) -> FrameCounts:
        """Feed the next frame (H×W×3 uint8 BGR) captured at `at_s` (seconds, increasing); returns
        what was counted in it."""
        ...


# -- geometry and tracking (pure Python) --------------------------------------------------------


@dataclass(slots=True)
class Track:
    """One followed object: where it was first seen, where it is now, how many frames it was seen."""

    id: int
    origin: Point
    position: Point
    seen: int = 1
    missed: int = 0
    counted: bool = False


class CentroidTracker:
    """Greedy nearest-neighbour association of centroids between frames.

    A centroid joins the nearest free track within `max_jump` (same units as the points); unmatched
    centroids start tracks; a track unmatched for more than `max_missed` frames is dropped.
    """

    def __init__(self, max_jump: float, max_missed: int = 3) -> None:
        self.max_jump, self.max_missed = max_jump, max_missed
        self.tracks: dict[int, Track] = {}
        self._next_id = 1

    def update(self, centroids: list[Point]) -> list[Track]:
        """Associate this frame's centroids; returns the tracks matched or started in this frame."""
        pairs = sorted(
            (math.dist(track.position, c), track_id, i)
            for track_id, track in self.tracks.items() for i, c in enumerate(centroids)
        )
        used_tracks: set[int] = set()
        used_points: set[int] = set()
        seen: list[Track] = []
        for distance, track_id, i in pairs:
            if distance > self.max_jump:
                break
            if track_id in used_tracks or i in used_points:
                continue
            used_tracks.add(track_id)
            used_points.add(i)
            track = self.tracks[track_id]
            track.position, track.missed = centroids[i], 0
            track.seen += 1
            seen.append(track)
        for track_id in list(self.tracks):
            if track_id not in used_tracks:
                track = self.tracks[track_id]
                track.missed += 1
                if track.missed > self.max_missed:
                    del self.tracks[track_id]
        for i, c in enumerate(centroids):
            if i not in used_points:
                track = Track(self._next_id, origin=c, position=c)
                self._next_id += 1
                self.tracks[track.id] = track
                seen.append(track)
        return seen


def side_of_line(point: Point, line: Line) -> float:
    """Signed area test: > 0 on one side of the line through `line`'s two points, < 0 on the other."""
    (x1, y1), (x2, y2) = line
    return (x2 - x1) * (point[1] - y1) - (y2 - y1) * (point[0] - x1)


def on_opposite_sides(a: Point, b: Point, line: Line) -> bool:
    """True if `a` and `b` lie strictly on opposite sides of the line."""
    return side_of_line(a, line) * side_of_line(b, line) < 0


def merge_near_boxes(boxes: list[Box], gap: float) -> list[Box]:
    """Union boxes (x, y, w, h) that overlap or lie within `gap` pixels of each other, transitively.

    Background subtraction often cuts one vehicle in two (a dark windscreen looks like the road);
    merging near fragments keeps it one object.
    """
    merged = [list(b) for b in boxes]
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                ax, ay, aw, ah = merged[i]
                bx, by, bw, bh = merged[j]
                dx = max(bx - (ax + aw), ax - (bx + bw), 0)
                dy = max(by - (ay + ah), ay - (by + bh), 0)
                if dx <= gap and dy <= gap:
                    x0, y0 = min(ax, bx), min(ay, by)
                    x1, y1 = max(ax + aw, bx + bw), max(ay + ah, by + bh)
                    merged[i] = [x0, y0, x1 - x0, y1 - y0]
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return [(b[0], b[1], b[2], b[3]) for b in merged]


# -- the default counter ------------------------------------------------------------------------


class Mog2LineCounterConfig(BaseModel):
    """Background subtraction + blob merging + centroid tracking + line crossing (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["mog2-line"] = Field(default="mog2-line", description="Counter selector.")
    process_width: int = Field(
        default=320, ge=64, le=1920, description="Frames are shrunk to this width (px) first.")
    line: tuple[float, float, float, float] = Field(
        default=(0.0, 0.5, 1.0, 0.5),
        description="Counting line x1, y1, x2, y2 as fractions of width and height.")
    history: int = Field(default=200, ge=10, le=10000, description="Frames the background model remembers.")
    var_threshold: float = Field(
        default=25.0, gt=0, description="MOG2 squared Mahalanobis distance for foreground.")
    min_area: float = Field(
        default=0.01, gt=0, lt=1, description="Smallest object counted, as a fraction of the frame.")
    min_fragment: float = Field(
        default=0.003, gt=0, lt=1,
        description="Smallest blob kept for merging into an object, as a fraction of the frame (smaller "
        "ones are noise).")
    merge_gap: float = Field(
        default=0.025, ge=0, lt=1, description="Blobs closer than this (fraction of width) are one object.")
    max_jump: float = Field(
        default=0.35, gt=0, le=2,
        description="Farthest a centroid moves between two frames, as a fraction of the frame diagonal "
        "(raise it for low frame rates).")
    max_missed: int = Field(default=3, ge=0, le=100, description="Frames a track survives without a blob.")
    min_track_frames: int = Field(
        default=3, ge=1, le=100, description="Frames an object must be followed before it can count.")
    max_foreground: float = Field(
        default=0.6, gt=0, le=1,
        description="Frames with more foreground than this (a lighting change, a moved camera) are learnt "
        "but not counted.")
    normalise_exposure: bool = Field(
        default=True,
        description="Scale each frame to a fixed median brightness so camera auto-exposure swings are not "
        "taken for motion.")

class Mog2LineCounter:
    """The default vehicle counter; one instance per camera (not thread-safe)."""

    def __init__(self, config: Mog2LineCounterConfig | None = None) -> None:
        self.config = config or Mog2LineCounterConfig()
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        self._size: tuple[int, int] | None = None
        self._tracker = CentroidTracker(1.0)
        self._line: Line = ((0.0, 0.0), (1.0, 0.0))
        self._subtractor = cv2.createBackgroundSubtractorMOG2()
        self.frames = 0

    def _reset(self, width: int, height: int) -> None:
        """Start over for a new frame size (first frame, or the camera changed resolution)."""
        c = self.config
        self._size = (width, height)
        self._tracker = CentroidTracker(c.max_jump * math.hypot(width, height), c.max_missed)
        self._subtractor = cv2.createBackgroundSubtractorMOG2(
            history=c.history, varThreshold=c.var_threshold, detectShadows=True)
        x1, y1, x2, y2 = c.line
        self._line = ((x1 * width, y1 * height), (x2 * width, y2 * height))

    def foreground(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, list[Point]]:
        """Learn the next frame; return its cleaned foreground mask and object centroids (processing px)."""
        c = self.config
        height, width = frame_bgr.shape[:2]
        small = cv2.resize(frame_bgr, (c.process_width, max(1, round(height * c.process_width / width))),
                           interpolation=cv2.INTER_AREA)
        if self._size != (small.shape[1], small.shape[0]):
            self._reset(small.shape[1], small.shape[0])
        if c.normalise_exposure:
            median = float(np.median(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)))
            small = cv2.convertScaleAbs(small, alpha=_TARGET_MEDIAN / max(median, 1.0))
        mask = self._subtractor.apply(cv2.GaussianBlur(small, (5, 5), 0))
        _, mask = cv2.threshold(mask, 200, 255, cv2.THRESH_BINARY)  # drop shadows (marked 127)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        mask = cv2.dilate(mask, self._kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        frame_area = mask.shape[0] * mask.shape[1]
        fragments: list[Box] = []
        for contour in contours:
            if cv2.contourArea(contour) >= c.min_fragment * frame_area:
                x, y, w, h = cv2.boundingRect(contour)
                fragments.append((x, y, w, h))
        objects = merge_near_boxes(fragments, c.merge_gap * mask.shape[1])
        centroids = [(x + w / 2.0, y + h / 2.0) for x, y, w, h in objects if w * h >= c.min_area * frame_area]
        return mask, centroids

    def update(self, frame_bgr: np.ndarray, at_s: float = 0.0) -> FrameCounts:
        mask, centroids = self.foreground(frame_bgr)
        self.frames += 1
        if float(np.count_nonzero(mask)) / mask.size > self.config.max_foreground:
            self._tracker.update([])  # the scene changed as a whole: learn it, count nothing
            return FrameCounts()
        vehicles = 0
        for track in self._tracker.update(centroids):
            if track.counted or track.seen < self.config.min_track_frames:
                continue
            if on_opposite_sides(track.origin, track.position, self._line):
                track.counted = True
                vehicles += 1
        return FrameCounts(vehicles=vehicles)


_COUNTERS: dict[str, tuple[type[BaseModel], Callable[[Any], Callable[[], Counter]]]] = {
    "mog2-line": (Mog2LineCounterConfig, lambda config: lambda: Mog2LineCounter(config)),
    "detector": (DetectorCounterConfig, lambda config: detector_counter_factory(config, shared_detector)),
}


def counter_factory(config: BaseModel | Mapping[str, Any]) -> Callable[[], Counter]:
    """Validate `config` once and return a function making one fresh counter per camera.

    Raises ConfigError for an unknown `type` or invalid settings. The `detector` counter loads its
    network on the first camera and shares it with the others.
    """
    validated, factory = resolve_plugin(_COUNTERS, config, "counter")
    return factory(validated)


# -- per camera, per minute ---------------------------------------------------------------------


def minute_of(when: datetime) -> datetime:
    """The start of the minute holding `when` (keeps its timezone)."""
    return when.replace(second=0, microsecond=0)


@dataclass(slots=True)
class CountBucket:
    """Counts of one camera for the minute starting at `minute` (tz-aware UTC)."""

    camera_id: str
    zone: str
    minute: datetime
    vehicles: int = 0
    persons: int = 0
    frames: int = 0


@dataclass(frozen=True, slots=True)
class CountCheckpoint:
    """What a restarted worker needs to resume one camera's counting where a killed one stopped.

    `version` rises with every change of the camera's state, so a stale copy never replaces a newer
    one; `unpublished` holds closed minutes their worker had not published yet (the caller fills it).
    """

    camera_id: str
    version: int
    bucket: CountBucket | None
    last_captured: datetime | None
    unpublished: tuple[CountBucket, ...] = ()


@dataclass(slots=True)
class _CameraState:
    counter: Counter
    bucket: CountBucket | None = None
    last_captured: datetime | None = None
    last_seen_s: float = 0.0
    version: int = 0
    idle_closed: CountBucket | None = None
    """The minute an idle spell closed: a later frame of that same minute carries it on (cumulative)."""
    floor: datetime | None = None
    """Frames captured at or before this were counted before a restart (the checkpoint's last frame)."""
    counted: dict[datetime, None] = field(default_factory=dict)
    """Capture times counted here within the reorder window, in counting order (a redelivered frame
    is not counted twice); an insertion-ordered dict, so the oldest are dropped from its front."""


class CameraCounting:
    """One counter and one open minute bucket per camera; frames must arrive in capture order.

    A bucket closes when a frame of a later minute arrives, or when the camera sent nothing for
    `idle_close_s` seconds (by the caller's monotonic clock); a frame of the same minute after an idle
    close carries that bucket on, so the minute's next event holds the whole minute. A frame already
    counted (a redelivery) is ignored, as is one more than `reorder_s` older than the newest counted
    or one of a minute already closed by a later minute; a frame older than the newest counted is
    otherwise counted (after a restart, a killed worker's frames come back behind newer ones).
    Cameras silent for `forget_after_s` lose their state. Not thread-safe: call from one thread.
    """

    def __init__(self, make_counter: Callable[[], Counter], *, idle_close_s: float = 90.0,
                 forget_after_s: float = 600.0, reorder_s: float = 90.0) -> None:
        self.make_counter = make_counter
        self.idle_close_s, self.forget_after_s = idle_close_s, forget_after_s
        self.reorder = timedelta(seconds=reorder_s)
        self._cameras: dict[str, _CameraState] = {}

    def observe(self, camera_id: str, zone: str, captured: datetime, frame_bgr: np.ndarray,
                now_s: float) -> list[CountBucket]:
        """Count one frame; returns the buckets this frame closed (usually none)."""
        state = self._cameras.get(camera_id)
        if state is None:
            state = self._cameras[camera_id] = _CameraState(self.make_counter())
        minute = minute_of(captured)
        if (captured in state.counted or (state.floor is not None and captured <= state.floor)
                or (state.last_captured is not None and captured < state.last_captured - self.reorder)
                or (state.bucket is not None and minute < state.bucket.minute)):
            return []
        closed: list[CountBucket] = []
        if state.bucket is not None and minute > state.bucket.minute:
            closed.append(state.bucket)
            state.bucket = None
        counts = state.counter.update(frame_bgr, captured.timestamp())
        if state.bucket is None:
            carried = state.idle_closed if state.idle_closed and state.idle_closed.minute == minute else None
            state.bucket = replace(carried) if carried else CountBucket(camera_id, zone, minute)
            state.idle_closed = None
        bucket = state.bucket
        bucket.vehicles += counts.vehicles
        bucket.persons += counts.persons
        bucket.frames += 1
        newest = captured if state.last_captured is None else max(captured, state.last_captured)
        state.last_captured, state.last_seen_s = newest, now_s
        state.counted[captured] = None
        cutoff = newest - self.reorder
        while (oldest := next(iter(state.counted))) < cutoff:
            del state.counted[oldest]
        state.version += 1
        return closed

    def checkpoint(self, camera_id: str) -> CountCheckpoint | None:
        """A copy of the camera's open minute and last counted frame; None for an unknown camera."""
        state = self._cameras.get(camera_id)
        if state is None:
            return None
        bucket = replace(state.bucket) if state.bucket is not None else None
        return CountCheckpoint(camera_id, state.version, bucket, state.last_captured)

    def restore(self, checkpoint: CountCheckpoint, now_s: float) -> bool:
        """Resume a camera from a checkpoint (its open minute goes on; frames captured at or before its
        last counted frame are ignored as already counted). The tracker starts afresh: objects in view
        at the crash may be counted again. Ignored (False) when the camera already has live state.
        """
        if checkpoint.camera_id in self._cameras:
            return False
        bucket = replace(checkpoint.bucket) if checkpoint.bucket is not None else None
        self._cameras[checkpoint.camera_id] = _CameraState(
            self.make_counter(), bucket=bucket, last_captured=checkpoint.last_captured,
            last_seen_s=now_s, version=checkpoint.version, floor=checkpoint.last_captured)
        return True

    def close_idle(self, now_s: float) -> list[CountBucket]:
        """Close the buckets of cameras silent for `idle_close_s`; forget long-silent cameras."""
        closed = []
        for camera_id, state in list(self._cameras.items()):
            idle = now_s - state.last_seen_s
            if state.bucket is not None and idle >= self.idle_close_s:
                closed.append(state.bucket)
                state.idle_closed, state.bucket = replace(state.bucket), None
                state.version += 1
            if idle >= self.forget_after_s:
                del self._cameras[camera_id]
        return closed

    def close_all(self) -> list[CountBucket]:
        """Close every open bucket (at shutdown)."""
        closed = [s.bucket for s in self._cameras.values() if s.bucket is not None]
        for state in self._cameras.values():
            if state.bucket is not None:
                state.bucket = None
                state.version += 1
        return closed
