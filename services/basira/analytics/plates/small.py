"""Where to look again for plates too small for the detector's downscaled view of a large frame.

The text detector sees a 1080p frame at 640 px: a plate 12-24 px high there is 4-8 px, below what it
finds, and running it on the whole frame at full resolution costs ten times as much. Plates are,
however, cheap to guess at full resolution with classical image processing: a row of dark strokes on
a light band (or the reverse) is a compact rectangle dense in vertical edges. `plate_like_boxes`
finds such rectangles (one Sobel, a threshold, two morphology passes: ~10 ms for 1080p on one core);
`zoom_windows` turns the best few into small windows around them, each enlarged so its plate would be
about ZOOM_TARGET_HEIGHT px high, for the detector to run on again. The cost is bounded by the number
of windows, whatever the frame size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from basira.analytics.plates.regions import Box, Region

MIN_HEIGHT = 8
"""Lowest rectangle (full-resolution px) worth a second look; below it no recogniser reads a plate."""

MAX_HEIGHT = 48
"""Highest rectangle worth a second look: taller plates the first, downscaled pass already finds."""

ZOOM_TARGET_HEIGHT = 32
"""Plate height (px) the window is enlarged to for the detector, which finds text of this size well."""

MAX_ZOOM = 3.0


@dataclass(frozen=True, slots=True)
class Window:
    """A part of the frame, x0..x1 × y0..y1 in full-resolution px, to detect in enlarged by `zoom`."""

    x0: int
    y0: int
    x1: int
    y1: int
    zoom: float


def plate_like_boxes(gray: np.ndarray, limit: int) -> list[tuple[Box, float]]:
    """Up to `limit` plate-shaped rectangles dense in vertical edges, with their density, densest first."""
    height = gray.shape[0]
    edges = cv2.convertScaleAbs(cv2.Sobel(gray, cv2.CV_16S, 1, 0, ksize=3))
    threshold = max(40.0, float(np.percentile(edges[:: max(1, height // 270)], 95)))
    strokes = (edges > threshold).astype(np.uint8)
    joined = cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (7, 3)))
    joined = cv2.morphologyEx(joined, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 3)))
    count, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    found: list[tuple[Box, float]] = []
    for x, y, w, h, area in stats[1:count].tolist():
        if not MIN_HEIGHT <= h <= MAX_HEIGHT or not 2.5 <= w / h <= 10.0 or area < 0.45 * w * h:
            continue
        density = float(strokes[y : y + h, x : x + w].mean())
        if density >= 0.15:
            found.append(((x, y, w, h), density))
    found.sort(key=lambda item: item[1], reverse=True)
    return found[:limit]


def zoom_windows(boxes: list[tuple[Box, float]], shape: tuple[int, ...], known: list[Region],
                 ) -> list[Window]:
    """A window around each box that no text region found already covers (those need no second look)."""
    height, width = shape[:2]
    windows: list[Window] = []
    for (x, y, w, h), _ in boxes:
        cx, cy = x + w / 2, y + h / 2
        if any(r.x <= cx <= r.x + r.w and r.y <= cy <= r.y + r.h for r in known):
            continue
        zoom = min(MAX_ZOOM, max(1.0, ZOOM_TARGET_HEIGHT / h))
        x0, y0 = max(0, int(x - 0.3 * w)), max(0, int(y - h))
        x1, y1 = min(width, int(x + 1.3 * w)), min(height, int(y + 2 * h))
        if any(wi.x0 <= cx <= wi.x1 and wi.y0 <= cy <= wi.y1 for wi in windows):
            continue
        windows.append(Window(x0, y0, x1, y1, zoom))
    return windows
