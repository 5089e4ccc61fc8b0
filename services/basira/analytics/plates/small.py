"""Where to look again for plates too small for the detector's downscaled view of a large frame.

The text detector sees a 1080p frame at 640 px: a plate 12-24 px high there is 4-8 px, below what it
finds, and running it on the whole frame at full resolution costs ten times as much. Plates are,
however, cheap to guess at full resolution with classical image processing: a row of dark strokes on
a light band (or the reverse) is a compact rectangle dense in vertical edges. `plate_like_boxes`
finds such rectangles (one Sobel, a threshold, two morphology passes: ~10 ms for 1080p on one core);
`zoom_windows` turns the best few into small windows around them, each enlarged so its text row is
about ZOOM_TARGET_HEIGHT px high, and `mosaic` packs them on one canvas for ONE more detector run.
The cost is bounded by the number of windows, whatever the frame size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from basira.analytics.plates.regions import Box, Region, same_plate

MIN_HEIGHT = 8
"""Lowest rectangle (full-resolution px) worth a second look; below it no recogniser reads a plate."""

MAX_HEIGHT = 48
"""Highest rectangle worth a second look: taller plates the first, downscaled pass already finds."""

ZOOM_TARGET_HEIGHT = 24
"""Text-row height (px) a window is enlarged to for the detector: 32 found no more plates on the
small-plate bench set than 24 and cost more."""

MAX_ZOOM = 3.0

STROKE_LEVELS = (1.0, 2.0)
"""Edge strengths, in multiples of the frame's 95th-percentile edge, at which strokes are marked."""


@dataclass(frozen=True, slots=True)
class Window:
    """A part of the frame, x0..x1 × y0..y1 in full-resolution px, to detect in enlarged by `zoom`."""

    x0: int
    y0: int
    x1: int
    y1: int
    zoom: float


def plate_like_boxes(gray: np.ndarray, limit: int, levels: tuple[float, ...] = STROKE_LEVELS,
                     ) -> list[tuple[Box, float]]:
    """Up to `limit` plate-shaped rectangles dense in vertical edges, with their contrast, best first.

    Contrast is the mean vertical-edge strength (0..1): black print on a white plate beats most clutter.

    Strokes are thresholded at several edge strengths (STROKE_LEVELS): at the frame's usual level a
    small plate's strokes often join the grille, lamps or bumper edges around it into one blob too big
    to be a plate, while the plate's own black-on-white strokes are among the strongest edges of the
    frame and stand alone at a higher level.
    """
    height = gray.shape[0]
    edges = cv2.convertScaleAbs(cv2.Sobel(gray, cv2.CV_16S, 1, 0, ksize=3))
    step = max(1, height // 270)
    base = max(40.0, float(np.percentile(edges[::step, ::step], 95)))
    strokes = (edges > base).astype(np.uint8)
    close = cv2.getStructuringElement(cv2.MORPH_RECT, (7, 3))
    opening = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 3))
    found: list[tuple[Box, float]] = []
    for level in levels:
        marked = strokes if level == 1 else (edges > min(250.0, base * level)).astype(np.uint8)
        joined = cv2.morphologyEx(cv2.morphologyEx(marked, cv2.MORPH_CLOSE, close), cv2.MORPH_OPEN, opening)
        contours, _ = cv2.findContours(joined, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if not MIN_HEIGHT <= h <= MAX_HEIGHT or not 2.5 <= w / h <= 10.0:
                continue
            if cv2.countNonZero(joined[y : y + h, x : x + w]) < 0.45 * w * h:
                continue
            if float(strokes[y : y + h, x : x + w].mean()) < 0.15:  # at the base level, comparable
                continue
            if not any(same_plate((x, y, w, h), box) for box, _ in found):  # a fragment of a box found
                found.append(((x, y, w, h), float(edges[y : y + h, x : x + w].mean()) / 255))
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


GAP = 16
"""Blank pixels between windows in a mosaic: more than the detector's reach across a gap."""


@dataclass(frozen=True, slots=True)
class Tile:
    """Where a window, enlarged, sits in the mosaic (x, y, width, height in mosaic px)."""

    window: Window
    x: int
    y: int
    w: int
    h: int


def mosaic(image: np.ndarray, windows: list[Window], width: int = 640) -> tuple[np.ndarray, list[Tile]]:
    """Every window enlarged by its zoom and packed in rows on one grey canvas, for ONE detector run.

    A detector run has a fixed cost besides its pixels; eight small runs cost about twice one run
    over the same pixels.
    """
    tiles: list[Tile] = []
    patches: list[np.ndarray] = []
    x = y = row_h = 0
    for window in windows:
        crop = image[window.y0 : window.y1, window.x0 : window.x1]
        patch = cv2.resize(crop, None, fx=window.zoom, fy=window.zoom, interpolation=cv2.INTER_LINEAR)
        h, w = patch.shape[:2]
        if x and x + w > width:
            x, y, row_h = 0, y + row_h + GAP, 0
        tiles.append(Tile(window, x, y, w, h))
        patches.append(patch)
        x, row_h = x + w + GAP, max(row_h, h)
    canvas_w = max(32, -(-max((t.x + t.w for t in tiles), default=1) // 32) * 32)
    canvas_h = max(32, -(-max((t.y + t.h for t in tiles), default=1) // 32) * 32)
    canvas = np.full((canvas_h, canvas_w, 3), 128, np.uint8)
    for tile, patch in zip(tiles, patches, strict=True):
        canvas[tile.y : tile.y + tile.h, tile.x : tile.x + tile.w] = patch
    return canvas, tiles


def from_mosaic(regions: list[Region], tiles: list[Tile]) -> list[Region]:
    """Regions found in the mosaic, clipped to their tile and mapped back to full-frame pixels."""
    out: list[Region] = []
    for r in regions:
        cx, cy = r.x + r.w / 2, r.y + r.h / 2
        for t in tiles:
            if t.x <= cx < t.x + t.w and t.y <= cy < t.y + t.h:
                x0, y0 = max(r.x, t.x), max(r.y, t.y)
                x1, y1 = min(r.x + r.w, t.x + t.w), min(r.y + r.h, t.y + t.h)
                z = t.window.zoom
                out.append(Region(t.window.x0 + int((x0 - t.x) / z), t.window.y0 + int((y0 - t.y) / z),
                                  max(1, round((x1 - x0) / z)), max(1, round((y1 - y0) / z)), r.score))
                break
    return out
