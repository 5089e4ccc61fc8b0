"""Plate candidate geometry: joining a detector's pieces of one plate, ranking, de-duplicating reads."""

from __future__ import annotations

from basira.analytics.plates.regions import (
    Region,
    best_per_plate,
    group_per_plate,
    iou,
    plate_candidates,
    same_line,
    same_plate,
    stacked,
    stacked_candidates,
)


def test_two_lines_of_a_stacked_plate_make_one_candidate_read_top_first() -> None:
    top = Region(100, 200, 60, 30, 0.8)
    bottom = Region(95, 236, 80, 32, 0.9)
    beside = Region(300, 236, 80, 32, 0.9)  # another text, not under the first line
    far_below = Region(100, 320, 60, 30, 0.9)
    assert stacked(top, bottom) and not stacked(bottom, top)
    assert not stacked(top, beside) and not stacked(top, far_below)
    pairs = stacked_candidates([bottom, beside, top, far_below])
    assert [p.lines for p in pairs] == [(top, bottom)]
    assert pairs[0].box == (95, 200, 80, 68) and pairs[0].score == 0.8


def test_pieces_of_one_plate_are_joined_into_a_run() -> None:
    band = Region(100, 200, 14, 20, 0.7)  # the EU band's country code
    number = Region(120, 200, 90, 22, 0.9)
    candidates = plate_candidates([number, band], limit=10)
    boxes = [c.box for c in candidates]
    assert (100, 200, 110, 22) in boxes  # the run covering both pieces
    assert number.box in boxes


def test_boxes_on_other_lines_or_of_other_sizes_stay_apart() -> None:
    plate = Region(100, 200, 90, 22, 0.9)
    below = Region(100, 260, 90, 22, 0.9)
    huge = Region(195, 150, 300, 80, 0.9)
    assert not same_line(plate, below)
    assert not same_line(plate, huge)
    assert all(c.w < 300 for c in plate_candidates([plate, below], limit=10))


def test_far_apart_boxes_on_one_line_are_not_joined() -> None:
    assert same_line(Region(0, 0, 50, 20, 0.9), Region(60, 0, 50, 20, 0.9))
    assert not same_line(Region(0, 0, 50, 20, 0.9), Region(200, 0, 50, 20, 0.9))


def test_candidates_are_plate_shaped_ranked_and_limited() -> None:
    regions = [
        Region(0, 0, 20, 40, 0.9),  # taller than wide: no plate line
        Region(0, 100, 600, 20, 0.9),  # a banner
        Region(0, 200, 100, 3, 0.9),  # too thin to read
        Region(300, 300, 110, 25, 0.95),  # plate-shaped and sure
        Region(300, 400, 110, 25, 0.55),  # plate-shaped, unsure
    ]
    candidates = plate_candidates(regions, limit=1)
    assert [c.box for c in candidates] == [(300, 300, 110, 25)]
    assert len(plate_candidates(regions, limit=10)) == 2


def test_iou_and_same_plate() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0
    assert same_plate((0, 0, 100, 20), (10, 2, 40, 16))  # a piece inside the run
    assert not same_plate((0, 0, 100, 20), (90, 0, 100, 20))


def test_best_per_plate_keeps_the_most_confident_read_of_each_plate() -> None:
    reads = [
        ("RK857A", (10, 10, 80, 20), 0.8),
        ("RK857AI", (5, 8, 100, 24), 0.9),  # the same plate, read whole
        ("KIA", (300, 5, 30, 10), 0.5),
    ]
    kept = best_per_plate(reads, box=lambda r: r[1], confidence=lambda r: r[2])
    assert [r[0] for r in kept] == ["RK857AI", "KIA"]


def test_group_per_plate_puts_overlapping_reads_behind_their_best() -> None:
    reads = [("a", (0, 0, 100, 20), 0.5), ("b", (2, 1, 98, 20), 0.9), ("c", (300, 0, 80, 20), 0.7)]
    groups = group_per_plate(reads, box=lambda r: r[1], confidence=lambda r: r[2])
    assert [[r[0] for r in g] for g in groups] == [["b", "a"], ["c"]]
