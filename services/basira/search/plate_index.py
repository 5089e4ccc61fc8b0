"""Fuzzy plate lookup planning: a bigram prefilter the database can index, then exact ranking.

PostgreSQL here has no pg_trgm, so search keeps its own index: for every distinct plate key, the
bigrams of its look-alike skeleton (`plate_text.confusable_skeleton`, padded with `^`/`$`). Why the
prefilter never loses a match:

* An alignment of keys `a`, `b` costing `d` (look-alike substitutions 0.3, other edits 1) uses at most
  `k = floor(d)` edits that are not look-alike substitutions. The same alignment over the skeletons
  turns look-alike substitutions into matches, so `levenshtein(skel(a), skel(b)) <= k`.
* Each of those `k` edits touches at most 2 bigram positions of the query's padded skeleton, so at
  least `len(distinct bigrams) - 2k` of the query's distinct bigrams occur in the candidate.
* Every edit changes the length by at most one, so `|len(a) - len(b)| <= k`.

With `k = 0` the skeletons are equal, which an ordinary index answers directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from basira.common.plate_text import DEFAULT_CONFUSABLE_COST, confusable_skeleton, plate_distance

GRAM = 2
"""Bigrams: plates are short (5-10 characters), so longer grams would leave no filter at k = 1."""


def skeleton_grams(key: str) -> frozenset[str]:
    """Distinct bigrams of the padded look-alike skeleton of canonical `key`."""
    padded = f"^{confusable_skeleton(key)}$"
    return frozenset(padded[i:i + GRAM] for i in range(len(padded) - GRAM + 1))


@dataclass(frozen=True)
class FuzzyPlan:
    """How to find every stored key within `max_distance` of `key` (see the module docstring)."""

    key: str
    skeleton: str
    max_distance: float
    edits: int
    min_length: int
    max_length: int
    grams: tuple[str, ...]
    min_shared_grams: int

    @property
    def skeleton_equal(self) -> bool:
        """True when only look-alike substitutions are allowed: candidates share the skeleton."""
        return self.edits == 0

    @property
    def uses_grams(self) -> bool:
        """False when the bound is too loose to filter (short key, large distance): length only."""
        return self.min_shared_grams > 0


def plan_fuzzy(key: str, max_distance: float) -> FuzzyPlan:
    """The prefilter for canonical `key` and `max_distance` >= 0 (same units as plate_distance)."""
    if max_distance < 0:
        raise ValueError(f"max_distance must be >= 0, got {max_distance}")
    edits = math.floor(max_distance + 1e-9)
    grams = skeleton_grams(key)
    return FuzzyPlan(
        key=key, skeleton=confusable_skeleton(key), max_distance=max_distance, edits=edits,
        min_length=max(1, len(key) - edits), max_length=len(key) + edits,
        grams=tuple(sorted(grams)), min_shared_grams=len(grams) - GRAM * edits,
    )


def rank_candidates(key: str, candidates: Iterable[str], max_distance: float,
                    *, confusable_cost: float = DEFAULT_CONFUSABLE_COST) -> dict[str, float]:
    """Exact look-alike-aware distance of each candidate key; only those within `max_distance`."""
    ranked: dict[str, float] = {}
    for candidate in candidates:
        if abs(len(candidate) - len(key)) > max_distance + 1e-9:
            continue
        distance = plate_distance(key, candidate, confusable_cost=confusable_cost)
        if distance <= max_distance + 1e-9:
            ranked[candidate] = round(distance, 4)
    return ranked
