"""Oversight endpoints: the access-log browser (filters, keyset paging), the signed tree head and the
log's public key (for WebCrypto), inclusion and consistency proofs, and the export for offline
verification. Hashes are lowercase hex, as the verifiers read them."""

from __future__ import annotations

import base64
import json
from typing import Any

import grpc
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from basira.cli.session import bearer_metadata
from basira.console.context import console_of
from basira.console.forward import raise_if_failed
from basira.console.investigations import tree_head_json
from basira.console.problems import Problem, bad_request, from_rpc_error
from basira.console.wire import access_context, integer, json_answer, json_body, set_time, strings, text
from basira.v1 import audit_pb2

DECISIONS = {"": audit_pb2.ACCESS_DECISION_UNSPECIFIED, "allowed": audit_pb2.ACCESS_DECISION_ALLOWED,
             "denied": audit_pb2.ACCESS_DECISION_DENIED}


def _record(entry: audit_pb2.LoggedAccess) -> dict[str, Any]:
    try:
        parsed = json.loads(entry.record_json)
    except ValueError:
        parsed = None
    return {"index": entry.index, "leaf_hash": entry.leaf_hash.hex(), "record_json": entry.record_json,
            "record": parsed}


async def records(request: web.Request) -> web.Response:
    query = request.query
    decision = query.get("decision", "").lower()
    if decision not in DECISIONS:
        raise bad_request("decision must be allowed or denied", "decision")
    order = query.get("order", "desc").lower()
    message = audit_pb2.QueryAccessLogRequest(
        user=text(query, "user", max_len=200), agency=text(query, "agency", max_len=64),
        action=text(query, "action", max_len=100), case_id=text(query, "case_id", max_len=200),
        authorization_id=text(query, "authorization_id", max_len=200), decision=DECISIONS[decision],
        newest_first=order != "asc",
        page={"page_size": integer(query, "page_size", 100, minimum=1, maximum=1000),
              "page_token": text(query, "page_token", max_len=100)})
    has_start = set_time(message.time.start, query.get("time_from"), "time_from")
    has_end = set_time(message.time.end, query.get("time_to"), "time_to")
    if not (has_start or has_end):
        message.ClearField("time")
    console = console_of(request)
    reply = await console.call(request, console.backends.audit.QueryAccessLog, message)
    return json_answer({"records": [_record(r) for r in reply.records],
                        "next_page_token": reply.page.next_page_token})


async def tree_head(request: web.Request) -> web.Response:
    size = integer(request.query, "tree_size", 0)
    console = console_of(request)
    reply = await console.call(request, console.backends.audit.GetTreeHead,
                               audit_pb2.GetTreeHeadRequest(tree_size=size))
    return json_answer(tree_head_json(reply.tree_head))


async def public_key(request: web.Request) -> web.Response:
    console = console_of(request)
    reply = await console.call(request, console.backends.audit.GetTreeHead, audit_pb2.GetTreeHeadRequest())
    if not reply.public_key_pem:
        raise Problem(503, "unavailable", "Service unavailable", "the access log has no signing key yet")
    key = serialization.load_pem_public_key(reply.public_key_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise Problem(500, "internal", "Internal error", "the access log's key is not Ed25519")
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return json_answer({"algorithm": "Ed25519", "public_key_pem": reply.public_key_pem,
                        "spki_b64": base64.b64encode(spki).decode(),
                        "raw_b64": base64.b64encode(raw).decode()})


async def inclusion_proof(request: web.Request) -> web.Response:
    query = request.query
    console = console_of(request)
    message = audit_pb2.GetInclusionProofRequest(index=integer(query, "index", 0),
                                                 tree_size=integer(query, "tree_size", 0))
    reply = await console.call(request, console.backends.audit.GetInclusionProof, message)
    return json_answer({"index": reply.index, "tree_size": reply.tree_size,
                        "leaf_hash": reply.leaf_hash.hex(),
                        "proof": [h.hex() for h in reply.proof]})


async def consistency_proof(request: web.Request) -> web.Response:
    query = request.query
    first, second = integer(query, "from_size", 0), integer(query, "to_size", 0)
    console = console_of(request)
    message = audit_pb2.GetConsistencyProofRequest(first_size=first, second_size=second)
    reply = await console.call(request, console.backends.audit.GetConsistencyProof, message)
    return json_answer({"from_size": first, "to_size": second, "proof": [h.hex() for h in reply.proof]})


async def export(request: web.Request) -> web.StreamResponse:
    """The whole log up to a signed size as JSON lines, streamed; the export is a logged act."""
    console = console_of(request)
    session = console.signed_in(request)
    body = await json_body(request)
    recipients = strings(body, "recipients")
    if not recipients:
        raise bad_request("recipients names who receives the export (logged with it)", "recipients")
    size = integer(body, "tree_size", 0)
    message = audit_pb2.ExportLogRequest(recipients=recipients, from_index=integer(body, "from_index", 0),
                                         tree_size=size, access=access_context(body.get("context")))
    token = await console.token(request, session)
    call = console.backends.audit.ExportLog(message, metadata=bearer_metadata(token))
    try:
        try:
            first = await call.read()
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc
        if first is grpc.aio.EOF:  # type: ignore[attr-defined]
            await raise_if_failed(call)
        response = web.StreamResponse(headers={
            "Content-Type": "application/x-ndjson",
            "Content-Disposition": f'attachment; filename="basira-access-log-{size or "latest"}.jsonl"',
            "Cache-Control": "no-store"})
        await response.prepare(request)
        if first is not grpc.aio.EOF:  # type: ignore[attr-defined]
            await response.write(first.chunk)
            async for reply in call:
                await response.write(reply.chunk)
        await response.write_eof()
        return response
    finally:
        call.cancel()


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/audit/records", records),
        web.get("/api/audit/tree-head", tree_head),
        web.get("/api/audit/public-key", public_key),
        web.get("/api/audit/proofs/inclusion", inclusion_proof),
        web.get("/api/audit/proofs/consistency", consistency_proof),
        web.post("/api/audit/export", export),
    ]
