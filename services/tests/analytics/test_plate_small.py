"""The small-plate second look: where to look, mapping what the mosaic finds back to the frame, and
reading with it a real plate scaled into a 1080p frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from basira.analytics.plates.rapid import RapidPlateEngine, RapidPlateEngineConfig
from basira.analytics.plates.regions import Box, Region, iou
from basira.analytics.plates.small import Window, from_mosaic, mosaic, plate_like_boxes, zoom_windows


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


BR_PLATES = Path(__file__).resolve().parents[3] / "../shared/data/plates/br"


def br_plate_in_a_1080p_frame(name: str, background: str, plate_height: int) -> tuple[np.ndarray, Box]:
    """Photo `name`'s plate with its car around it (1.5 widths, 2.5 heights), scaled to `plate_height`
    px high and pasted on photo `background` stretched to 1920×1080."""
    label = BR_PLATES / f"{name}.txt"
    if not label.is_file():
        pytest.skip(f"shared plate photos not found at {BR_PLATES}")
    x, y, w, h = (int(v) for v in label.read_text(encoding="utf-8").split("\t")[1:5])
    photo = cv2.imread(str(BR_PLATES / f"{name}.jpg"), cv2.IMREAD_COLOR)
    frame = cv2.resize(cv2.imread(str(BR_PLATES / f"{background}.jpg"), cv2.IMREAD_COLOR), (1920, 1080))
    x0, y0 = max(0, int(x - 1.5 * w)), max(0, int(y - 2.5 * h))
    scale = plate_height / h
    patch = cv2.resize(photo[y0 : int(y + h + 2.5 * h), x0 : int(x + w + 1.5 * w)], None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA)
    px, py = 500, 650
    frame[py : py + patch.shape[0], px : px + patch.shape[1]] = patch
    return frame, (px + round((x - x0) * scale), py + round((y - y0) * scale), round(w * scale), plate_height)


def test_a_small_plate_merged_with_its_car_at_the_usual_edge_level_is_found_at_a_stronger_one() -> None:
    frame, truth = br_plate_in_a_1080p_frame("ODJ1599", "AYO9034", 20)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    cx, cy = truth[0] + truth[2] / 2, truth[1] + truth[3] / 2

    def over_plate(boxes: list[tuple[Box, float]]) -> bool:
        return any(x <= cx <= x + w and y <= cy <= y + h for (x, y, w, h), _ in boxes)

    assert not over_plate(plate_like_boxes(gray, 36, levels=(1.0,))), "expected it to merge at one level"
    assert over_plate(plate_like_boxes(gray, 12))


def test_the_engine_reads_a_small_plate_that_merges_with_its_car() -> None:
    frame, truth = br_plate_in_a_1080p_frame("ODJ1599", "AYO9034", 20)
    reads = RapidPlateEngine(RapidPlateEngineConfig(intra_op_threads=1)).read(frame)
    over = [r for r in reads if iou(r.box, truth) >= 0.3]
    assert over and over[0].text == "ODJ1599"
