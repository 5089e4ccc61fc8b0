"""Plate hotlist entries as plain data, and the validation every new entry passes (pure, no I/O).

DESIGN §5: every entry carries a legal basis and an expiry, and expired entries stop matching. The
plate is stored as its canonical key (`basira.common.plate_text`) so a typed `rk-099 an` and a camera
read `RK099AN` meet on the same key.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from basira.common.errors import InvalidInput
from basira.common.plate_text import PlateTextError, normalize_plate, parse_moroccan

MIN_PLATE_LENGTH = 2
"""Shorter keys would match far too many reads to be a useful (or proportionate) hotlist entry."""

MAX_EXPIRY = timedelta(days=3660)
"""An expiry beyond ~10 years is a typo (year 9999), not a legal basis; the operator must renew instead."""

MAX_TEXT = 500
"""Longest free text (legal reference, issuer, note) accepted, in characters."""

_COUNTRY = re.compile(r"[A-Z]{2}")


class HotlistReason(enum.IntEnum):
    """Why a plate is on the hotlist; values are the `basira.v1.HotlistReason` numbers."""

    UNSPECIFIED = 0
    STOLEN = 1
    WANTED = 2
    AMBER_ALERT = 3
    UNINSURED = 4
    OTHER = 5


@dataclass(frozen=True, slots=True)
class LegalBasis:
    """Why the law allows the entry: kind (e.g. "stolen-vehicle-report"), reference, issuer."""

    kind: str
    reference: str
    issued_by: str = ""


@dataclass(frozen=True, slots=True)
class NewHotlistEntry:
    """A validated entry, not yet stored. `plate` is the canonical key; times are timezone-aware UTC."""

    plate: str
    plate_as_reported: str
    country: str
    reason: HotlistReason
    legal_basis: LegalBasis
    owner_agency: str
    expires: datetime
    confusable_tolerant: bool
    note: str


@dataclass(frozen=True, slots=True)
class HotlistEntry:
    """A stored entry. `removed` is set once an agency took it off the list (kept for the record)."""

    id: str
    plate: str
    country: str
    reason: HotlistReason
    legal_basis: LegalBasis
    owner_agency: str
    expires: datetime
    confusable_tolerant: bool
    note: str
    created: datetime
    created_by: str = ""
    removed: datetime | None = None

    def active(self, now: datetime) -> bool:
        """True while the entry may match: not removed and not yet expired at `now`."""
        return self.removed is None and now < self.expires


def _text(value: str, field: str, *, required: bool) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{field} is required", field=field)
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{field} is {len(value)} characters long, over the limit of {MAX_TEXT}",
                           field=field)
    return value


def validate_plate(text: str, country: str, field: str = "entry.plate") -> str:
    """The canonical key of a plate typed for a hotlist; raises InvalidInput naming `field`.

    A Moroccan entry (country "MA") must also fit the Moroccan layout (digits | letter | region).
    """
    try:
        key = normalize_plate(text)
        if country == "MA":
            key = parse_moroccan(text).key
    except PlateTextError as exc:
        raise InvalidInput(f"{field}: {exc.message}", field=field) from exc
    if len(key) < MIN_PLATE_LENGTH:
        raise InvalidInput(f"{field}: plate {text!r} has fewer than {MIN_PLATE_LENGTH} letters or digits",
                           field=field)
    return key


def validate_country(country: str, field: str = "entry.country") -> str:
    """"" (any country) or an ISO 3166-1 alpha-2 code, returned upper-case."""
    code = country.strip().upper()
    if code and not _COUNTRY.fullmatch(code):
        raise InvalidInput(f"{field} must be an ISO 3166-1 alpha-2 code (e.g. MA, FR) or empty, got "
                           f"{country!r}", field=field)
    return code


def validate_legal_basis(basis: LegalBasis | None, field: str) -> LegalBasis:
    """A legal basis with its kind and reference filled in; raises InvalidInput naming the field."""
    if basis is None:
        raise InvalidInput(f"{field} is required: say which order, warrant or report allows this entry",
                           field=field)
    return LegalBasis(kind=_text(basis.kind, f"{field}.kind", required=True),
                      reference=_text(basis.reference, f"{field}.reference", required=True),
                      issued_by=_text(basis.issued_by, f"{field}.issued_by", required=False))


def validate_expiry(expires: datetime | None, now: datetime, field: str) -> datetime:
    """An expiry in the future and at most MAX_EXPIRY ahead; `now` and `expires` must be tz-aware."""
    if expires is None:
        raise InvalidInput(f"{field} is required: every entry must expire", field=field)
    if expires <= now:
        raise InvalidInput(f"{field} ({expires.isoformat()}) is not in the future", field=field)
    if expires - now > MAX_EXPIRY:
        raise InvalidInput(f"{field} ({expires.isoformat()}) is more than {MAX_EXPIRY.days} days ahead; "
                           "set a nearer expiry and renew the entry if the legal basis still holds",
                           field=field)
    return expires


def validate_new_entry(*, plate: str, country: str, reason: int, legal_basis: LegalBasis | None,
                       expires: datetime | None, confusable_tolerant: bool, note: str,
                       owner_agency: str, now: datetime) -> NewHotlistEntry:
    """Check a requested hotlist entry; every refusal is InvalidInput naming the `entry.*` field.

    `owner_agency` is the caller's agency (never taken from the request); it must not be empty.
    """
    if not owner_agency:
        raise InvalidInput("the caller has no agency; only agency members may add hotlist entries",
                           field="entry.owner_agency")
    code = validate_country(country)
    key = validate_plate(plate, code)
    try:
        why = HotlistReason(reason)
    except ValueError:
        raise InvalidInput(f"entry.reason {reason} is not a known HotlistReason",
                           field="entry.reason") from None
    if why is HotlistReason.UNSPECIFIED:
        raise InvalidInput("entry.reason is required (stolen, wanted, amber alert, uninsured, other)",
                           field="entry.reason")
    return NewHotlistEntry(
        plate=key, plate_as_reported=plate.strip(), country=code, reason=why,
        legal_basis=validate_legal_basis(legal_basis, "entry.legal_basis"), owner_agency=owner_agency,
        expires=validate_expiry(expires, now, "entry.expires"), confusable_tolerant=confusable_tolerant,
        note=_text(note, "entry.note", required=False),
    )


def parse_id(value: str, field: str) -> uuid.UUID:
    """An entry, list or subject id (a UUID); raises InvalidInput naming `field`."""
    try:
        return uuid.UUID(value.strip())
    except (ValueError, AttributeError):
        raise InvalidInput(f"{field} must be an id as returned when the item was created (a UUID), "
                           f"got {value!r}", field=field) from None


def validate_removal_reason(reason: str, field: str = "reason") -> str:
    """Why an entry is taken off a list: required, kept with the entry for oversight."""
    return _text(reason, field, required=True)
