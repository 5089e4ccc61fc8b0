"""Search's plain data: visit collapsing, page tokens, page sizes and the scope policy granted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from basira.common.errors import InvalidInput
from basira.search.domain import (
    KIND_PLATE,
    GrantedScope,
    PageCursor,
    SightingRow,
    collapse_visits,
    decode_page_token,
    encode_page_token,
    page_size,
    query_fingerprint,
)
from basira.v1 import search_pb2

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _at(i: int, camera: str) -> SightingRow:
    return SightingRow(id=f"s{i}", kind=KIND_PLATE, camera_id=camera, zone="z",
                       seen=T0 + timedelta(minutes=i))


def test_collapse_keeps_the_first_sighting_of_each_visit() -> None:
    rows = [_at(0, "a"), _at(1, "a"), _at(2, "b"), _at(3, "b"), _at(4, "b"), _at(5, "a"), _at(6, "c")]
    assert [r.id for r in collapse_visits(rows)] == ["s0", "s2", "s5", "s6"]
    assert collapse_visits([]) == []


def test_page_token_round_trips_and_is_tied_to_its_query() -> None:
    fp = query_fingerprint("plates", "AB123CD")
    token = encode_page_token(PageCursor(T0, "s9"), fp)
    assert decode_page_token(token, fp) == PageCursor(T0, "s9")
    assert decode_page_token("", fp) is None
    with pytest.raises(InvalidInput) as other:
        decode_page_token(token, query_fingerprint("plates", "XY999ZZ"))
    assert other.value.field == "page.page_token"
    with pytest.raises(InvalidInput):
        decode_page_token("not-a-token!", fp)


def test_page_size_defaults_caps_and_follows_max_results() -> None:
    assert page_size(0, default=50, maximum=500) == 50
    assert page_size(900, default=50, maximum=500) == 500
    assert page_size(100, default=50, maximum=500, obligation_max=20) == 20
    assert page_size(10, default=50, maximum=500, obligation_max=True) == 10  # not a number
    with pytest.raises(InvalidInput):
        page_size(-1, default=50, maximum=500)


def test_granted_scope_reads_zone_and_camera_obligations() -> None:
    assert GrantedScope.from_obligations({}).unlimited
    scope = GrantedScope.from_obligations({"zones": ["medina"], "cameras": ["bwc-1"]})
    assert scope.allows("medina", "cam-x") and scope.allows("", "bwc-1")
    assert not scope.allows("port", "cam-y")
    only_zone = GrantedScope.from_obligations({"zones": "port"})
    assert only_zone.allows("port", "c") and not only_zone.allows("medina", "c")


def test_kind_numbers_match_the_contract() -> None:
    assert KIND_PLATE == search_pb2.SIGHTING_KIND_PLATE
