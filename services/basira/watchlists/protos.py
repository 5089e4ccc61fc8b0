"""Conversions between watchlist domain objects and their `basira.v1` messages (no logic)."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from basira.common.timestamps import to_datetime
from basira.v1 import watchlist_pb2
from basira.watchlists.facelists import Watchlist, WatchlistSubject
from basira.watchlists.hotlist import HotlistEntry, LegalBasis


def timestamp(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when.astimezone(UTC))
    return ts


def datetime_or_none(ts: Timestamp, present: bool) -> datetime | None:
    """The timestamp as an aware UTC datetime, or None when the field is unset."""
    return to_datetime(ts) if present else None


def legal_basis_pb(basis: LegalBasis) -> watchlist_pb2.LegalBasis:
    return watchlist_pb2.LegalBasis(kind=basis.kind, reference=basis.reference, issued_by=basis.issued_by)


def legal_basis_from_pb(message: watchlist_pb2.LegalBasis, present: bool) -> LegalBasis | None:
    if not present:
        return None
    return LegalBasis(kind=message.kind, reference=message.reference, issued_by=message.issued_by)


def hotlist_entry_pb(entry: HotlistEntry) -> watchlist_pb2.HotlistEntry:
    return watchlist_pb2.HotlistEntry(
        id=entry.id, plate=entry.plate, country=entry.country, reason=int(entry.reason),  # type: ignore[arg-type]
        legal_basis=legal_basis_pb(entry.legal_basis), owner_agency=entry.owner_agency,
        expires=timestamp(entry.expires), confusable_tolerant=entry.confusable_tolerant, note=entry.note,
        created=timestamp(entry.created),
    )


def watchlist_pb(watchlist: Watchlist) -> watchlist_pb2.Watchlist:
    return watchlist_pb2.Watchlist(
        id=watchlist.id, name=watchlist.name, owner_agency=watchlist.owner_agency,
        description=watchlist.description, subject_count=watchlist.subject_count,
        created=timestamp(watchlist.created),
    )


def subject_pb(subject: WatchlistSubject) -> watchlist_pb2.WatchlistSubject:
    return watchlist_pb2.WatchlistSubject(
        id=subject.id, watchlist_id=subject.watchlist_id, label=subject.label,
        legal_basis=watchlist_pb2.LegalBasis(kind=subject.legal_kind, reference=subject.legal_reference,
                                             issued_by=subject.legal_issued_by),
        expires=timestamp(subject.expires), enrolled_images=subject.enrolled_images, models=subject.models,
    )
