"""Command room endpoints: the alert queue (list, live stream, acknowledge, confirm, reject, escalate),
the camera wall (cameras with health, live health stream, latest masked frame) and the map."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from basira.cli.session import bearer_metadata
from basira.console import sse
from basira.console.context import console_of
from basira.console.forward import opened_stream, stream_items
from basira.console.session import Session
from basira.console.wire import enum_value, json_answer, json_body, message_json, text, timestamp_text
from basira.v1 import alert_pb2, camera_pb2, search_pb2

MAX_CAMERA_PAGES = 100


def _zones_and_kinds(query: Any) -> tuple[list[str], list[int]]:
    zones = [z for z in query.getall("zone", []) if z]
    kinds = [enum_value(alert_pb2.AlertKind.DESCRIPTOR, k, "kind", "ALERT_KIND")
             for k in query.getall("kind", []) if k]
    return zones, kinds


async def list_alerts(request: web.Request) -> web.Response:
    console = console_of(request)
    session = console.signed_in(request)
    zones, kinds = _zones_and_kinds(request.query)
    reply = await console.backends.unary(console.backends.alerts.ListAlerts,
                                         alert_pb2.ListAlertsRequest(zones=zones, kinds=kinds),  # type: ignore[arg-type]
                                         await console.token(request, session))
    return json_answer({"alerts": [message_json(a) for a in reply.alerts],
                        "last_sequence": reply.last_sequence})


async def alert_stream(request: web.Request) -> web.StreamResponse:
    """SSE of the agency's alerts, resumed after Last-Event-ID (→ StreamAlerts.after_sequence)."""
    console = console_of(request)
    session = console.signed_in(request)
    after = sse.resume_point(request.headers, request.query)
    zones, kinds = _zones_and_kinds(request.query)
    token = await console.token(request, session)
    call = console.backends.alerts.StreamAlerts(
        alert_pb2.StreamAlertsRequest(zones=zones, kinds=kinds, after_sequence=after),  # type: ignore[arg-type]
        metadata=bearer_metadata(token))
    return await _relay(request, session, call, after,
                        lambda reply: sse.Item(reply.alert.sequence, "alert", message_json(reply.alert)))


async def _relay(request: web.Request, session: Session, call: Any, after: int,
                 to_item: Callable[[Any], sse.Item], first: bytes = b"") -> web.StreamResponse:
    """Relay a gRPC server stream as SSE once the gate admitted it (a refusal is an HTTP problem)."""
    console = console_of(request)
    try:
        await opened_stream(call)
        response = await sse.open_stream(request)
        if first:
            await response.write(first)

        async def items() -> AsyncIterator[sse.Item]:
            async for reply in stream_items(call):
                yield to_item(reply)

        await sse.relay(response, items(), after=after, stop=session.ended,
                        until_epoch=session.tokens.access_expires_at,
                        keepalive_s=console.settings.keepalive_s)
        return response
    finally:
        call.cancel()


async def _alert_action(request: web.Request, action: str) -> web.Response:
    console = console_of(request)
    session = console.signed_in(request)
    body = await json_body(request)
    alert_id = request.match_info["alert_id"]
    stub = console.backends.alerts
    message: Any
    if action == "acknowledge":
        method, message = stub.AcknowledgeAlert, alert_pb2.AcknowledgeAlertRequest(
            alert_id=alert_id, note=text(body, "note", max_len=2000))
    elif action == "confirm":
        method, message = stub.ConfirmMatch, alert_pb2.ConfirmMatchRequest(
            alert_id=alert_id, note=text(body, "note", max_len=2000))
    elif action == "reject":
        method, message = stub.RejectMatch, alert_pb2.RejectMatchRequest(
            alert_id=alert_id, reason=text(body, "reason", max_len=2000))
    else:
        target = text(body, "to_agency", max_len=64) or text(body, "escalate_to", required=True, max_len=64)
        method, message = stub.EscalateAlert, alert_pb2.EscalateAlertRequest(
            alert_id=alert_id, escalate_to=target,
            note=text(body, "reason", max_len=2000) or text(body, "note", max_len=2000))
    reply = await console.backends.unary(method, message, await console.token(request, session))
    return json_answer({"alert": message_json(reply.alert)})


async def acknowledge(request: web.Request) -> web.Response:
    return await _alert_action(request, "acknowledge")


async def confirm(request: web.Request) -> web.Response:
    return await _alert_action(request, "confirm")


