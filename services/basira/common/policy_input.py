"""Pure functions between protobuf messages and policy: the input document, obligations, counts.

The policy input contract is DESIGN §3; these functions are the only place it is built.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message

from basira.common.access_record import utc_now_iso


def _timestamp_iso(ts: Any) -> str:
    if ts.seconds == 0 and ts.nanos == 0:
        return ""
    return ts.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _has(message: Message, name: str) -> bool:
    return name in message.DESCRIPTOR.fields_by_name


def _time_range(rng: Message, resource: dict[str, Any]) -> None:
    start, end = _timestamp_iso(rng.start), _timestamp_iso(rng.end)  # type: ignore[attr-defined]
    if start:
        resource["time_from"] = start
    if end:
        resource["time_to"] = end


def resource_from_request(request: Message, data_class: str) -> dict[str, Any]:
    """What the request touches, from the field names the contracts use consistently.

    Recognised: camera_id, camera_ids, camera (a Camera), agency, zone, zones, scope (SearchScope),
    time (TimeRange), watchlist_id, alert_id, snapshot_id.
    """
    resource: dict[str, Any] = {"data_class": data_class}
    cameras: list[str] = []
    if _has(request, "camera_id") and request.camera_id:  # type: ignore[attr-defined]
        cameras.append(request.camera_id)  # type: ignore[attr-defined]
    if _has(request, "camera_ids"):
        cameras.extend(request.camera_ids)  # type: ignore[attr-defined]
    if _has(request, "camera") and request.HasField("camera"):
        camera = request.camera  # type: ignore[attr-defined]
        if camera.id:
            cameras.append(camera.id)
        if camera.zone:
            resource["zone"] = camera.zone
        if camera.owner_agency:
            resource["owner_agency"] = camera.owner_agency
    agency: Any = request.agency if _has(request, "agency") else None  # type: ignore[attr-defined]
    if isinstance(agency, str) and agency:
        resource["agency"] = agency
    if _has(request, "zone") and request.zone:  # type: ignore[attr-defined]
        resource["zone"] = request.zone  # type: ignore[attr-defined]
    if _has(request, "zones") and len(request.zones):  # type: ignore[attr-defined]
        resource["zones"] = list(request.zones)  # type: ignore[attr-defined]
    if _has(request, "scope") and request.HasField("scope"):
        scope = request.scope  # type: ignore[attr-defined]
        cameras.extend(scope.camera_ids)
        if scope.zone:
            resource["zone"] = scope.zone
        if scope.HasField("time"):
            _time_range(scope.time, resource)
    if _has(request, "time") and request.DESCRIPTOR.fields_by_name["time"].message_type is not None \
            and request.HasField("time"):
        _time_range(request.time, resource)  # type: ignore[attr-defined]
    expires: Any = None
    entry: Any = request.entry if _has(request, "entry") and request.HasField("entry") else None  # type: ignore[attr-defined]
    if _has(request, "expires") and request.HasField("expires"):
        expires = request.expires  # type: ignore[attr-defined]
    elif entry is not None and _has(entry, "expires"):
        expires = entry.expires
    if expires is not None and _timestamp_iso(expires):
        resource["entry_expires"] = _timestamp_iso(expires)
    for name in ("watchlist_id", "alert_id", "snapshot_id"):
        if _has(request, name) and getattr(request, name):
            resource[name.removesuffix("_id") if name != "snapshot_id" else name] = getattr(request, name)
    if cameras:
        resource["cameras"] = sorted(set(cameras))
    return resource


def context_from_request(request: Message, *, source_ip: str = "", now: datetime | None = None
                         ) -> dict[str, Any]:
    """Purpose, case and authorization from the request's `access` field, plus time and source."""
    context: dict[str, Any] = {
        "time": (now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if now else utc_now_iso()),
        "source_ip": source_ip,
    }
    if not (_has(request, "access") and request.HasField("access")):
        return context
    access = request.access  # type: ignore[attr-defined]
    if access.purpose:
        context["purpose"] = access.purpose
    if access.case_id:
        context["case_id"] = access.case_id
    if access.HasField("authorization") and access.authorization.id:
        auth = access.authorization
        context["authorization"] = {
            "id": auth.id,
            "issued_by": auth.issued_by,
            "scope": {"zones": list(auth.scope_zones), "cameras": list(auth.scope_cameras)},
            "expires": _timestamp_iso(auth.expires),
        }
    return context


def policy_input(subject: dict[str, Any], action: str, resource: dict[str, Any],
                 context: dict[str, Any]) -> dict[str, Any]:
    """The document the policy decides on (DESIGN §3)."""
    return {"subject": subject, "action": action, "resource": resource, "context": context}


def _repeated_message_fields(message: Message) -> list[str]:
    return [f.name for f in message.DESCRIPTOR.fields
            if f.is_repeated and f.message_type is not None
            and not f.message_type.GetOptions().map_entry]


def result_count(response: Message) -> int:
    """How many results a response carries: items of its top-level repeated message fields, else 1."""
    fields = _repeated_message_fields(response)
    if not fields:
        return 1
    return sum(len(getattr(response, name)) for name in fields)


def _clear_path(message: Message, path: list[str]) -> int:
    head, rest = path[0], path[1:]
    if head not in message.DESCRIPTOR.fields_by_name:
        return 0
    field = message.DESCRIPTOR.fields_by_name[head]
    if not rest:
        message.ClearField(head)
        return 1
    if field.message_type is None:
        return 0
    if field.is_repeated:
        return sum(_clear_path(item, rest) for item in getattr(message, head))
    if not message.HasField(head):
        return 0
    return _clear_path(getattr(message, head), rest)


def apply_response_obligations(response: Message, obligations: dict[str, Any]) -> dict[str, Any]:
    """Apply the generic obligations (max_results, redact_fields) in place; return what was applied.

    Domain obligations (mask_faces, mask_plates) are applied by the servicer that knows the images.
    """
    applied: dict[str, Any] = {}
    limit = obligations.get("max_results")
    if isinstance(limit, int) and limit >= 0:
        for name in _repeated_message_fields(response):
            items = getattr(response, name)
            if len(items) > limit:
                del items[limit:]
                applied["max_results"] = limit
    for dotted in obligations.get("redact_fields") or []:
        if _clear_path(response, str(dotted).split(".")):
            applied.setdefault("redact_fields", []).append(dotted)
    return applied
