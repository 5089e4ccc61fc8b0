"""Passages: per-frame reads of one vehicle grouped and fused into one reading (pure)."""

from __future__ import annotations

from basira.analytics.plates.engine import PlateAlternative, PlateRead
from basira.analytics.plates.passages import PassageTracker, fuse


def read(text: str, confidence: float, x: int = 100,
         alternatives: tuple[PlateAlternative, ...] = ()) -> PlateRead:
    return PlateRead(text, text, "", confidence, (x, 200, 120, 30), alternatives)


def test_fusion_votes_per_character_weighted_by_confidence() -> None:
    fused = fuse([read("AB123CD", 0.9), read("AB128CD", 0.5), read("A8123CD", 0.6), read("AB123C", 0.3)])
    assert fused.text == "AB123CD"
    assert 0.5 < fused.confidence <= 0.9
    assert {a.text for a in fused.alternatives} <= {"AB128CD", "A8123CD", "AB123C"}
    assert len(fused.alternatives) == 2


def test_one_passage_per_vehicle_across_frames_and_a_new_one_after_a_gap() -> None:
    tracker = PassageTracker(gap_s=2.0)
    first = tracker.observe("cam", "f1", 0.0, [read("AB123CD", 0.8, x=100), read("XY987ZZ", 0.7, x=600)])
    second = tracker.observe("cam", "f2", 0.2, [read("XY987Z2", 0.6, x=590), read("AB128CD", 0.5, x=130)])
    assert [p.id for p in second] == [first[1].id, first[0].id]
    assert first[0].frames == 2 and first[0].plate.text == "AB123CD"
    assert tracker.close_idle(1.0) == []
    closed = tracker.close_idle(5.0)
    assert sorted(p.id for p in closed) == sorted(p.id for p in first)
    later = tracker.observe("cam", "f9", 10.0, [read("AB123CD", 0.8)])
    assert later[0].id not in {p.id for p in first}


def test_a_different_plate_in_the_same_place_is_another_passage() -> None:
    tracker = PassageTracker()
    a = tracker.observe("cam", "f1", 0.0, [read("AB123CD", 0.8)])
    b = tracker.observe("cam", "f2", 0.5, [read("KL555MN", 0.8)])
    c = tracker.observe("other", "g1", 0.5, [read("AB123CD", 0.8)])
    assert len({a[0].id, b[0].id, c[0].id}) == 3


def test_alternatives_link_reads_and_survive_fusion() -> None:
    tracker = PassageTracker()
    alt = (PlateAlternative("RK099AN", "RK-099AN", "SK", 0.5),)
    p = tracker.observe("cam", "f1", 0.0, [read("RKO99AN", 0.7, alternatives=alt)])
    q = tracker.observe("cam", "f2", 0.1, [read("RK099AN", 0.6, x=400)])
    assert p[0].id == q[0].id
    assert "RK099AN" in [p[0].plate.text, *(a.text for a in p[0].plate.alternatives)]
