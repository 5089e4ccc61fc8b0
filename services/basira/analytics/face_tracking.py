"""Face tracks per camera: the same person across consecutive frames keeps one track id.

Why: a person walking past a camera is seen in dozens of frames; the watchlist matcher raises one
candidate per (track, subject), not one per frame. A face joins the live track whose last face is
nearest in embedding (within the engine's match distance) or, failing that, overlaps it most on screen;
a track unseen for `gap_s` seconds ends (the next sighting is a new passage).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

import numpy as np

from basira.analytics.faces import Face


@dataclass(slots=True)
class _Track:
    id: str
    box: tuple[int, int, int, int]
    vector: np.ndarray
    last_seen: float


@dataclass
class FaceTracker:
    """Assigns track ids to a camera's faces frame by frame; thread-safe, bounded by `max_tracks`."""

    match_distance: float
    gap_s: float = 4.0
    min_iou: float = 0.3
    max_tracks: int = 10_000
    _tracks: dict[str, list[_Track]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def assign(self, camera_id: str, when_s: float, faces: list[tuple[Face, np.ndarray]]) -> list[str]:
        """One track id per (face, unit embedding) of one frame of `camera_id` taken at `when_s`."""
        with self._lock:
            live = [t for t in self._tracks.get(camera_id, []) if when_s - t.last_seen <= self.gap_s]
            ids: list[str] = []
            taken: set[str] = set()
            for face, vector in faces:
                track = self._nearest(live, taken, face, vector)
                if track is None:
                    track = _Track(f"{camera_id}:{uuid.uuid4().hex[:12]}", face.box, vector, when_s)
                    live.append(track)
                track.box, track.vector, track.last_seen = face.box, vector, max(track.last_seen, when_s)
                taken.add(track.id)
                ids.append(track.id)
            self._tracks[camera_id] = live[-self.max_tracks:]
            return ids

    def _nearest(self, live: list[_Track], taken: set[str], face: Face, vector: np.ndarray) -> _Track | None:
        free = [t for t in live if t.id not in taken]
        if not free:
            return None
        distances = [1.0 - float(np.dot(t.vector, vector)) for t in free]
        best = int(np.argmin(distances))
        if distances[best] <= self.match_distance:
            return free[best]
        overlaps = [iou(t.box, face.box) for t in free]
        best = int(np.argmax(overlaps))
        return free[best] if overlaps[best] >= self.min_iou else None


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w, h = min(ax1, bx1) - max(a[0], b[0]), min(ay1, by1) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)
