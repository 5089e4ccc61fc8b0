"""JSON ⇄ protobuf for the console API (API.md "Conventions"), in one place.

Out: every field present, enums by full name, 64-bit integers as numbers, bytes base64, Timestamps as
RFC 3339 UTC with milliseconds ("" when unset). In: explicit readers that name the offending field
in a 400 problem (`bad_request(..., field=...)`), never a silent default for a malformed value.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from multidict import MultiDictProxy

from basira.console.problems import bad_request
from basira.v1 import common_pb2

_TIMESTAMP = "google.protobuf.Timestamp"
_INTEGERS = frozenset({FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64,
                       FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64})


def timestamp_text(ts: Timestamp) -> str:
    if ts.seconds == 0 and ts.nanos == 0:
        return ""
    moment = ts.ToDatetime(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _value(field: Any, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == _TIMESTAMP:
            return timestamp_text(value)
        return message_json(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        named = field.enum_type.values_by_number.get(value)
        return named.name if named is not None else value
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    if field.type in _INTEGERS:
        return int(value)
    return value


def message_json(message: Message) -> dict[str, Any]:
    """A protobuf message as the console's JSON (see the module docstring)."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            out[field.name] = {str(k): _value(value_field, v) for k, v in value.items()}
        elif field.is_repeated:
            out[field.name] = [_value(field, v) for v in value]
        else:
            out[field.name] = _value(field, value)
    return out


# ---- reading requests --------------------------------------------------------------------------

async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object ({} for an empty body); a 400 problem for anything else."""
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


def json_answer(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


def parse_time(value: Any, field: str) -> datetime | None:
    """An RFC 3339 time (None for empty); a 400 problem naming `field` otherwise."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise bad_request(f"{field} must be an RFC 3339 time string", field)
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise bad_request(f"{field} is not an RFC 3339 time: {value!r}", field) from exc
    if moment.tzinfo is None:
        raise bad_request(f"{field} needs a time zone offset (e.g. 2026-03-01T10:00:00Z)", field)
    return moment.astimezone(UTC)


def set_time(target: Timestamp, value: Any, field: str) -> bool:
    moment = parse_time(value, field)
    if moment is None:
        return False
    target.FromDatetime(moment)
    return True


def text(body: Mapping[str, Any], name: str, *, required: bool = False, max_len: int = 10_000) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise bad_request(f"{name} is required", name)
        return ""
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string", name)
    if len(value) > max_len:
        raise bad_request(f"{name} is longer than {max_len} characters", name)
    return value


def strings(body: Mapping[str, Any], name: str) -> list[str]:
    """A list of strings; a single string counts as a list of one."""
    value = body.get(name)
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"{name} must be a list of strings", name)
    return [v for v in value if v]


def boolean(body: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", ""):
        return value.lower() in ("true", "1")
    raise bad_request(f"{name} must be true or false", name)


def number(body: Mapping[str, Any], name: str, default: float = 0.0) -> float:
    value = body.get(name, default)
    if value in (None, ""):
        return default
    try:
        result = float(value)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"{name} must be a number", name) from exc
    if result != result or result in (float("inf"), float("-inf")):
        raise bad_request(f"{name} must be a finite number", name)
    return result


def integer(body: Mapping[str, Any], name: str, default: int = 0, *, minimum: int = 0,
            maximum: int = 2**63 - 1) -> int:
    value = body.get(name, default)
    if value in (None, ""):
        return default
    try:
        result = int(value)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"{name} must be an integer", name) from exc
    if not minimum <= result <= maximum:
        raise bad_request(f"{name} must be within {minimum}..{maximum}", name)
    return result


def enum_value(enum: EnumDescriptor, value: Any, field: str, prefix: str) -> int:
    """An enum by full name (`HOTLIST_REASON_STOLEN`), short name (`stolen`) or number."""
    if value in (None, ""):
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and value in enum.values_by_number:
        return value
    if isinstance(value, str):
        name = value.strip().upper().replace("-", "_")
        full = name if name.startswith(prefix + "_") else f"{prefix}_{name}"
        if full in enum.values_by_name:
            return enum.values_by_name[full].number
    names = ", ".join(v.name for v in enum.values if v.number)
    raise bad_request(f"{field} must be one of {names}", field)


def authorization(value: Any, field: str = "context.authorization") -> common_pb2.Authorization | None:
    """The authorization object (or its JSON text, e.g. from a header or form field)."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return common_pb2.Authorization(id=value)  # a bare id: policy says what else it needs
    if not isinstance(value, dict):
        raise bad_request(f"{field} must be an object {{id, issued_by, scope_zones, scope_cameras, "
                          "expires}", field)
    result = common_pb2.Authorization(
        id=text(value, "id", max_len=200), issued_by=text(value, "issued_by", max_len=200),
        scope_zones=strings(value, "scope_zones"), scope_cameras=strings(value, "scope_cameras"))
    set_time(result.expires, value.get("expires"), f"{field}.expires")
    return result


def access_context(context: Mapping[str, Any] | None) -> common_pb2.AccessContext:
    """`context: {purpose, case_id, authorization | authorization_id}` → AccessContext."""
    if context is None:
        return common_pb2.AccessContext()
    if not isinstance(context, Mapping):
        raise bad_request("context must be an object {purpose, case_id, authorization}", "context")
    result = common_pb2.AccessContext(purpose=text(context, "purpose", max_len=200),
                                      case_id=text(context, "case_id", max_len=200))
    auth = authorization(context.get("authorization") or context.get("authorization_id"))
    if auth is not None:
        result.authorization.CopyFrom(auth)
    return result


def context_from_headers(headers: Mapping[str, str]) -> common_pb2.AccessContext:
    """The case context of a GET request (X-Basira-Purpose / -Case / -Authorization)."""
    return access_context({"purpose": headers.get("X-Basira-Purpose", ""),
                           "case_id": headers.get("X-Basira-Case", ""),
                           "authorization": headers.get("X-Basira-Authorization", "")})


# ---- multipart forms ---------------------------------------------------------------------------

def form_context(form: MultiDictProxy[Any]) -> common_pb2.AccessContext:
    return access_context({"purpose": str(form.get("purpose") or ""),
                           "case_id": str(form.get("case_id") or ""),
                           "authorization": form.get("authorization") or form.get("authorization_id")})


def form_fields(form: MultiDictProxy[Any]) -> dict[str, Any]:
    """The text fields of a multipart form (repeated fields as lists)."""
    fields: dict[str, Any] = {}
    for key in set(form.keys()):
        values = [v for v in form.getall(key) if isinstance(v, str)]
        if values:
            fields[key] = values if len(values) > 1 or key in ("cameras", "zones") else values[0]
    return fields


def form_files(form: MultiDictProxy[Any], name: str) -> list[bytes]:
    return [part.file.read() for part in form.getall(name, []) if isinstance(part, web.FileField)]
