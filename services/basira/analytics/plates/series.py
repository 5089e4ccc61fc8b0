"""The Arabic series letter of Moroccan and Iraqi plates: where it sits in a read, and the reads it makes.

The Latin recogniser reads such a plate's digits but not its letter: it skips the letter, or reads it
as a look-alike (ط as 6, ل as L, ع as 8), and reads a Moroccan plate's bars as 1. So the letter is
looked for where the layout puts it, relative to what the recogniser did read:
- Morocco (serial | letter | region): between two vertical bars, strokes taller than the digits;
  the serial is what was read left of the first bar, the region what was read right of the second;
- Iraq (governorate code, letter, five digits): after the first two characters read, in the gap
  the recogniser left there or in place of its third character, on one line or at the end of a
  stacked plate's first line.
Each place found is cut from the image, trimmed to its ink and scored by ArabicLetterClassifier;
its best letters of the layout's series (probabilities renormalised over that series), put in the
read with the recogniser's digits and fitted to the layout, become reads whose confidence is the mean
of the characters' probabilities (the letter's included) times the fit (plus BARS_BONUS where bars
were seen, minus the cost of characters a guessed place leaves out).
The caller ranks them against the recogniser's own read, so a plate of another layout keeps its read.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from basira.analytics.plates.formats import DELETE_PENALTY, FormatFit, repair
from basira.analytics.plates.letters import ArabicLetterClassifier, glyph_input
from basira.analytics.plates.regions import Box
from basira.common.plate_text import MOROCCAN_LETTERS, SERIES_LETTERS

SERIES_COUNTRIES = ("MA", "IQ")
"""Layouts with an Arabic series letter."""

BAR_HEIGHT = 0.85
"""A Moroccan bar is at least this fraction of the median digit height tall (most are taller)…"""

BAR_WIDTH = 0.18
"""…and at most this fraction of it wide: thinner than any digit, a 1 included (its flag or foot)."""

BARS_BONUS = 0.1
"""Score added to a Moroccan fit whose bars were seen: no other layout has bars between its groups, so
they are evidence the Latin recogniser's look-alike reads (a Czech 5Z18620 for 5 | ز | 18620) lack."""

LETTER_CHOICES = 3
"""Best letters of each place turned into reads (the best, and alternatives a hotlist may match)."""

IRAQ_LEFT = 2
"""Characters read before an Iraqi plate's letter (the governorate code)."""


@dataclass(frozen=True, slots=True)
class Glyph:
    """One character the recogniser read: itself, its x-centre (image px), its line, its probabilities."""

    ch: str
    x: float
    line: int
    probabilities: dict[str, float]


@dataclass(frozen=True, slots=True)
class LetterPlace:
    """Where a series letter may be: the image box to classify, the glyphs read before and after it.

    adjustment: added to the layout fit's score: BARS_BONUS where the bars were seen, minus the cost
    of characters read there that a guess leaves out.
    """

    country: str
    box: Box
    before: tuple[Glyph, ...]
    after: tuple[Glyph, ...]
    adjustment: float = 0.0


@dataclass(frozen=True, slots=True)
class SeriesRead:
    """A reading with a classified letter: the layout fit and the read's confidence (0..1)."""

    fit: FormatFit
    confidence: float


