"""Investigation endpoints: plate, face and sighting searches, trajectories, evidence (masked, unmasked
with a reason), and the evidence export bundle with the inclusion proofs of its access records."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from basira.console.context import console_of
from basira.console.problems import bad_request
from basira.console.wire import (
    access_context,
    context_from_headers,
    enum_value,
    form_context,
    form_fields,
    form_files,
    integer,
    json_answer,
    json_body,
    message_json,
    number,
    set_time,
    strings,
    text,
    timestamp_text,
)
from basira.v1 import audit_pb2, common_pb2, search_pb2

MAX_EXPORT_SNAPSHOTS = 50
BUNDLE_FORMAT = "basira-evidence-bundle/v1"


def _scope(body: Mapping[str, Any]) -> search_pb2.SearchScope:
    zones = strings(body, "zones") or ([text(body, "zone", max_len=64)] if body.get("zone") else [])
    if len(zones) > 1:
        raise bad_request("one zone at a time (zone or zones: [one])", "zones")
    scope = search_pb2.SearchScope(zone=zones[0] if zones else "",
                                   camera_ids=strings(body, "cameras") or strings(body, "camera_ids"))
    has_start = set_time(scope.time.start, body.get("time_from"), "time_from")
    has_end = set_time(scope.time.end, body.get("time_to"), "time_to")
    if not (has_start or has_end):
        scope.ClearField("time")
    return scope


def _page(body: Mapping[str, Any]) -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page_size=integer(body, "page_size", 0, maximum=1000),
                                  page_token=text(body, "page_token", max_len=500))


def _sightings(reply: Any) -> web.Response:
    page = getattr(reply, "page", None)
    return json_answer({"sightings": [message_json(s) for s in reply.sightings],
                        "next_page_token": page.next_page_token if page is not None else ""})


async def search_plates(request: web.Request) -> web.Response:
    console = console_of(request)
    body = await json_body(request)
    fuzzy = body.get("fuzzy") in (True, "true", "1")
    message = search_pb2.SearchPlatesRequest(
        plate=text(body, "plate", required=True, max_len=32),
        mode=search_pb2.PLATE_MATCH_MODE_FUZZY if fuzzy else search_pb2.PLATE_MATCH_MODE_EXACT,
        max_distance=number(body, "max_distance", 0.0), scope=_scope(body),
        access=access_context(body.get("context")), page=_page(body))
    return _sightings(await console.call(request, console.backends.search.SearchPlates, message))


async def search_faces(request: web.Request) -> web.Response:
    console = console_of(request)
    if not request.content_type.startswith("multipart/"):
        raise bad_request("send the face image as multipart/form-data (field `image`)", "image")
    form = await request.post()
    images = form_files(form, "image")
    if len(images) != 1 or not images[0]:
        raise bad_request("exactly one image file is needed in field `image`", "image")
    fields = form_fields(form)
    message = search_pb2.SearchFacesRequest(image=images[0], max_distance=number(fields, "max_distance"),
                                            scope=_scope(fields), access=form_context(form),
                                            page=_page(fields))
    return _sightings(await console.call(request, console.backends.search.SearchFaces, message))


async def list_sightings(request: web.Request) -> web.Response:
    console = console_of(request)
    body = await json_body(request)
    message = search_pb2.ListSightingsRequest(
        kind=enum_value(search_pb2.SightingKind.DESCRIPTOR, body.get("kind") or "plate", "kind",  # type: ignore[arg-type]
                        "SIGHTING_KIND"),
        scope=_scope(body), access=access_context(body.get("context")), page=_page(body))
    return _sightings(await console.call(request, console.backends.search.ListSightings, message))


async def trajectory(request: web.Request) -> web.Response:
    console = console_of(request)
    body = await json_body(request)
    message = search_pb2.GetTrajectoryRequest(
        plate=text(body, "plate", max_len=32),
        sighting_id=text(body, "sighting_id", max_len=200) or text(body, "face_sighting_id", max_len=200),
        scope=_scope(body), access=access_context(body.get("context")))
    if not message.plate and not message.sighting_id:
        raise bad_request("give a plate or a sighting_id to follow", "plate")
    return _sightings(await console.call(request, console.backends.search.GetTrajectory, message))


def _evidence_response(reply: search_pb2.GetEvidenceResponse) -> web.Response:
    return web.Response(body=reply.image, content_type="image/jpeg", headers={
        "Cache-Control": "no-store", "X-Basira-Faces-Masked": str(reply.faces_masked).lower(),
        "X-Basira-Plates-Masked": str(reply.plates_masked).lower(), "X-Basira-Camera": reply.camera_id,
        "X-Basira-Seen": timestamp_text(reply.seen)})


async def evidence(request: web.Request) -> web.Response:
    console = console_of(request)
    message = search_pb2.GetEvidenceRequest(snapshot_id=request.match_info["snapshot_id"],
                                            access=context_from_headers(request.headers))
    return _evidence_response(await console.call(request, console.backends.search.GetEvidence, message))


async def unmask(request: web.Request) -> web.Response:
    """The unmasked evidence, as far as policy grants; a logged act that carries the person's reason."""
    console = console_of(request)
    body = await json_body(request)
    message = search_pb2.GetEvidenceRequest(snapshot_id=request.match_info["snapshot_id"], unmask=True,
                                            reason=text(body, "reason", required=True, max_len=500),
                                            access=access_context(body.get("context")))
    if not message.reason.strip():
        raise bad_request("reason is required to unmask evidence", "reason")
    return _evidence_response(await console.call(request, console.backends.search.GetEvidence, message))


