"""The access record's canonical bytes: the Merkle leaf must not change with how they are built."""

from __future__ import annotations

from dataclasses import dataclass

from basira.common.access_record import AccessRecord, canonical_json


def _record(**extra: object) -> AccessRecord:
    return AccessRecord(action="search.face", user="police-investigator", agency="police",
                        roles=["investigator"], allowed=True, reasons=["é", "b"],
                        resource={"cameras": ["cam-b", "cam-a"], "zone": "medina", "n": 1.5},
                        obligations={"max_results": 100, "redact_fields": []}, result_count=3,
                        biometric={"watchlist": "w-1", "nested": {"z": 1, "a": [True, None]}}, **extra)  # type: ignore[arg-type]


def test_to_json_is_the_canonical_json_of_to_dict() -> None:
    record = _record()
    assert record.to_json() == canonical_json(record.to_dict())
    assert record.fields_dict() == record.to_dict()


@dataclass(frozen=True)
class _Reference:
    kind: str
    id: str


def test_a_nested_dataclass_value_still_encodes_as_to_dict_does() -> None:
    record = _record(recipients=[_Reference("agency", "customs")])  # type: ignore[list-item]
    assert record.to_json() == canonical_json(record.to_dict())
    assert b'"recipients":[{"id":"customs","kind":"agency"}]' in record.to_json()