def _ink(grey: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Ink mask (uint8 0/1) of a grey crop, thresholded by Otsu on `reference` (default: the crop).

    The minority side of the reference is ink, so dark text on a light plate and light on dark both work.
    """
    sample = grey if reference is None else reference
    threshold, mask = cv2.threshold(sample, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    dark_ink = mask.mean() <= 0.5
    return (grey <= threshold).astype(np.uint8) if dark_ink else (grey > threshold).astype(np.uint8)


def bars(grey_line: np.ndarray, pad: int) -> list[tuple[int, int]]:
    """x ranges (crop px, left to right) of vertical bars in a grey crop of one plate line.

    `pad`: rows above and below the detector's text box in the crop. Bars are thin strokes nearly as
    tall as the median of the wider tall components (the digits), or cut by both crop edges; an alif
    between them passes for one too, which the caller allows for;
    the plate's frame is taken out first (long horizontal ink runs), lest it join them all in one.
    """
    ink = _ink(grey_line, grey_line[pad : grey_line.shape[0] - pad])
    frame = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, max(8, ink.shape[1] // 4)), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink & (1 - frame), connectivity=8)
    height = grey_line.shape[0]
    tall = [stats[i] for i in range(1, count) if stats[i][3] >= 0.3 * height]
    wide = [int(s[3]) for s in tall if s[2] > 2 * BAR_WIDTH * s[3]]
    if len(wide) < 2:
        return []
    digit_h = statistics.median(wide)
    found = [(int(s[0]), int(s[0] + s[2])) for s in tall if s[2] <= BAR_WIDTH * digit_h
             and (s[3] >= BAR_HEIGHT * digit_h or (s[1] == 0 and s[1] + s[3] == height))]
    return sorted(found)


def _pitch(glyphs: Sequence[Glyph]) -> float | None:
    steps = [b.x - a.x for a, b in pairwise(glyphs) if a.line == b.line and b.x > a.x]
    return statistics.median(steps) if steps else None


def letter_places(grey: np.ndarray, lines: Sequence[Box], glyphs: Sequence[Glyph],
                  countries: Sequence[str]) -> list[LetterPlace]:
    """Where the series letter of a Moroccan ('MA') or Iraqi ('IQ') plate may be (see module docstring).

    `grey`: the whole image; `lines`: the read's lines, top first; `glyphs`: what was read, in order.
    """
    places: list[LetterPlace] = []
    pitch = _pitch(glyphs)
    if pitch is None:
        return places
    if "MA" in countries and len(lines) == 1:
        x, y, w, h = lines[0]
        pad = min(y, grey.shape[0] - y - h, max(1, h // 6))  # bars stand out of the digits' box
        y0, y1 = y - pad, y + h + pad
        found = bars(grey[y0:y1, x : x + w], pad)
        pairs = [(left_end, right_start) for i, (_, left_end) in enumerate(found)
                 for right_start, _ in found[i + 1 :]]  # any two: an alif between them is a stroke too
        for left_end, right_start in pairs:
            if not 0.3 * h <= right_start - left_end <= 3 * h:
                continue
            before = tuple(g for g in glyphs if g.x < x + left_end - 0.1 * pitch)
            after = tuple(g for g in glyphs if g.x > x + right_start + 0.1 * pitch)
            places.append(LetterPlace("MA", (x + left_end + 1, y0, right_start - left_end - 1, y1 - y0),
                                      before, after, BARS_BONUS))
        if not places:  # bars blurred into their neighbours: the region number's place tells
            places += _places_before_region(glyphs, lines[0], pitch)
    if "IQ" in countries and len(glyphs) in (IRAQ_LEFT + 5, IRAQ_LEFT + 6):
        last_code, first_number = glyphs[IRAQ_LEFT - 1], glyphs[-5]
        lx, ly, lw, lh = lines[last_code.line]
        start = last_code.x + 0.5 * pitch
        end = first_number.x - 0.5 * pitch if first_number.line == last_code.line else lx + lw
        if end - start >= 0.4 * pitch:  # the letter skipped, or read as a Latin look-alike
            places.append(LetterPlace("IQ", (int(start), ly, int(end - start), lh),
                                      tuple(glyphs[:IRAQ_LEFT]), tuple(glyphs[-5:])))
    return places


def _places_before_region(glyphs: Sequence[Glyph], line: Box, pitch: float) -> list[LetterPlace]:
    """Moroccan letter places when no bar was found: before the last one or two characters read.

    Between the serial (1-5 characters) and the region (1-2) the recogniser read nothing, the letter
    as a look-alike, or the letter and the bars as 1s: 0-3 characters, left out of the read at the
    cost layout repair puts on dropping a character (so a sure digit is not taken for the letter).
    """
    _, y, _, h = line
    places = []
    for region in (1, 2):
        after = len(glyphs) - region
        for skipped in range(0, 4):
            before = after - skipped
            if not 1 <= before <= 5:
                continue
            start, end = glyphs[before - 1].x + 0.5 * pitch, glyphs[after].x - 0.5 * pitch
            if end - start >= 0.5 * pitch:
                left_out = sum(g.probabilities.get(g.ch, 0.0) ** 2 for g in glyphs[before:after])
                places.append(LetterPlace("MA", (int(start), y, int(end - start), h), tuple(glyphs[:before]),
                                          tuple(glyphs[after:]), -DELETE_PENALTY * left_out))
    return places


def _overlap_x(a: np.ndarray, b: np.ndarray) -> bool:
    return min(int(a[0] + a[2]), int(b[0] + b[2])) > max(int(a[0]), int(b[0]))


def ink_box(grey: np.ndarray, box: Box) -> Box | None:
    """`box` trimmed to the letter inside it, with a margin of a sixth of its size; None if it holds none.

    The letter is the ink components clear of the box's left and right edges (what touches them is a
    bar's or a neighbouring digit's edge) and not specks: a letter's dots and strokes.
    """
    x, y, w, h = box
    x, y = max(0, x), max(0, y)
    crop = grey[y : y + h, x : x + w]
    if crop.size == 0 or min(crop.shape) < 3 or float(crop.std()) < 4.0:
        return None
    _, _, stats, _ = cv2.connectedComponentsWithStats(_ink(crop), connectivity=8)
    width = crop.shape[1]
    specks = max(2, crop.size // 400)
    kept = [s for s in stats[1:] if s[0] > 0 and s[0] + s[2] < width and s[4] >= specks]
    strokes = [s for s in kept if s[3] >= 0.6 * crop.shape[0] and s[2] <= BAR_WIDTH * s[3]]
    others = [s for s in kept if not any(s is t for t in strokes)]
    if len(strokes) >= 3:  # bar, alif, bar
        kept = sorted(strokes, key=lambda s: int(s[0]))[1:-1] + others
    elif others and strokes:  # bars beside the letter; an alif keeps its hamza above or below it
        kept = others + [s for s in strokes if any(_overlap_x(s, o) for o in others)]
    if not kept:
        return None
    x0, y0 = min(int(s[0]) for s in kept), min(int(s[1]) for s in kept)
    x1, y1 = max(int(s[0] + s[2]) for s in kept), max(int(s[1] + s[3]) for s in kept)
    if y1 - y0 < 0.25 * crop.shape[0]:  # a speck or a fragment, not a letter
        return None
    pad = max(1, max(x1 - x0, y1 - y0) // 6)
    x0, y0 = max(0, x0 - pad), max(0, y0 - pad)
    return (x + x0, y + y0, min(width, x1 + pad) - x0, min(crop.shape[0], y1 + pad) - y0)


def _allowed(country: str, letter: str) -> str | None:
    """The key letter of an Arabic `letter` on a plate of `country`, or None if that series lacks it."""
    if country == "MA":
        return MOROCCAN_LETTERS.get(letter)
    return SERIES_LETTERS.get(letter)


def series_reads(grey: np.ndarray, lines: Sequence[Box], glyphs: Sequence[Glyph], countries: Sequence[str],
                 classifier: ArabicLetterClassifier) -> list[SeriesRead]:
    """Reads of the plate with its series letter classified, most confident first ([] if none fits)."""
    places = [(place, box) for place in letter_places(grey, lines, glyphs, countries)
              if (box := ink_box(grey, place.box)) is not None]
    if not places:
        return []
    crops = [grey[y : y + h, x : x + w] for _, (x, y, w, h) in places]
    scores = classifier.scores(np.vstack([glyph_input(crop) for crop in crops]))
    out: list[SeriesRead] = []
    for (place, _), probabilities in zip(places, scores, strict=True):
        letters = [(latin, float(probabilities[i])) for i in np.argsort(-probabilities)
                   if (latin := _allowed(place.country, classifier.letters[i])) is not None]
        in_series = max(sum(p for _, p in letters), 1e-6)  # the layout says which letters can be there
        for latin, share in letters[:LETTER_CHOICES]:
            probability = share / in_series
            chars = [*place.before, Glyph(latin, 0.0, 0, {latin: probability}), *place.after]
            raw = "".join(g.ch for g in chars)
            per_char = [g.probabilities for g in chars]
            fits = [f for f in repair(raw, (place.country,), per_char) if f.country == place.country]
            if fits:
                score = max(0.0, min(1.0, fits[0].score + place.adjustment))
                confidence = float(np.mean([g.probabilities.get(g.ch, 0.0) for g in chars])) * score
                out.append(SeriesRead(fits[0], round(confidence, 4)))
    out.sort(key=lambda r: r.confidence, reverse=True)
    return out