def _hex_record(record: audit_pb2.LoggedAccess) -> dict[str, Any]:
    return {"index": record.index, "leaf_hash": record.leaf_hash.hex(), "record_json": record.record_json}


def tree_head_json(head: audit_pb2.SignedTreeHead) -> dict[str, Any]:
    """The signed tree head as the verifiers read it (`SignedTreeHead.to_dict` of basira.audit.sth)."""
    return {"log_id": head.log_id, "tree_size": head.tree_size, "root_hash": head.root_hash.hex(),
            "timestamp": head.timestamp_ms, "signature": base64.b64encode(head.signature).decode()}


async def export_evidence(request: web.Request) -> web.Response:
    """The evidence bundle: masked images, their access records, inclusion proofs, signed tree head."""
    console = console_of(request)
    session = console.signed_in(request)
    body = await json_body(request)
    ids = strings(body, "snapshot_ids")
    if not ids:
        raise bad_request("snapshot_ids names the evidence to export", "snapshot_ids")
    if len(ids) > MAX_EXPORT_SNAPSHOTS:
        raise bad_request(f"at most {MAX_EXPORT_SNAPSHOTS} snapshots per bundle", "snapshot_ids")
    context = access_context(body.get("context"))
    recipients = strings(body, "recipients") or [session.agency]
    items = []
    for snapshot_id in ids:
        reply = await console.call(request, console.backends.search.GetEvidence,
                            search_pb2.GetEvidenceRequest(snapshot_id=snapshot_id, access=context))
        items.append({"snapshot_id": snapshot_id, "camera_id": reply.camera_id,
                      "seen": timestamp_text(reply.seen),
                      "faces_masked": reply.faces_masked, "plates_masked": reply.plates_masked,
                      "image_jpeg_b64": base64.b64encode(reply.image).decode()})
    proof = await console.call(request, console.backends.audit.ProveAccess,
                        audit_pb2.ProveAccessRequest(snapshot_ids=ids, recipients=recipients, access=context))
    bundle = {
        "format": BUNDLE_FORMAT,
        "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "exported_by": {"user": session.user, "agency": session.agency},
        "context": message_json(context), "recipients": recipients, "evidence": items,
        "access_records": [_hex_record(r) for r in proof.records],
        "inclusion_proofs": [{"index": p.index, "tree_size": p.tree_size, "leaf_hash": p.leaf_hash.hex(),
                              "proof": [h.hex() for h in p.proof]} for p in proof.proofs],
        "tree_head": tree_head_json(proof.tree_head), "public_key_pem": proof.public_key_pem,
    }
    case = re.sub(r"[^A-Za-z0-9-]", "", context.case_id) or "case"
    response = json_answer(bundle)
    response.headers["Content-Disposition"] = f'attachment; filename="basira-evidence-{case}.json"'
    return response


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/search/plates", search_plates),
        web.post("/api/search/faces", search_faces),
        web.post("/api/search/sightings", list_sightings),
        web.post("/api/search/trajectory", trajectory),
        web.post("/api/evidence/export", export_evidence),
        web.get("/api/evidence/{snapshot_id}", evidence),
        web.post("/api/evidence/{snapshot_id}/unmask", unmask),
    ]

