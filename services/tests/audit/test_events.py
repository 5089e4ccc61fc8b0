"""The audit service accepts a record only from the identity it names (its subject's last token)."""

from __future__ import annotations

from basira.audit.events import publisher_mismatch
from basira.common.access_record import AccessRecord


def record(service: str) -> bytes:
    return AccessRecord(action="search.plate", user="u", agency="police", roles=[], allowed=True,
                        service=service).to_json()


def test_a_record_from_the_service_it_names_is_accepted() -> None:
    assert publisher_mismatch("audit.record.search", record("search")) is None


def test_a_record_naming_another_service_is_refused_with_both_names() -> None:
    problem = publisher_mismatch("audit.record.search", record("ingest"))
    assert problem is not None and "'ingest'" in problem and "'search' published it" in problem


def test_malformed_json_is_left_to_the_store() -> None:
    assert publisher_mismatch("audit.record.search", b"not json") is None
    assert publisher_mismatch("audit.record.search", b"[1]") is None
