"""Hotlist matching: which active entries a plate read hits, and how far it is from each (pure).

Entries match on the exact canonical key, or — when the entry says `confusable_tolerant` — on keys
that differ only by OCR look-alikes (O/0, I/1, B/8 …) within `max_distance` (each look-alike costs
`plate_text.DEFAULT_CONFUSABLE_COST`). Expired or removed entries never match, even between refreshes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from basira.common.plate_text import PlateTextError, confusable_skeleton, normalize_plate, plate_distance
from basira.watchlists.hotlist import HotlistEntry

DEFAULT_MAX_DISTANCE = 0.6
"""Two look-alike substitutions (0.3 each); a wrong, missing or extra character (1.0) never matches."""


@dataclass(frozen=True, slots=True)
class HotlistMatch:
    """One entry a read hits; `distance` is 0 for the same key, else the look-alike edit distance."""

    entry: HotlistEntry
    distance: float


class HotlistIndex:
    """An immutable index of hotlist entries for fast matching of plate reads.

    Exact keys are a dict lookup. Tolerant entries are indexed by their look-alike skeleton when
    `max_distance` < 1 (only look-alike substitutions can fit, so the skeletons must be equal);
    otherwise they are scanned with a length pre-filter.
    """

    def __init__(self, entries: Iterable[HotlistEntry], *,
                 max_distance: float = DEFAULT_MAX_DISTANCE) -> None:
        if max_distance < 0:
            raise ValueError(f"max_distance must be >= 0, got {max_distance}")
        self.max_distance = max_distance
        self._exact: dict[str, list[HotlistEntry]] = defaultdict(list)
        self._by_skeleton: dict[str, list[HotlistEntry]] = defaultdict(list)
        self._tolerant: list[HotlistEntry] = []
        self._size = 0
        for entry in entries:
            if entry.removed is not None:
                continue
            self._size += 1
            self._exact[entry.plate].append(entry)
            if entry.confusable_tolerant:
                self._tolerant.append(entry)
                self._by_skeleton[confusable_skeleton(entry.plate)].append(entry)

    def __len__(self) -> int:
        return self._size

    def _tolerant_candidates(self, key: str) -> Iterable[HotlistEntry]:
        if self.max_distance < 1:
            return self._by_skeleton.get(confusable_skeleton(key), ())
        return (e for e in self._tolerant if abs(len(e.plate) - len(key)) <= self.max_distance)

    def match(self, text: str, country: str, now: datetime) -> list[HotlistMatch]:
        """Active entries that the read `text` (any spelling) of `country` ("" = unknown) hits, nearest first.

        A country-specific entry skips reads of another known country; an unknown read country
        matches any entry. Malformed text matches nothing.
        """
        try:
            key = normalize_plate(text)
        except PlateTextError:
            return []
        found: dict[str, HotlistMatch] = {}
        for entry in self._exact.get(key, ()):
            found[entry.id] = HotlistMatch(entry, 0.0)
        for entry in self._tolerant_candidates(key):
            if entry.id in found:
                continue
            distance = plate_distance(entry.plate, key, confusable_tolerant=True)
            if distance <= self.max_distance + 1e-9:
                found[entry.id] = HotlistMatch(entry, round(distance, 4))
        hits = [m for m in found.values()
                if m.entry.active(now) and (not m.entry.country or not country or m.entry.country == country)]
        hits.sort(key=lambda m: (m.distance, m.entry.id))
        return hits
