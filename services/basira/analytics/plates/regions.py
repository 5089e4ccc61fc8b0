"""Pure geometry of plate candidates: from a text detector's boxes to the regions worth reading.

A text detector splits a plate into pieces (the EU band's country code, the district, the number,
parts separated by a seal) or misses a thin character at its end. Candidates are therefore the single
boxes plus every run of neighbouring boxes on one line, filtered by shape and ranked by how much they
look like a one-line plate; reads of overlapping candidates are later reduced to the best one.
Two-line (stacked) plates give one box a line: a line above another of like size, overlapping it
sideways, also makes a candidate whose `lines` are read top line first (`stacked_candidates`).
Boxes are (x, y, width, height) in image pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

Box = tuple[int, int, int, int]

MIN_ASPECT = 1.3
"""Narrowest candidate (width / height) worth reading: a plate line is wider than tall."""

MAX_ASPECT = 12.0
"""Widest candidate worth reading: beyond this it is a sign, a banner or a whole text line."""


@dataclass(frozen=True, slots=True)
class Region:
    """A text box in image pixels with the detector's mean probability inside it (0..1).

    lines: for a stacked candidate, its lines top to bottom (each read on its own); () for one line.
    """

    x: int
    y: int
    w: int
    h: int
    score: float
    lines: tuple[Region, ...] = ()

    @property
    def box(self) -> Box:
        return (self.x, self.y, self.w, self.h)


def same_line(a: Region, b: Region) -> bool:
    """True if `b` (to the right of `a`) continues the same line of similar-sized text."""
    overlap = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if overlap < 0.6 * min(a.h, b.h) or max(a.h, b.h) > 1.6 * min(a.h, b.h):
        return False
    return b.x - (a.x + a.w) < 1.2 * max(a.h, b.h)


def union(a: Region, b: Region) -> Region:
    """The smallest region holding both; its score is the weaker of the two."""
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.w, b.x + b.w), max(a.y + a.h, b.y + b.h)
    return Region(x0, y0, x1 - x0, y1 - y0, min(a.score, b.score))


def plate_likeness(region: Region) -> float:
    """Ranking key: one-line-plate shape (width 2-6.5 × height), detector certainty, size."""
    aspect = region.w / region.h
    shape = 1.0 if 2.0 <= aspect <= 6.5 else 0.6
    return shape * region.score * math.log1p(region.w * region.h)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when either is empty)."""
    inter = _intersection(a, b)
    total = a[2] * a[3] + b[2] * b[3] - inter
    return inter / total if total > 0 else 0.0


def same_plate(a: Box, b: Box) -> bool:
    """Boxes that overlap well, or one mostly inside the other (a run and one of its pieces)."""
    smaller = min(a[2] * a[3], b[2] * b[3])
    return iou(a, b) > 0.3 or (smaller > 0 and _intersection(a, b) / smaller > 0.6)


def _intersection(a: Box, b: Box) -> int:
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih


def plate_candidates(regions: Sequence[Region], limit: int, min_height: int = 6) -> list[Region]:
    """Up to `limit` regions to read, most plate-like first: boxes and runs of boxes along a line.

    Regions lower than `min_height` pixels are ignored; near-duplicates (IoU ≥ 0.9) are read once.
    """
    tall_enough = sorted((r for r in regions if r.h >= min_height), key=lambda r: r.x)
    runs: list[Region] = []
    for i, first in enumerate(tall_enough):
        run = first
        for other in tall_enough[i + 1 :]:
            if same_line(run, other):
                run = union(run, other)
                runs.append(run)
    shaped = [c for c in (*tall_enough, *runs) if MIN_ASPECT <= c.w / c.h <= MAX_ASPECT]
    shaped.sort(key=plate_likeness, reverse=True)
    chosen: list[Region] = []
    for candidate in shaped:
        if len(chosen) == limit:
            break
        if all(iou(candidate.box, kept.box) < 0.9 for kept in chosen):
            chosen.append(candidate)
    return chosen


MAX_STACKED = 2
"""Most two-line candidates read per image (each costs two recogniser runs)."""


def stacked(top: Region, bottom: Region) -> bool:
    """True if `bottom` is the next line of a two-line plate whose first line is `top`.

    Lines of like height (ratio ≤ 1.8) and width (≤ 2.5), sharing ≥ 60 % of the narrower one's
    width, with at most 0.8 × the lower height between them (or an overlap of up to half of it,
    the boxes being grown by the detector's unclipping).
    """
    if bottom.y <= top.y:
        return False
    low_h, low_w = min(top.h, bottom.h), min(top.w, bottom.w)
    shared = min(top.x + top.w, bottom.x + bottom.w) - max(top.x, bottom.x)
    gap = bottom.y - (top.y + top.h)
    return (max(top.h, bottom.h) <= 1.8 * low_h and max(top.w, bottom.w) <= 2.5 * low_w
            and shared >= 0.6 * low_w and -0.5 * low_h <= gap <= 0.8 * low_h)


def stacked_candidates(lines: Sequence[Region], limit: int = MAX_STACKED) -> list[Region]:
    """Up to `limit` two-line candidates from one-line candidates `lines`, most certain first.

    Each is the union of its two lines, with `lines` = (top, bottom); its score is the weaker line's.
    """
    pairs = [Region(*union(top, bottom).box, min(top.score, bottom.score), (top, bottom))
             for top in lines for bottom in lines if top is not bottom and stacked(top, bottom)]
    pairs.sort(key=lambda r: r.score * math.log1p(r.w * r.h), reverse=True)
    chosen: list[Region] = []
    for pair in pairs:
        if len(chosen) < limit and all(iou(pair.box, kept.box) < 0.5 for kept in chosen):
            chosen.append(pair)
    return chosen


T = TypeVar("T")


def best_per_plate(items: Sequence[T], box: Callable[[T], Box], confidence: Callable[[T], float]) -> list[T]:
    """Most confident first, dropping any item whose box is the same plate as a kept one's."""
    return [group[0] for group in group_per_plate(items, box, confidence)]


def group_per_plate(items: Sequence[T], box: Callable[[T], Box],
                    confidence: Callable[[T], float]) -> list[list[T]]:
    """Items grouped by plate, each group led by its most confident item, groups most confident first.

    An item joins the first group whose leader's box is the same plate as its own (see same_plate).
    """
    groups: list[list[T]] = []
    for item in sorted(items, key=confidence, reverse=True):
        for group in groups:
            if same_plate(box(item), box(group[0])):
                group.append(item)
                break
        else:
            groups.append([item])
    return groups
