"""A record is vouched for only by its own service's key, over exactly what that service wrote."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from basira.common.access_record import AccessRecord, canonical_json
from basira.common.errors import ConfigError
from basira.common.record_signing import (
    ensure_signing_key,
    load_private_key,
    load_public_keys,
    record_signature_problem,
    sign_record,
)

SEARCH, INGEST = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
KEYS = {"search": SEARCH.public_key(), "ingest": INGEST.public_key()}


def signed(service: str = "search", key: Ed25519PrivateKey = SEARCH, **changes: Any) -> dict[str, Any]:
    record = AccessRecord(action="search.plate", user="officer", agency="police", roles=["investigator"],
                          allowed=True, service=service).to_dict()
    value: dict[str, Any] = json.loads(sign_record(record, service, key))
    value.update(changes)
    return value


def test_a_record_signed_by_its_service_verifies_and_stays_canonical() -> None:
    record = signed()
    assert record_signature_problem(record, KEYS) is None
    assert canonical_json(record) == sign_record(record, "search", SEARCH)  # re-signing replaces it
    assert AccessRecord.from_dict(record).user == "officer"


@pytest.mark.parametrize(("record", "check"), [
    ({k: v for k, v in signed().items() if k != "signature"}, "unsigned"),
    (signed(user="someone-else"), "bad signature"),
    ({**signed(), "service": "ingest"}, "signer mismatch"),
    (signed(service="ingest", key=SEARCH), "unknown key"),
])
def test_a_record_not_vouched_for_names_the_failed_check(record: dict[str, Any], check: str) -> None:
    problem = record_signature_problem(record, KEYS)
    assert problem is not None and problem.startswith(check)


def test_a_service_with_no_known_key_is_an_unknown_signer() -> None:
    other = Ed25519PrivateKey.generate()
    problem = record_signature_problem(signed(service="rogue", key=other), KEYS)
    assert problem is not None and problem.startswith("unknown signer")


def test_keys_are_made_once_private_half_owner_only(tmp_path: Path) -> None:
    private = ensure_signing_key(tmp_path / "records", "search")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    first = load_private_key(private).public_key().public_bytes_raw()
    ensure_signing_key(tmp_path / "records", "search")
    keys = load_public_keys(tmp_path / "records" / "public")
    assert set(keys) == {"search"} and keys["search"].public_bytes_raw() == first


def test_an_empty_key_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no record keys"):
        load_public_keys(tmp_path)
