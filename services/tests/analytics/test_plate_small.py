"""The small-plate second look: where to look, and mapping what the mosaic finds back to the frame."""

from __future__ import annotations

import numpy as np

from basira.analytics.plates.regions import Region
from basira.analytics.plates.small import Window, from_mosaic, mosaic, zoom_windows


def test_windows_skip_places_a_found_text_region_covers() -> None:
    boxes = [((100, 100, 60, 12), 0.5), ((800, 600, 50, 10), 0.4)]
    found = [Region(90, 95, 80, 25, 0.9)]
    windows = zoom_windows(boxes, (1080, 1920, 3), found)
    assert len(windows) == 1 and windows[0].x0 < 800 < windows[0].x1 and windows[0].zoom == 2.4


def test_a_region_found_in_the_mosaic_maps_back_into_its_window() -> None:
    image = np.zeros((1080, 1920, 3), np.uint8)
    windows = [Window(100, 200, 300, 260, 2.0), Window(1000, 700, 1100, 740, 3.0)]
    canvas, tiles = mosaic(image, windows, width=640)
    assert canvas.shape[0] % 32 == 0 and canvas.shape[1] % 32 == 0
    second = tiles[1]
    inside = Region(second.x + 30, second.y + 15, 60, 30, 0.8)  # 10..30 × 5..15 of the window, zoom 3
    assert from_mosaic([inside], tiles) == [Region(1010, 705, 20, 10, 0.8)]
    assert from_mosaic([Region(canvas.shape[1] - 5, canvas.shape[0] - 5, 2, 2, 0.8)], tiles) == []
