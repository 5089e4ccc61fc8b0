"""The camera wall's latest frame as search serves it: read from the PREVIEWS stream (one per camera,
published by analytics with the plate boxes it found), then masked like evidence."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError, Message
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from basira.common.auth import Subject
from basira.search.domain import Rect
from basira.v1 import events_pb2

PREVIEW_STREAM = "PREVIEWS"


async def latest_preview(js: JetStreamContext, camera_id: str) -> events_pb2.CameraPreviewEvent | None:
    """The camera's last preview, or None if it has none (or the id cannot name a subject)."""
    if not camera_id or any(c in camera_id for c in ".*> \t"):
        return None
    try:
        raw = await js.get_last_msg(PREVIEW_STREAM, f"camera.preview.{camera_id}")
    except NotFoundError:
        return None
    try:
        return events_pb2.CameraPreviewEvent.FromString(raw.data or b"")
    except DecodeError:
        return None


def plate_rects(event: events_pb2.CameraPreviewEvent) -> list[Rect]:
    return [Rect(b.x, b.y, b.width, b.height) for b in event.plates if b.width > 0 and b.height > 0]


def preview_resolver(js: JetStreamContext) -> Any:
    """Resource resolver for GetCameraPreview: the camera's zone and owner as the preview names them."""

    async def resolve(request: Message, subject: Subject, resource: dict[str, Any]) -> dict[str, Any]:
        event = await latest_preview(js, getattr(request, "camera_id", ""))
        if event is None:
            return {}
        return {"zone": event.zone, "owner_agency": event.owner_agency, "cameras": [event.camera_id]}

    return resolve
