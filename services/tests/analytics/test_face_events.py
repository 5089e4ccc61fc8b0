"""Faces of analysed frames → detections.face.<camera>: gated, embedded, one track per passage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from basira.analytics.engines import EngineThreads
from basira.analytics.face_events import FaceDetections
from basira.analytics.faces import LazyFaceEngine
from basira.v1 import events_pb2

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def frame(image: bytes, n: int, seconds: float) -> events_pb2.FrameEvent:
    event = events_pb2.FrameEvent(id=f"bwc-1:{n}", camera_id="bwc-1", zone="medina", owner_agency="police",
                                  jpeg=image)
    event.captured.FromDatetime(T0 + timedelta(seconds=seconds))
    return event


async def test_gated_faces_are_published_with_one_track_per_passage(monkeypatch: Any,
                                                                    shared_data: Path) -> None:
    published: list[tuple[str, events_pb2.FaceDetectionEvent]] = []

    async def fake_publish(js: Any, subject: str, data: bytes, msg_id: str) -> int:
        event = events_pb2.FaceDetectionEvent.FromString(data)
        assert msg_id == event.id
        published.append((subject, event))
        return len(published)

    monkeypatch.setattr("basira.analytics.face_events.publish", fake_publish)
    threads = EngineThreads(1, "test-face-events")
    try:
        faces = FaceDetections(None, LazyFaceEngine({"type": "yunet-sface"}), threads,  # type: ignore[arg-type]
                               track_gap_s=4.0)
        jpeg = (shared_data / "faces" / "pairs" / "img21.jpg").read_bytes()
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        blurred = cv2.GaussianBlur(image, (0, 0), 25)
        for n, (pixels, at) in enumerate(((image, 0.0), (image, 0.5), (blurred, 1.0), (image, 30.0))):
            assert await faces.publish(frame(jpeg, n, at), pixels)
    finally:
        threads.shutdown()

    assert [s for s, _ in published] == ["detections.face.bwc-1"] * 3  # the blurred frame's face is refused
    first, second, later = (e for _, e in published)
    assert first.id == "bwc-1:0:face:0" and first.snapshot_id == "bwc-1:0" and first.snapshot_jpeg == jpeg
    assert len(first.embedding) == 128 and first.model.startswith("sface-") and first.size_px > 20
    assert first.track_id == second.track_id != later.track_id  # 30 s later: a new passage
    assert (first.zone, first.owner_agency, first.box.width > 0) == ("medina", "police", True)
