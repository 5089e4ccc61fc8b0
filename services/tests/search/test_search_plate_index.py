"""The fuzzy prefilter never drops a plate within the distance, and ranking uses look-alike costs."""

from __future__ import annotations

import random
import string

import pytest

from basira.common.plate_text import plate_distance
from basira.search.plate_index import plan_fuzzy, rank_candidates, skeleton_grams

ALPHABET = string.ascii_uppercase + string.digits


def _passes_prefilter(key: str, candidate: str, max_distance: float) -> bool:
    plan = plan_fuzzy(key, max_distance)
    if not plan.min_length <= len(candidate) <= plan.max_length:
        return False
    if plan.skeleton_equal:
        return plan_fuzzy(candidate, 0).skeleton == plan.skeleton
    if not plan.uses_grams:
        return True
    return len(set(plan.grams) & skeleton_grams(candidate)) >= plan.min_shared_grams


def _mutate(rng: random.Random, key: str, edits: int) -> str:
    chars = list(key)
    for _ in range(edits):
        op = rng.choice(("sub", "ins", "del", "lookalike"))
        i = rng.randrange(len(chars)) if chars else 0
        if op == "sub" and chars:
            chars[i] = rng.choice(ALPHABET)
        elif op == "ins":
            chars.insert(i, rng.choice(ALPHABET))
        elif op == "del" and len(chars) > 1:
            del chars[i]
        elif chars:
            chars[i] = {"O": "0", "0": "O", "B": "8", "8": "B", "I": "1", "1": "I", "S": "5"}.get(chars[i],
                                                                                                chars[i])
    return "".join(chars)


@pytest.mark.parametrize("max_distance", [0.3, 0.6, 1.0, 1.3, 2.0, 2.6])
def test_prefilter_keeps_every_plate_within_the_distance(max_distance: float) -> None:
    rng = random.Random(int(max_distance * 10))
    checked = 0
    for _ in range(3000):
        key = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(4, 9)))
        candidate = _mutate(rng, key, rng.randint(0, 4))
        if plate_distance(key, candidate) <= max_distance + 1e-9:
            checked += 1
            assert _passes_prefilter(key, candidate, max_distance), (key, candidate, max_distance)
    assert checked > 100  # the property was exercised on many true matches


def test_prefilter_rejects_unrelated_plates() -> None:
    plan = plan_fuzzy("AB123CD", 1.0)
    assert plan.uses_grams and plan.edits == 1
    assert len(set(plan.grams) & skeleton_grams("XY987ZW")) < plan.min_shared_grams
    assert (plan.min_length, plan.max_length) == (6, 8)


def test_lookalike_only_search_uses_the_skeleton() -> None:
    plan = plan_fuzzy("RK099AN", 0.6)
    assert plan.skeleton_equal
    assert plan.skeleton == plan_fuzzy("RKO99AN", 0).skeleton == plan_fuzzy("RKD99AN", 0).skeleton


def test_ranking_charges_lookalikes_less_and_respects_the_cut_off() -> None:
    stored = ["AB123CD", "A8123CD", "AB123C0", "AB124CD", "AB12CD", "ZZ999ZZ"]
    ranked = rank_candidates("AB123CD", stored, 0.5)
    assert ranked == {"AB123CD": 0.0, "A8123CD": 0.3, "AB123C0": 0.3}
    wider = rank_candidates("AB123CD", ["AB124CD", "AB12CD", "A8124CD"], 1.0)
    assert wider == {"AB124CD": 1.0, "AB12CD": 1.0}  # A8124CD costs 1.3


def test_negative_distance_is_refused() -> None:
    with pytest.raises(ValueError):
        plan_fuzzy("AB123CD", -0.1)
