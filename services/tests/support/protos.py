"""Building protobuf messages in tests: timestamps from datetimes, and fields overridden by keyword."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

M = TypeVar("M", bound=Message)


def timestamp(moment: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(moment)
    return out


def with_fields(message: M, **changes: Any) -> M:
    """`message`, changed in place: a None value clears the field, a message is copied into it, any other
    value is assigned."""
    for name, value in changes.items():
        if value is None:
            message.ClearField(name)
        elif isinstance(value, Message):
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    return message
