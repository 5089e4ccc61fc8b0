"""Shared fixtures for ingest tests: the real sample videos from ../shared/data/video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

VIDEO_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "video"


def _video(name: str) -> Path:
    path = VIDEO_DIR / name
    assert path.is_file(), f"test video {path} is missing (see ../shared/data/README.md)"
    return path


@pytest.fixture(scope="session")
def car_clip() -> Path:
    """30 s, 768×432, 12.5 fps, 377 frames: cars crossing an overhead view of a road."""
    return _video("car-detection.mp4")


@pytest.fixture(scope="session")
def people_gif() -> Path:
    """23 frames, 480×270, people walking towards the camera."""
    return _video("people-detection.gif")


@pytest.fixture(scope="session")
def car_frames(car_clip: Path) -> list[tuple[float, np.ndarray]]:
    """Every 4th frame of the car clip as (media seconds, BGR frame), decoded once per session."""
    capture = cv2.VideoCapture(str(car_clip), cv2.CAP_FFMPEG)
    frames: list[tuple[float, np.ndarray]] = []
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % 4 == 0:
            frames.append((capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, frame))
        index += 1
    capture.release()
    assert len(frames) > 80
    return frames


@pytest.fixture(scope="session")
def sample_jpeg(car_frames: list[tuple[float, np.ndarray]]) -> bytes:
    ok, encoded = cv2.imencode(".jpg", car_frames[0][1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return encoded.tobytes()
