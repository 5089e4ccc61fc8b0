"""Moroccan and Iraqi plates read end to end (the series letter found and classified); two-line plates.

Through the real engine (PP-OCR and the committed letter classifier) on plates rendered from fonts
the classifier was not trained on (`rendered.PLATE_LETTER_FONTS`); accuracy over a whole rendered
set is measured by `loadtests/bench_plates.py`, not asserted here.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from basira.analytics.plates import PlateRead
from basira.analytics.plates.rapid import RapidPlateEngine, RapidPlateEngineConfig
from basira.analytics.plates.regions import iou
from basira.analytics.plates.rendered import (
    RenderedPlate,
    Scene,
    in_scene,
    iraqi_plate,
    moroccan_plate,
    two_line_plate,
)
from basira.analytics.plates.series import Glyph, bars, ink_box, letter_places
from basira.common.plate_text import normalize_plate

NASKH, DIGITS = "NotoNaskhArabic-Bold.ttf", "LiberationSans-Bold.ttf"


@pytest.fixture(scope="module")
def engine() -> Iterator[RapidPlateEngine]:
    yield RapidPlateEngine(RapidPlateEngineConfig(intra_op_threads=1))


def scene(make: Callable[[], RenderedPlate], height: int = 48, seed: int = 1) -> Scene:
    try:
        plate = make()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))  # the Debian fonts are not installed here
    return in_scene(plate, random.Random(seed), height, car=seed % 2 == 0)


def read_on_plate(engine: RapidPlateEngine, shot: Scene) -> PlateRead:
    reads = [r for r in engine.read(shot.image) if iou(r.box, shot.box) >= 0.3]
    assert reads, "no read over the plate"
    return reads[0]


@pytest.mark.parametrize(("serial", "letter", "region", "font", "display"), [
    ("12345", "ب", "6", NASKH, "12345 | ب | 6"),
    ("4821", "د", "26", "DejaVuSansCondensed.ttf", "4821 | د | 26"),
    ("907", "ط", "1", NASKH, "907 | ط | 1"),
])
def test_a_moroccan_plate_reads_with_its_letter(engine: RapidPlateEngine, serial: str, letter: str,
                                                region: str, font: str, display: str) -> None:
    shot = scene(lambda: moroccan_plate(serial, letter, region, font, DIGITS), seed=2)
    read = read_on_plate(engine, shot)
    assert (read.text, read.display, read.country) == (normalize_plate(display), display, "MA")
    assert 0.5 < read.confidence <= 1.0
    assert read.alternatives and all(a.country == "MA" and a.text != read.text for a in read.alternatives)
    assert all(a.confidence <= read.confidence for a in read.alternatives)  # other letters, less sure


@pytest.mark.parametrize("stacked", [False, True])
def test_an_iraqi_plate_reads_with_its_letter_on_one_line_or_stacked(engine: RapidPlateEngine,
                                                                       stacked: bool) -> None:
    shot = scene(lambda: iraqi_plate("17", "ع", "48213", NASKH, DIGITS, stacked), 96 if stacked else 48)
    read = read_on_plate(engine, shot)
    assert (read.text, read.country) == ("17E48213", "IQ")


@pytest.mark.parametrize(("top", "bottom", "font"),
                         [("ABC", "1234", DIGITS), ("KR", "4471", "DejaVuSansMono-Bold.ttf")])
def test_a_two_line_plate_reads_top_line_then_bottom_line(engine: RapidPlateEngine, top: str, bottom: str,
                                                           font: str) -> None:
    shot = scene(lambda: two_line_plate(top, bottom, font), 96)
    assert read_on_plate(engine, shot).text == top + bottom


def test_bars_are_found_between_the_digits_and_not_in_them() -> None:
    line = np.full((60, 300), 230, np.uint8)
    for x in range(10, 110, 25):
        line[12:48, x : x + 14] = 20  # four digits, 36 px high
    line[8:52, 125:129] = 20  # bar
    line[20:40, 140:160] = 20  # letter
    line[8:52, 172:176] = 20  # bar
    line[12:48, 190:204] = 20  # region digit
    assert bars(line, pad=6) == [(125, 129), (172, 176)]
    assert bars(np.full((60, 300), 230, np.uint8), pad=6) == []


def test_the_letter_box_drops_bars_and_neighbours_and_keeps_an_alif_with_its_hamza() -> None:
    grey = np.full((60, 120), 230, np.uint8)
    grey[8:52, 0:3] = 20  # a neighbour cut by the left edge
    grey[8:52, 20:24] = 20  # bar
    grey[14:48, 58:62] = 20  # alif
    grey[6:11, 56:64] = 20  # its hamza
    grey[8:52, 96:100] = 20  # bar
    x, y, w, h = ink_box(grey, (0, 0, 120, 60)) or (0, 0, 0, 0)
    assert x < 56 and x + w > 64 and x > 24 and x + w < 96
    assert y <= 6 and y + h >= 48


def test_iraqi_letter_place_lies_after_the_governorate_code() -> None:
    grey = np.full((40, 200), 230, np.uint8)
    glyphs = [Glyph(ch, 10 + 20 * i + (20 if i >= 2 else 0), 0, {ch: 0.9}) for i, ch in enumerate("1748213")]
    places = letter_places(grey, [(0, 0, 200, 40)], glyphs, ("IQ",))
    assert len(places) == 1
    place = places[0]
    assert "".join(g.ch for g in place.before) == "17" and "".join(g.ch for g in place.after) == "48213"
    assert place.box[0] >= glyphs[1].x and place.box[0] + place.box[2] <= glyphs[2].x
    assert letter_places(grey, [(0, 0, 200, 40)], glyphs, ("FR",)) == []
