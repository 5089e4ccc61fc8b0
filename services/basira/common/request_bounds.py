"""Bounds every request meets before the gate reads it: sizes, counts, NUL bytes, timestamps.

Whatever a caller sends reaches the policy input and the access log (purpose, case id, plate, ...), so
it is bounded first: an oversize field is refused naming the field and its size, never echoing it,
and the record of the refusal carries no request content. Limits are per field kind, not per RPC,
so a new message is bounded without being listed here. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from basira.common.errors import InvalidInput

MAX_ID_CHARS = 256
"""Identifiers, names, purposes, plates: every string not listed as free text."""
MAX_TEXT_CHARS = 4096
"""Free text a person writes (a note, a reason, a description), URLs and opaque page tokens."""
TEXT_FIELDS = frozenset({"note", "reason", "description", "summary", "detail", "source_url", "page_token"})
MAX_BYTES = 8 * 1024 * 1024
"""One image or frame (the NATS payload limit)."""
MAX_REPEATED = 1000
"""Items of a repeated string, bytes or message field (camera ids, recipients, images, ...)."""
MAX_REPEATED_SCALARS = 8192
"""Items of a repeated number field (an embedding)."""
MAX_PAGE_SIZE = 1000
MAX_DEPTH = 16
# google.protobuf.Timestamp's own valid range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
MIN_SECONDS, MAX_SECONDS = -62_135_596_800, 253_402_300_799
_TIMESTAMP = "google.protobuf.Timestamp"


def decode_request(deserializer: Callable[[bytes], Message], data: bytes) -> Message:
    """Parse (with the method's own deserializer) and bound a request; InvalidInput naming the field,
    or `request` when the bytes are not that message at all."""
    owner = getattr(deserializer, "__self__", None)
    name = getattr(getattr(owner, "DESCRIPTOR", None), "full_name", "request message")
    try:
        message = deserializer(data)
    except (DecodeError, RuntimeError, ValueError, TypeError) as exc:
        raise InvalidInput(f"the request is not a valid {name} ({len(data)} bytes)", field="request") from exc
    check_request(message)
    return message


def check_request(message: Message, path: str = "", depth: int = 0) -> None:
    """Raise InvalidInput naming the first field out of bounds (its size, never its content)."""
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{path}: nested deeper than {MAX_DEPTH} messages", field=path)
    if message.DESCRIPTOR.full_name == _TIMESTAMP:
        _check_timestamp(message, path)
        return
    for field, value in message.ListFields():
        where = f"{path}.{field.name}" if path else field.name
        if field.is_repeated:
            limit = MAX_REPEATED if field.type in _NON_SCALAR else MAX_REPEATED_SCALARS
            if len(value) > limit:
                raise InvalidInput(f"{where}: {len(value)} items, at most {limit}", field=where)
            for i, item in enumerate(value):
                _check_value(field, item, f"{where}[{i}]", depth)
        else:
            _check_value(field, value, where, depth)
    if message.DESCRIPTOR.name == "PageRequest":
        size = getattr(message, "page_size", 0)
        if size < 0 or size > MAX_PAGE_SIZE:
            raise InvalidInput(f"{path or 'page'}.page_size: {size}, must be 0..{MAX_PAGE_SIZE}",
                               field=f"{path}.page_size" if path else "page_size")


_NON_SCALAR = frozenset({FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES,
                         FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_GROUP})


def _check_value(field: FieldDescriptor, value: object, where: str, depth: int) -> None:
    if field.type == FieldDescriptor.TYPE_STRING:
        assert isinstance(value, str)
        limit = MAX_TEXT_CHARS if field.name in TEXT_FIELDS else MAX_ID_CHARS
        if len(value) > limit:
            raise InvalidInput(f"{where}: {len(value)} characters, at most {limit}", field=where)
        if "\x00" in value:
            raise InvalidInput(f"{where}: contains a NUL character", field=where)
    elif field.type == FieldDescriptor.TYPE_BYTES:
        assert isinstance(value, bytes)
        if len(value) > MAX_BYTES:
            raise InvalidInput(f"{where}: {len(value)} bytes, at most {MAX_BYTES}", field=where)
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        assert isinstance(value, Message)
        check_request(value, where, depth + 1)


def _check_timestamp(message: Message, path: str) -> None:
    seconds, nanos = getattr(message, "seconds", 0), getattr(message, "nanos", 0)
    if not MIN_SECONDS <= seconds <= MAX_SECONDS or not 0 <= nanos <= 999_999_999:
        raise InvalidInput(f"{path}: timestamp out of range (years 1..9999, nanos 0..999999999)",
                           field=path)
