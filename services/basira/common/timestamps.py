"""Protobuf timestamps ⇄ aware UTC datetimes: an unset (zero) timestamp means "not given"."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp


def to_datetime(ts: Timestamp) -> datetime | None:
    """The timestamp as an aware UTC datetime, or None when it is unset (the zero time)."""
    if not ts.seconds and not ts.nanos:
        return None
    return ts.ToDatetime(tzinfo=UTC)
