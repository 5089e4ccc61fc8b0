"""The camera wall's latest frame: a downscaled copy of an analysed frame, with its plate boxes.

At most one preview per camera every `interval_s`, published on `camera.preview.<camera>` (the
PREVIEWS stream keeps only the last per camera). Analytics publishes it because it is where the
plates of the frame are known: search masks them (and the faces it finds) before anyone sees it.
Best effort: a preview that cannot be published is skipped, never retried, and never holds a frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import cv2
import numpy as np
from nats.js import JetStreamContext

from basira.analytics.plates.engine import PlateRead
from basira.common.errors import Unavailable
from basira.common.nats import publish
from basira.v1 import common_pb2, events_pb2

log = logging.getLogger(__name__)

PREVIEW_PREFIX = "camera.preview"


def preview_subject(camera_id: str) -> str:
    return f"{PREVIEW_PREFIX}.{camera_id}"


def preview_event(frame: events_pb2.FrameEvent, image: np.ndarray, reads: Sequence[PlateRead], *,
                  max_width: int = 640, quality: int = 80) -> events_pb2.CameraPreviewEvent:
    """The preview of one analysed frame: at most `max_width` pixels wide, plate boxes scaled to it."""
    height, width = image.shape[:2]
    scale = min(1.0, max_width / width) if width else 1.0
    small = image if scale >= 1.0 else cv2.resize(image, (max(1, round(width * scale)),
                                                          max(1, round(height * scale))),
                                                 interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode the preview as JPEG")
    boxes = []
    for read in reads:
        x, y, w, h = read.box
        boxes.append(common_pb2.Box(x=int(x * scale), y=int(y * scale), width=max(1, round(w * scale)),
                                    height=max(1, round(h * scale))))
    return events_pb2.CameraPreviewEvent(
        id=f"{frame.id}:preview", camera_id=frame.camera_id, zone=frame.zone,
        owner_agency=frame.owner_agency, captured=frame.captured, jpeg=encoded.tobytes(), plates=boxes,
        frame_id=frame.id)


class PreviewPublisher:
    """Throttles previews per camera and publishes them; errors are logged, never raised."""

    def __init__(self, js: JetStreamContext, *, interval_s: float = 2.0, max_width: int = 640,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.js, self.interval_s, self.max_width = js, interval_s, max_width
        self._monotonic = monotonic
        self._last: dict[str, float] = {}

    def due(self, camera_id: str) -> bool:
        now = self._monotonic()
        last = self._last.get(camera_id)
        if last is not None and now - last < self.interval_s:
            return False
        self._last[camera_id] = now
        return True

    async def offer(self, frame: events_pb2.FrameEvent, image: np.ndarray,
                    reads: Sequence[PlateRead]) -> None:
        if self.interval_s <= 0 or not self.due(frame.camera_id):
            return
        try:
            event = preview_event(frame, image, reads, max_width=self.max_width)
            await publish(self.js, preview_subject(frame.camera_id), event.SerializeToString(), event.id,
                          timeout_s=2.0)
        except (Unavailable, ValueError, cv2.error) as exc:
            log.debug("preview skipped for %s: %s", frame.camera_id, exc)
