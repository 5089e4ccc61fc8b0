"""Evidence masking: find faces (OpenCV Haar frontal-face cascade) and pixelate faces and plate boxes.

Pure functions over JPEG bytes and rectangles; CPU-bound, so callers run them in a worker thread.
Pixelation (not blur) is used because a blur of large plate characters can stay legible; blocks a
third of the box height wide leave no character shape.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from basira.common.errors import FailedPrecondition, InvalidInput
from basira.search.domain import Rect

FACE_CASCADE = "haarcascade_frontalface_default.xml"
DETECT_MAX_SIDE_PX = 1280
"""Faces are looked for on a copy no larger than this (speed); boxes are scaled back."""

_per_thread = threading.local()


def _face_cascade() -> cv2.CascadeClassifier:
    """OpenCV's bundled frontal-face cascade, one per thread: `detectMultiScale` on a classifier shared
    between threads crashes the process (seen: a segfault in the search service under concurrent
    evidence requests). Raises FailedPrecondition if the cascade is absent."""
    classifier: cv2.CascadeClassifier | None = getattr(_per_thread, "cascade", None)
    if classifier is None:
        path = Path(cv2.data.haarcascades) / FACE_CASCADE  # type: ignore[attr-defined]
        classifier = cv2.CascadeClassifier(str(path))
        if classifier.empty():
            raise FailedPrecondition(f"OpenCV's face cascade is missing at {path}: install "
                                     "opencv-python < 5 (it ships the Haar data)")
        _per_thread.cascade = classifier
    return classifier


def decode_jpeg(data: bytes) -> np.ndarray:
    """BGR image from JPEG/PNG bytes; raises InvalidInput if they are not an image."""
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InvalidInput("the stored snapshot is not a decodable image")
    return image


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise InvalidInput("could not encode the evidence image as JPEG")
    return bytes(buffer)


def detect_faces(image: np.ndarray, *, min_size_px: int = 24) -> list[Rect]:
    """Frontal faces in a BGR image, in its pixel coordinates."""
    height, width = image.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE_PX / max(height, width))
    small = image if scale == 1.0 else cv2.resize(image, (round(width * scale), round(height * scale)),
                                                  interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
    minimum = max(8, round(min_size_px * scale))
    found = _face_cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                             minSize=(minimum, minimum))
    return [Rect(round(x / scale), round(y / scale), round(w / scale), round(h / scale))
            for (x, y, w, h) in (found if len(found) else [])]


def _grow(rect: Rect, fraction: float, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Rectangle enlarged by `fraction` of its size on each side, clipped: (x0, y0, x1, y1)."""
    dx, dy = round(rect.width * fraction), round(rect.height * fraction)
    x0, y0 = max(0, rect.x - dx), max(0, rect.y - dy)
    x1, y1 = min(width, rect.x + rect.width + dx), min(height, rect.y + rect.height + dy)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def pixelate(image: np.ndarray, rects: Sequence[Rect], *, margin: float = 0.1,
             rows: int = 3) -> int:
    """Pixelate each rectangle in place into blocks `height / rows` tall; returns how many it masked."""
    height, width = image.shape[:2]
    masked = 0
    for rect in rects:
        box = _grow(rect, margin, width, height)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        region = image[y0:y1, x0:x1]
        block = max(4, (y1 - y0) // rows)
        cols, lines = max(1, (x1 - x0) // block), max(1, (y1 - y0) // block)
        coarse = cv2.resize(region, (cols, lines), interpolation=cv2.INTER_AREA)
        image[y0:y1, x0:x1] = cv2.resize(coarse, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
        masked += 1
    return masked


@dataclass(frozen=True)
class MaskedEvidence:
    jpeg: bytes
    faces_found: int
    faces_masked: bool
    plates_masked: bool


def render_evidence(jpeg: bytes, plate_boxes: Sequence[Rect], faces: Sequence[Rect], *,
                    mask_faces: bool, mask_plates: bool, quality: int = 90) -> MaskedEvidence:
    """The evidence image with the requested masks applied (re-encoded only if something changed)."""
    if not (mask_faces and faces) and not (mask_plates and plate_boxes):
        return MaskedEvidence(jpeg, len(faces), mask_faces, mask_plates)
    image = decode_jpeg(jpeg)
    if mask_faces:
        pixelate(image, faces, margin=0.15, rows=6)
    if mask_plates:
        pixelate(image, plate_boxes, margin=0.1, rows=3)
    return MaskedEvidence(encode_jpeg(image, quality), len(faces), mask_faces, mask_plates)


def find_faces_in_jpeg(jpeg: bytes, *, min_size_px: int = 24) -> list[Rect]:
    return detect_faces(decode_jpeg(jpeg), min_size_px=min_size_px)