async def reject(request: web.Request) -> web.Response:
    return await _alert_action(request, "reject")


async def escalate(request: web.Request) -> web.Response:
    return await _alert_action(request, "escalate")


async def _all_cameras(request: web.Request, zone: str = "") -> list[camera_pb2.Camera]:
    console = console_of(request)
    session = console.signed_in(request)
    cameras: list[camera_pb2.Camera] = []
    page_token = ""
    for _ in range(MAX_CAMERA_PAGES):
        reply = await console.backends.unary(
            console.backends.cameras.ListCameras,
            camera_pb2.ListCamerasRequest(zone=zone, page={"page_size": 1000, "page_token": page_token}),
            await console.token(request, session))
        cameras.extend(reply.cameras)
        page_token = reply.page.next_page_token
        if not page_token:
            break
    return cameras


async def cameras(request: web.Request) -> web.Response:
    """Every camera the person's agreement grants, each with its current health (null if none)."""
    console = console_of(request)
    session = console.signed_in(request)
    zone = request.query.get("zone", "")
    listed = await _all_cameras(request, zone)
    health = await console.backends.unary(console.backends.cameras.ListCameraHealth,
                                          camera_pb2.ListCameraHealthRequest(zone=zone),
                                          await console.token(request, session))
    by_camera = {h.camera_id: message_json(h) for h in health.cameras}
    return json_answer({"cameras": [{**message_json(c), "health": by_camera.get(c.id)} for c in listed],
                        "health_watermark": health.watermark})


async def health_stream(request: web.Request) -> web.StreamResponse:
    """SSE of camera health: a `snapshot` event (unless resuming), then every change."""
    console = console_of(request)
    session = console.signed_in(request)
    after = sse.resume_point(request.headers, request.query)
    zones = [z for z in request.query.getall("zone", []) if z]
    token = await console.token(request, session)
    snapshot: dict[str, Any] | None = None
    if after == 0:
        listed = await console.backends.unary(console.backends.cameras.ListCameraHealth,
                                              camera_pb2.ListCameraHealthRequest(
                                                  zone=zones[0] if len(zones) == 1 else ""), token)
        snapshot = {"cameras": [message_json(h) for h in listed.cameras if not zones or h.zone in zones]}
        after = listed.watermark
    call = console.backends.cameras.StreamCameraHealth(
        camera_pb2.StreamCameraHealthRequest(zones=zones, after_sequence=after),
        metadata=bearer_metadata(token))
    return await _relay(request, session, call, after,
                        lambda reply: sse.Item(reply.update.sequence, "health", message_json(reply.update)),
                        sse.frame("snapshot", snapshot, after) if snapshot is not None else b"")


async def snapshot(request: web.Request) -> web.Response:
    """The camera's latest analysed frame, masked as policy requires (JPEG)."""
    console = console_of(request)
    session = console.signed_in(request)
    reply = await console.backends.unary(
        console.backends.search.GetCameraPreview,
        search_pb2.GetCameraPreviewRequest(camera_id=request.match_info["camera_id"]),
        await console.token(request, session))
    return web.Response(body=reply.image, content_type="image/jpeg", headers={
        "Cache-Control": "no-store", "X-Basira-Captured": timestamp_text(reply.captured),
        "X-Basira-Faces-Masked": str(reply.faces_masked).lower(),
        "X-Basira-Plates-Masked": str(reply.plates_masked).lower()})


async def city_map(request: web.Request) -> web.Response:
    """Zones (with their cameras) and camera positions, for an offline SVG plan."""
    listed = await _all_cameras(request)
    zones: dict[str, list[str]] = {}
    for camera in listed:
        zones.setdefault(camera.zone, []).append(camera.id)
    return json_answer({"zones": [{"id": z, "cameras": ids} for z, ids in sorted(zones.items())],
                        "cameras": [message_json(c) for c in listed]})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/alerts", list_alerts),
        web.get("/api/alerts/stream", alert_stream),
        web.post("/api/alerts/{alert_id}/acknowledge", acknowledge),
        web.post("/api/alerts/{alert_id}/confirm", confirm),
        web.post("/api/alerts/{alert_id}/reject", reject),
        web.post("/api/alerts/{alert_id}/escalate", escalate),
        web.get("/api/cameras", cameras),
        web.get("/api/cameras/health/stream", health_stream),
        web.get("/api/cameras/{camera_id}/snapshot", snapshot),
        web.get("/api/map", city_map),
    ]
