"""Hotlist entry validation: canonical plates, required legal basis/reason/expiry, typed field errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from basira.common.errors import InvalidInput
from basira.watchlists.hotlist import (
    HotlistEntry,
    HotlistReason,
    LegalBasis,
    parse_id,
    validate_new_entry,
    validate_removal_reason,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASIS = LegalBasis("stolen-vehicle-report", "PV-2026-118", "police-casablanca")


def entry(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict(
        plate="rk-099 an",
        country="",
        reason=HotlistReason.STOLEN,
        legal_basis=BASIS,
        expires=NOW + timedelta(days=30),
        confusable_tolerant=False,
        note="",
        owner_agency="police",
        now=NOW,
    )
    fields.update(changes)
    return fields


def field_of(**changes: Any) -> str:
    with pytest.raises(InvalidInput) as caught:
        validate_new_entry(**entry(**changes))
    return caught.value.field


def test_plate_is_stored_canonical_and_owner_is_the_caller() -> None:
    new = validate_new_entry(**entry(note="  blue Dacia  "))
    assert new.plate == "RK099AN"
    assert new.plate_as_reported == "rk-099 an"
    assert new.owner_agency == "police"
    assert new.note == "blue Dacia"
    assert new.reason is HotlistReason.STOLEN


def test_moroccan_plate_in_arabic_gets_the_latin_key() -> None:
    new = validate_new_entry(**entry(plate="12345 | ب | 6", country="ma"))
    assert (new.plate, new.country) == ("12345B6", "MA")


@pytest.mark.parametrize("plate", ["", "  -- ", "ABC€123", "A" * 17, "7"])
def test_malformed_plates_name_entry_plate(plate: str) -> None:
    assert field_of(plate=plate) == "entry.plate"


def test_a_moroccan_entry_must_fit_the_moroccan_layout() -> None:
    assert field_of(plate="AB-123-CD", country="MA") == "entry.plate"


@pytest.mark.parametrize("country", ["MAR", "1A", "M"])
def test_country_must_be_alpha2(country: str) -> None:
    assert field_of(country=country) == "entry.country"


def test_reason_is_required() -> None:
    assert field_of(reason=HotlistReason.UNSPECIFIED) == "entry.reason"
    assert field_of(reason=99) == "entry.reason"


def test_legal_basis_is_required_with_kind_and_reference() -> None:
    assert field_of(legal_basis=None) == "entry.legal_basis"
    assert field_of(legal_basis=LegalBasis("", "PV-1")) == "entry.legal_basis.kind"
    assert field_of(legal_basis=LegalBasis("court-order", "   ")) == "entry.legal_basis.reference"


def test_expiry_is_required_future_and_bounded() -> None:
    assert field_of(expires=None) == "entry.expires"
    assert field_of(expires=NOW) == "entry.expires"
    assert field_of(expires=NOW - timedelta(seconds=1)) == "entry.expires"
    assert field_of(expires=NOW + timedelta(days=365 * 50)) == "entry.expires"


def test_an_agencyless_caller_cannot_add() -> None:
    assert field_of(owner_agency="") == "entry.owner_agency"


def test_ids_and_removal_reasons() -> None:
    assert str(parse_id(" 7b0c9c3e-8f2a-4c1d-9a57-5f1f3f0e2a10 ", "entry_id")).startswith("7b0c9c3e")
    with pytest.raises(InvalidInput) as caught:
        parse_id("entry-1", "entry_id")
    assert caught.value.field == "entry_id"
    with pytest.raises(InvalidInput):
        validate_removal_reason("  ")


def test_entries_stop_being_active_at_expiry_or_removal() -> None:
    stored = HotlistEntry(
        id="e1",
        plate="RK099AN",
        country="",
        reason=HotlistReason.WANTED,
        legal_basis=BASIS,
        owner_agency="police",
        expires=NOW + timedelta(hours=1),
        confusable_tolerant=False,
        note="",
        created=NOW,
    )
    assert stored.active(NOW)
    assert not stored.active(NOW + timedelta(hours=1))
    removed = HotlistEntry(**{**{f: getattr(stored, f) for f in stored.__slots__}, "removed": NOW})
    assert not removed.active(NOW)
