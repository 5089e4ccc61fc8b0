"""Faces of analysed frames → `detections.face.<camera>`: quality-gated embeddings with their passage.

Runs in the frame worker after plates. Faces failing a quality gate are counted, never published
(they would only make false matches). Each published face carries its track id (one person's passage
past the camera, `face_tracking`), which the watchlist matcher uses to raise one candidate per passage.
A missing face engine turns this off with one logged error; plates and counts go on.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from nats.js import JetStreamContext
from prometheus_client import Counter

from basira.analytics.engines import EngineThreads
from basira.analytics.face_path import FacePath, LiveFace
from basira.analytics.face_quality import FaceQualityConfig
from basira.analytics.face_tracking import FaceTracker
from basira.analytics.faces import LazyFaceEngine
from basira.analytics.pipeline import frame_time
from basira.common.errors import BasiraError, Unavailable
from basira.common.nats import publish
from basira.v1 import common_pb2, events_pb2

log = logging.getLogger(__name__)

FACES_PUBLISHED = Counter("basira_analytics_faces_total", "Face detections published (passed the gates).")
FACES_REFUSED = Counter("basira_analytics_faces_refused_total", "Faces failing a quality gate.")


def face_subject(camera_id: str) -> str:
    return f"detections.face.{camera_id}"


def face_event(frame: events_pb2.FrameEvent, index: int, live: LiveFace, track_id: str
               ) -> events_pb2.FaceDetectionEvent:
    assert live.embedding is not None
    x, y, w, h = live.face.box
    return events_pb2.FaceDetectionEvent(
        id=f"{frame.id}:face:{index}", frame_id=frame.id, camera_id=frame.camera_id, zone=frame.zone,
        owner_agency=frame.owner_agency, captured=frame.captured,
        box=common_pb2.Box(x=x, y=y, width=w, height=h),
        score=live.face.score, embedding=list(live.embedding.vector), model=live.embedding.model,
        snapshot_jpeg=frame.jpeg, snapshot_id=frame.id,
        position=frame.position if frame.HasField("position") else None, track_id=track_id,
        size_px=live.quality.size_px, sharpness=live.quality.sharpness,
        yaw=live.quality.yaw if live.quality.yaw is not None else 0.0)


class FaceDetections:
    """Detects, gates, embeds and tracks the faces of a frame, and publishes them."""

    def __init__(self, js: JetStreamContext, faces: LazyFaceEngine, threads: EngineThreads, *,
                 quality: FaceQualityConfig | None = None, track_gap_s: float = 4.0) -> None:
        self.js, self.faces, self.threads = js, faces, threads
        self.quality = quality or FaceQualityConfig()
        self.track_gap_s = track_gap_s
        self._path: FacePath | None = None
        self._tracker: FaceTracker | None = None
        self._disabled = False

    def _analyse(self, camera_id: str, when_s: float, image: np.ndarray) -> list[tuple[LiveFace, str]]:
        if self._path is None:
            if self._disabled:
                return []
            try:
                self._path = FacePath(self.faces.get(), self.quality)
            except BasiraError as exc:
                self._disabled = True
                log.error("face detection off: the face engine is unavailable: %s", exc.message)
                return []
            self._tracker = FaceTracker(self._path.match_distance, gap_s=self.track_gap_s)
        assert self._tracker is not None
        found = self._path.live(image)
        good = [f for f in found if f.embedding is not None]
        FACES_REFUSED.inc(len(found) - len(good))
        tracks = self._tracker.assign(camera_id, when_s, [(f.face, f.vector) for f in good])
        return list(zip(good, tracks, strict=True))

    async def publish(self, frame: events_pb2.FrameEvent, image: np.ndarray) -> bool:
        """Publish the frame's good faces; False when JetStream refused one (retry the frame)."""
        when = frame_time(frame)
        when_s = when.timestamp() if when is not None else time.time()
        found = await self.threads.run(self._analyse, frame.camera_id, when_s, image)
        for index, (live, track_id) in enumerate(found):
            event = face_event(frame, index, live, track_id)
            try:
                await publish(self.js, face_subject(frame.camera_id), event.SerializeToString(), event.id)
            except Unavailable as exc:
                log.warning("face detection not published; frame will be retried: %s", exc.message,
                            extra={"frame": frame.id})
                return False
            FACES_PUBLISHED.inc()
        return True
