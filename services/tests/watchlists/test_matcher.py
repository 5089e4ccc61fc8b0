"""Hotlist matching: exact keys, look-alike tolerance only when the entry allows it, country, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from basira.watchlists.hotlist import HotlistEntry, HotlistReason, LegalBasis
from basira.watchlists.matcher import HotlistIndex

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def entry(
    entry_id: str,
    plate: str,
    *,
    tolerant: bool = False,
    country: str = "",
    expires: datetime = NOW + timedelta(days=1),
    removed: datetime | None = None,
) -> HotlistEntry:
    return HotlistEntry(
        id=entry_id,
        plate=plate,
        country=country,
        reason=HotlistReason.STOLEN,
        legal_basis=LegalBasis("court-order", "X-1"),
        owner_agency="police",
        expires=expires,
        confusable_tolerant=tolerant,
        note="",
        created=NOW - timedelta(days=1),
        removed=removed,
    )


def ids(index: HotlistIndex, text: str, country: str = "") -> list[tuple[str, float]]:
    return [(m.entry.id, m.distance) for m in index.match(text, country, NOW)]


def test_exact_entries_match_only_the_same_key() -> None:
    index = HotlistIndex([entry("strict", "RK099AN")])
    assert ids(index, "RK099AN") == [("strict", 0.0)]
    assert ids(index, "rk-099 an") == [("strict", 0.0)]
    assert ids(index, "RKO99AN") == []  # a look-alike is not enough for a strict entry
    assert ids(index, "RK099AM") == []


def test_tolerant_entries_forgive_look_alikes_up_to_the_limit() -> None:
    index = HotlistIndex([entry("tolerant", "RK0158", tolerant=True)], max_distance=0.6)
    assert ids(index, "RKO158") == [("tolerant", 0.3)]
    assert ids(index, "RKOI58") == [("tolerant", 0.6)]
    assert ids(index, "RKOIS8") == []  # three look-alikes: 0.9 > 0.6
    assert ids(index, "RK0159") == []  # 8/9 are not look-alikes: a real substitution costs 1
    assert ids(index, "RK015") == []  # a missing character costs 1


def test_a_larger_limit_forgives_one_wrong_character() -> None:
    index = HotlistIndex([entry("tolerant", "RK099AN", tolerant=True)], max_distance=1.0)
    assert ids(index, "RK099AM") == [("tolerant", 1.0)]
    assert ids(index, "RK099A") == [("tolerant", 1.0)]
    assert ids(index, "RK09AM") == []


def test_nearest_first_and_each_entry_once() -> None:
    index = HotlistIndex(
        [
            entry("b-tolerant", "8K099AN", tolerant=True),
            entry("a-exact", "BK099AN"),
            entry("c-tolerant", "BK099AN", tolerant=True),
        ]
    )
    assert ids(index, "BK099AN") == [("a-exact", 0.0), ("c-tolerant", 0.0), ("b-tolerant", 0.3)]


def test_expired_and_removed_entries_never_match() -> None:
    index = HotlistIndex(
        [
            entry("expired", "AB123CD", expires=NOW),
            entry("removed", "AB123CD", removed=NOW),
            entry("live", "AB123CD", expires=NOW + timedelta(seconds=1)),
        ]
    )
    assert ids(index, "AB123CD") == [("live", 0.0)]
    assert len(index) == 2
    assert index.match("AB123CD", "", NOW + timedelta(seconds=1)) == []


def test_country_specific_entries_skip_reads_of_another_known_country() -> None:
    index = HotlistIndex([entry("fr", "AB123CD", country="FR")])
    assert ids(index, "AB123CD", "FR") == [("fr", 0.0)]
    assert ids(index, "AB123CD", "") == [("fr", 0.0)]  # the reader could not tell the country
    assert ids(index, "AB123CD", "IT") == []


@pytest.mark.parametrize("text", ["", "###", "A" * 40])
def test_malformed_reads_match_nothing(text: str) -> None:
    assert HotlistIndex([entry("e", "AB123CD", tolerant=True)]).match(text, "", NOW) == []
