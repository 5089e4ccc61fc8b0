"""The access record: what the gate logs for every call and act (DESIGN §4), as canonical JSON.

The Merkle leaf is exactly `canonical_json(record)`; anyone re-serialising a record must get the same
bytes, so the encoding is fixed here once: UTF-8, keys sorted, no spaces, no NaN.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, compact separators, UTF-8); raises ValueError on NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def utc_now_iso() -> str:
    """Current UTC time, RFC 3339 with microseconds and a `Z` suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class AccessRecord:
    """One access (allowed or denied) by one subject: the fields oversight bodies ask for.

    `biometric` holds, for face matches, the watchlist, the matched input reference and who verified
    it; `recipients` lists the receivers of an export.
    """

    action: str
    user: str
    agency: str
    roles: list[str]
    allowed: bool
    reasons: list[str] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    purpose: str = ""
    case_id: str = ""
    authorization_id: str = ""
    obligations: dict[str, Any] = field(default_factory=dict)
    result_count: int | None = None
    recipients: list[str] = field(default_factory=list)
    policy_revision: str = ""
    biometric: dict[str, Any] = field(default_factory=dict)
    service: str = ""
    method: str = ""
    status: str = "OK"
    source_ip: str = ""
    time: str = field(default_factory=utc_now_iso)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fields_dict(self) -> dict[str, Any]:
        """The fields as a shallow dict (the values are the record's own, not copies): encodes to the
        same JSON as `to_dict()`, whose deep copy cost most of the gate's audit append (measured)."""
        return {name: getattr(self, name) for name in _FIELD_NAMES}

    def to_json(self) -> bytes:
        """The canonical bytes that become the Merkle leaf (the deep copy only for values that
        `asdict` alone can convert, e.g. a nested dataclass)."""
        try:
            return canonical_json(self.fields_dict())
        except TypeError:
            return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccessRecord:
        """Rebuild a record; unknown keys are an error so a changed schema is never silently lost.

        A `signature` (basira.common.record_signing) is the envelope's, not the record's: dropped."""
        return cls(**{k: v for k, v in data.items() if k != "signature"})


_FIELD_NAMES = tuple(f.name for f in fields(AccessRecord))
