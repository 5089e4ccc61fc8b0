"""RFC 9457 problem details: from a gRPC status (with the gate's deny reasons) or from the console.

The gate packs a denial's reasons and policy revision into a `google.rpc.ErrorInfo` and a bad
field into a `google.rpc.BadRequest` in the status details (`grpc-status-details-bin`); this module
unpacks them into `{type, title, status, detail, reasons, policy_revision, field, grpc_status,
instance}`. A denied call's answer is this document and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import grpc
from aiohttp import web
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

PROBLEM_TYPE = "application/problem+json"
DETAILS_KEY = "grpc-status-details-bin"

# gRPC status → (HTTP status, type slug, title).
GRPC_TO_HTTP: dict[grpc.StatusCode, tuple[int, str, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "invalid-argument", "Invalid request"),
    grpc.StatusCode.OUT_OF_RANGE: (400, "out-of-range", "Out of range"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "failed-precondition", "Not possible in this state"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthenticated", "Not signed in"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "permission-denied", "Permission denied"),
    grpc.StatusCode.NOT_FOUND: (404, "not-found", "Not found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "already-exists", "Already exists"),
    grpc.StatusCode.ABORTED: (409, "aborted", "Conflict, try again"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (413, "resource-exhausted", "Too large or too many"),
    grpc.StatusCode.UNIMPLEMENTED: (501, "unimplemented", "Not implemented"),
    grpc.StatusCode.UNAVAILABLE: (503, "unavailable", "Service unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "deadline-exceeded", "Took too long"),
    grpc.StatusCode.CANCELLED: (502, "internal", "Call cancelled"),
}
_INTERNAL = (500, "internal", "Internal error")


def problem_type(slug: str) -> str:
    return f"urn:basira:problem:{slug}"


class Problem(Exception):
    """An error answered as application/problem+json."""

    def __init__(self, status: int, slug: str, title: str, detail: str, *, reasons: Sequence[str] = (),
                 policy_revision: str = "", field: str = "", grpc_status: str = "",
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.reasons = list(reasons) or [detail]
        self.policy_revision, self.field, self.grpc_status = policy_revision, field, grpc_status
        self.extra = dict(extra or {})

    def body(self, instance: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": problem_type(self.slug), "title": self.title, "status": self.status,
            "detail": self.detail, "reasons": self.reasons, "policy_revision": self.policy_revision,
            "field": self.field, "grpc_status": self.grpc_status, "instance": instance,
        }
        body.update(self.extra)
        return body

    def response(self, instance: str = "") -> web.Response:
        return web.Response(status=self.status, text=json.dumps(self.body(instance)),
                            content_type=PROBLEM_TYPE, charset="utf-8",
                            headers={"Cache-Control": "no-store"})


def bad_request(detail: str, field: str = "") -> Problem:
    return Problem(400, "bad-request", "Bad request", detail, field=field)


def not_signed_in(detail: str, login_url: str) -> Problem:
    return Problem(401, "unauthenticated", "Not signed in", detail, extra={"login_url": login_url})


def csrf_refused(detail: str) -> Problem:
    return Problem(403, "csrf", "Cross-site request refused", detail)


def _status_details(metadata: Sequence[tuple[str, str | bytes]] | None) -> status_pb2.Status | None:
    for key, value in metadata or ():
        if key == DETAILS_KEY and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except DecodeError:
                return None
    return None


def from_grpc(code: grpc.StatusCode, message: str,
              trailing: Sequence[tuple[str, str | bytes]] | None) -> Problem:
    """The problem for a failed gRPC call: HTTP status, reasons and revision, offending field."""
    status, slug, title = GRPC_TO_HTTP.get(code, _INTERNAL)
    reasons: list[str] = []
    revision = field = ""
    details = _status_details(trailing)
    for detail in details.details if details is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Is(info.DESCRIPTOR) and detail.Unpack(info):
            joined = info.metadata.get("reasons", "")
            reasons = [r for r in joined.split("; ") if r] if joined else []
            revision = info.metadata.get("policy_revision", "")
            continue
        bad = error_details_pb2.BadRequest()
        if detail.Is(bad.DESCRIPTOR) and detail.Unpack(bad) and bad.field_violations:
            field = bad.field_violations[0].field
    if slug == "internal":
        message = "the service failed; the error has been logged"
    return Problem(status, slug, title, message or title, reasons=reasons, policy_revision=revision,
                   field=field, grpc_status=code.name)


def from_rpc_error(error: grpc.aio.AioRpcError) -> Problem:
    return from_grpc(error.code(), error.details() or "", error.trailing_metadata())  # type: ignore[arg-type]
