"""Policy edits are acts like any other: authenticated, authorised (`policy.edit`) and logged.

The REST API's writes (`PUT|DELETE /v1/policies/...`, `PUT|PATCH|DELETE /v1/data/...`) pass the
same gate as every RPC (basira.common.gate): the bearer token names the privacy officer, the current
policy decides `policy.edit` on what is edited, a denial is logged and refused (HTTP 403), an
edit whose new revision fails its Rego tests is logged as refused, and an accepted one is logged,
with the revision it creates, before that revision is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from basira.common.access_record import utc_now_iso
from basira.common.auth import Subject
from basira.common.errors import Unauthenticated, Unavailable
from basira.common.gate import ANONYMOUS, Gate
from basira.common.policy_client import Decision, normalise_policy_input, parse_decision
from basira.policy.engine import PolicyEvalError
from basira.policy.store import PolicyStore

EDIT_ACTION = "policy.edit"


@dataclass(frozen=True)
class Admission:
    subject: Subject
    decision: Decision
    resource: dict[str, Any]
    context: dict[str, Any]


@dataclass
class EditGate:
    """The gate of the policy service's writes (see the module docstring)."""

    gate: Gate

    async def admit(self, request: web.Request, resource: dict[str, Any]) -> Admission:
        """Authenticate and authorise an edit; raises Unauthenticated / PermissionDenied / Unavailable
        (each logged by the gate)."""
        context = {"time": utc_now_iso(), "source_ip": request.remote or ""}
        header = request.headers.get("Authorization")
        method = f"{request.method} {request.path}"
        try:
            subject = await self.gate.authenticate([("authorization", header)] if header else [])
        except Unauthenticated as error:
            await self.gate.record(self.gate.access_record(
                ANONYMOUS, EDIT_ACTION, resource, context, allowed=False,
                reasons=[f"unauthenticated: {error.message}"], method=method, status="UNAUTHENTICATED"))
            raise
        decision = await self.gate.authorise(subject, EDIT_ACTION, resource, context, method=method)
        return Admission(subject, decision, resource, context)

    async def refused(self, admission: Admission, request: web.Request, reason: str) -> None:
        """Log an authorised edit that the checks refused (it changed nothing)."""
        await self.gate.record(self.gate.access_record(
            admission.subject, EDIT_ACTION, admission.resource, admission.context, allowed=False,
            reasons=[reason], decision=admission.decision, method=f"{request.method} {request.path}",
            status="INVALID_ARGUMENT"))

    async def accepted(self, admission: Admission, request: web.Request, revision: str) -> None:
        """Log the edit, with the revision it creates, before that revision is served."""
        resource = {**admission.resource, "revision_to": revision}
        await self.gate.record(self.gate.access_record(
            admission.subject, EDIT_ACTION, resource, admission.context, allowed=True,
            decision=admission.decision, method=f"{request.method} {request.path}"))


class StoreAuthorizer:
    """The policy service decides its own edits with the revision it serves (in process)."""

    def __init__(self, store: PolicyStore) -> None:
        self.store = store

    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        try:
            result = self.store.compiled.decide(normalise_policy_input(policy_input))
        except PolicyEvalError as error:
            raise Unavailable(f"policy evaluation failed: {error.message}") from None
        return parse_decision(result)
