"""The gate every RPC and every act passes (DESIGN §3): authenticate, authorise, audit, obligations.

Written once, installed as a gRPC server interceptor in every service. Fail closed: no identity, no
policy answer or no audit append means no data.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from google.protobuf import any_pb2, descriptor_pool, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from basira.common.access_record import AccessRecord, utc_now_iso
from basira.common.auth import Subject
from basira.common.db import database_down
from basira.common.errors import (
    BasiraError,
    InternalError,
    InvalidInput,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from basira.common.logs import request_fields
from basira.common.metrics import GATE_DECISIONS, RPC_SECONDS, RPC_TOTAL
from basira.common.policy_client import Decision
from basira.common.policy_input import (
    apply_response_obligations,
    context_from_request,
    policy_input,
    resource_from_request,
    result_count,
)
from basira.common.rate_limits import FAILED_AUTHENTICATION, Admission, RateLimits
from basira.common.request_bounds import decode_request
from basira.v1 import options_pb2

log = logging.getLogger(__name__)

current_subject: contextvars.ContextVar[Subject | None] = contextvars.ContextVar("subject", default=None)
current_decision: contextvars.ContextVar[Decision | None] = contextvars.ContextVar("decision", default=None)
current_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "policy_context", default=None)

ANONYMOUS = Subject(user="anonymous", agency="", roles=(), clearance=0)
EXEMPT_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


class Verifier(Protocol):
    async def verify(self, token: str) -> Subject: ...


class Authorizer(Protocol):
    async def decide(self, policy_input: dict[str, Any]) -> Decision: ...


class AuditSink(Protocol):
    async def append(self, record: AccessRecord) -> None: ...


ResourceResolver = Callable[[Message, Subject, dict[str, Any]], Awaitable[dict[str, Any]]]


class PolicyDenied(PermissionDenied):
    """A denial by the policy; carries its reasons and revision into the status details."""

    def __init__(self, action: str, reasons: Sequence[str], revision: str) -> None:
        super().__init__(f"{action} denied: " + "; ".join(reasons))
        self.reasons, self.revision = list(reasons), revision


@dataclass(frozen=True)
class AccessRule:
    action: str
    data_class: str
    changes_state: bool = False


_RULES: dict[str, AccessRule] = {}


def access_rule(full_method: str) -> AccessRule | None:
    """The `(basira.v1.access)` option of `/pkg.Service/Method`, or None if it has none.

    Found rules are kept (the gate asks on every call; a descriptor's options never change), a
    missing one is looked up again (its contract may not have been imported yet)."""
    rule = _RULES.get(full_method)
    if rule is None:
        rule = _lookup_access_rule(full_method)
        if rule is not None:
            _RULES[full_method] = rule
    return rule


def _lookup_access_rule(full_method: str) -> AccessRule | None:
    service, _, method = full_method.lstrip("/").rpartition("/")
    try:
        descriptor = descriptor_pool.Default().FindMethodByName(f"{service}.{method}")
    except KeyError:
        return None
    options = descriptor.GetOptions()
    extension: Any = options_pb2.access
    if not options.HasExtension(extension):
        return None
    rule: options_pb2.AccessRule = options.Extensions[extension]
    return AccessRule(rule.action, rule.data_class, rule.changes_state)


def status_for(error: BasiraError, *, reasons: Sequence[str] = (), revision: str = "") -> grpc.Status:
    """A rich gRPC status: the code, a message a person can act on, and ErrorInfo/BadRequest details."""
    detail = any_pb2.Any()
    if isinstance(error, RateLimited):
        wait = duration_pb2.Duration()
        wait.FromNanoseconds(int(error.retry_after_s * 1e9))
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=wait))
    elif isinstance(error, InvalidInput) and error.field:
        detail.Pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=error.field, description=error.message)]))
    else:
        metadata = {"reasons": "; ".join(reasons)} if reasons else {}
        if revision:
            metadata["policy_revision"] = revision
        detail.Pack(error_details_pb2.ErrorInfo(reason=error.code.name, domain="basira", metadata=metadata))
    return rpc_status.to_status(status_pb2.Status(code=error.code.value[0], message=error.message,
                                                  details=[detail]))


def bearer_token(metadata: Sequence[tuple[str, str | bytes]] | None) -> str:
    """The token of the `authorization: Bearer …` metadata entry; raises Unauthenticated if absent."""
    for key, value in metadata or ():
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            raise Unauthenticated("the authorization metadata must be 'Bearer <access token>'")
    raise Unauthenticated("no access token: send metadata 'authorization: Bearer <token>'")


@dataclass
class Gate:
    """Authentication, policy and audit for one service; used by the interceptor and for non-RPC acts."""

    service: str
    verifier: Verifier
    authorizer: Authorizer
    audit: AuditSink
    resolvers: dict[str, ResourceResolver] = field(default_factory=dict)
    limits: RateLimits = field(default_factory=RateLimits)

    async def authenticate(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> Subject:
        return await self.verifier.verify(bearer_token(metadata))

    async def record(self, record: AccessRecord) -> None:
        """Append to the access log; any failure becomes Unavailable (the caller gets no data)."""
        try:
            await self.audit.append(record)
        except Exception as exc:
            log.error("audit append failed: failing closed", extra={"action": record.action})
            raise Unavailable("the access log cannot record this request right now; no data was "
                              "returned (retry later)") from exc

    def access_record(self, subject: Subject, action: str, resource: dict[str, Any],
                      context: dict[str, Any], *, allowed: bool, reasons: Sequence[str] = (),
                      decision: Decision | None = None, method: str = "", status: str = "OK",
                      **extra: Any) -> AccessRecord:
        """The record of one access as DESIGN §4 lists its fields (not yet appended)."""
        authorization = context.get("authorization") or {}
        return AccessRecord(
            action=action, user=subject.user, agency=subject.agency, roles=list(subject.roles),
            allowed=allowed, reasons=list(reasons), resource=resource,
            purpose=context.get("purpose", ""), case_id=context.get("case_id", ""),
            authorization_id=authorization.get("id", ""),
            obligations=dict(decision.obligations) if decision else {},
            policy_revision=decision.revision if decision else "", service=self.service,
            method=method, status=status, source_ip=context.get("source_ip", ""), **extra,
        )

    async def authorise(self, subject: Subject, action: str, resource: dict[str, Any],
                        context: dict[str, Any], *, method: str = "") -> Decision:
        """Ask policy; a denial or an unreachable policy is logged, then raised (fail closed)."""
        try:
            decision = await self.authorizer.decide(policy_input(subject.to_policy(), action, resource,
                                                                 context))
        except InvalidInput as exc:
            GATE_DECISIONS.labels(action, "invalid_input").inc()
            await self.record(self.access_record(subject, action, resource, context, allowed=False,
                                           reasons=[f"invalid request: {exc.message}"], method=method,
                                           status="INVALID_ARGUMENT"))
            raise
        except Unavailable as exc:
            GATE_DECISIONS.labels(action, "policy_unavailable").inc()
            await self.record(self.access_record(subject, action, resource, context, allowed=False,
                                           reasons=[f"policy unavailable: {exc.message}"],
                                           method=method, status="UNAVAILABLE"))
            raise Unavailable("the policy service cannot decide right now; access denied (fail "
                              "closed)") from exc
        if not decision.allow:
            GATE_DECISIONS.labels(action, "deny").inc()
            reasons = decision.deny or ["denied by default: no rule allows this"]
            await self.record(self.access_record(subject, action, resource, context, allowed=False,
                                           reasons=reasons, decision=decision, method=method,
                                           status="PERMISSION_DENIED"))
            raise PolicyDenied(action, reasons, decision.revision)
        GATE_DECISIONS.labels(action, "allow").inc()
        return decision

    async def authorize_act(self, subject: Subject, action: str, resource: dict[str, Any],
                            context: dict[str, Any], **record_fields: Any) -> Decision:
        """The gate for non-RPC acts (a match becoming an alert, an unmasking, an export, a purge).

        Logs the act whether allowed or denied; raises PermissionDenied / Unavailable when not allowed.
        """
        decision = await self.authorise(subject, action, resource, context)
        await self.record(self.access_record(subject, action, resource, context, allowed=True,
                                       decision=decision, **record_fields))
        return decision

    async def resolve(self, full_method: str, request: Message, subject: Subject,
                      rule: AccessRule) -> dict[str, Any]:
        resource = resource_from_request(request, rule.data_class)
        resolver = self.resolvers.get(full_method)
        if resolver is not None:
            resource.update(await resolver(request, subject, resource))
        return resource


def _peer_ip(context: grpc.aio.ServicerContext) -> str:
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    if kind in ("ipv4", "ipv6"):
        return rest.rsplit(":", 1)[0].strip("[]")
    return peer


class GateInterceptor(grpc.aio.ServerInterceptor):
    """Runs the gate around every RPC that has an access rule; RPCs without one are refused."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        method = details.method
        if handler is None or method.startswith(EXEMPT_PREFIXES):
            return handler
        rule = access_rule(method)
        # Requests arrive as bytes and are parsed and bounded here, so a malformed or oversize one
        # is refused with INVALID_ARGUMENT and logged, instead of failing inside gRPC unlogged.
        parse = handler.request_deserializer
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, method, rule, parse),
                response_serializer=handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._server_stream(handler.unary_stream, method, rule, parse),
                response_serializer=handler.response_serializer)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._client_stream(handler.stream_unary, method, rule, parse),
                response_serializer=handler.response_serializer)
        # A kind the gate cannot admit message by message (bidirectional streams): refused, logged.
        return grpc.stream_stream_rpc_method_handler(self._refused_stream(method, rule),
                                                     response_serializer=handler.response_serializer)

    async def _parse(self, parse: Any, raw: bytes, method: str, rule: AccessRule | None,
                     context: grpc.aio.ServicerContext) -> Message:
        """The request, parsed and bounded; an invalid one is logged (who, the field and its size,
        none of its content) and raised as InvalidInput."""
        try:
            return decode_request(parse, raw)
        except InvalidInput as exc:
            await self._record_refusal(method, rule, context, f"invalid request: {exc.message}",
                                       "INVALID_ARGUMENT")
            raise

    async def _record_refusal(self, method: str, rule: AccessRule | None, context: grpc.aio.ServicerContext,
                              reason: str, status: str) -> None:
        """Log a request refused before the policy: the caller if its token verifies, else anonymous."""
        try:
            subject = await self.gate.authenticate(context.invocation_metadata())  # type: ignore[arg-type]
        except Unauthenticated:
            subject = ANONYMOUS
        action = rule.action if rule else f"unmapped:{method}"
        await self.gate.record(self.gate.access_record(
            subject, action, {}, {"time": utc_now_iso(), "source_ip": _peer_ip(context)}, allowed=False,
            reasons=[reason], method=method, status=status))

    def _refused_stream(self, method: str, rule: AccessRule | None) -> Any:
        async def refused(request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> None:
            error: BasiraError = Unimplemented("bidirectional streams are not admitted by the gate; refused")
            try:
                await self._record_refusal(method, rule, context, error.message, "UNIMPLEMENTED")
            except BasiraError as exc:
                error = exc
            await self._abort(context, method, error)

        return refused

    async def _authenticate(self, method: str, rule: AccessRule | None, context: grpc.aio.ServicerContext,
                            policy_context: dict[str, Any]) -> Subject:
        """The caller's Subject; an unauthenticated call is logged, then refused."""
        action = rule.action if rule else f"unmapped:{method}"
        try:
            return await self.gate.authenticate(context.invocation_metadata())  # type: ignore[arg-type]
        except Unauthenticated as exc:
            source = policy_context.get("source_ip") or "an unknown address"
            admission, retry_s = self.gate.limits.failed_authentication(source)
            if admission is Admission.ALLOWED:
                await self.gate.record(self.gate.access_record(
                    ANONYMOUS, action, {}, policy_context, allowed=False,
                    reasons=[f"unauthenticated: {exc.message}"], method=method, status="UNAUTHENTICATED"))
                raise
            limit = self.gate.limits.describe(FAILED_AUTHENTICATION)
            raise await self._over_limit(
                admission, ANONYMOUS, action, method, policy_context,
                [f"rate limited: failed authentications from {source} over {limit}; further failures "
                 "from it are refused without a record each until it slows down",
                 f"unauthenticated: {exc.message}"],
                RateLimited(f"too many failed authentications from {source} ({limit}); retry in "
                            f"{retry_s:.0f} s with a valid token", retry_s)) from exc

    async def _admit(self, method: str, rule: AccessRule | None, request: Message,
                     context: grpc.aio.ServicerContext, subject: Subject | None = None
                     ) -> tuple[Subject, Decision, dict[str, Any], dict[str, Any]]:
        """Authenticate (unless done) and authorise one call; a refusal is logged and raised."""
        policy_context = context_from_request(request, source_ip=_peer_ip(context))
        action = rule.action if rule else f"unmapped:{method}"
        if subject is None:
            subject = await self._authenticate(method, rule, context, policy_context)
        if rule is None:
            await self.gate.record(self.gate.access_record(
                subject, action, {}, policy_context, allowed=False,
                reasons=["this RPC has no access rule in its contract"], method=method,
                status="PERMISSION_DENIED"))
            raise PermissionDenied(f"{method} has no access rule; refused")
        await self._limit(method, rule, subject, policy_context)
        resource = await self.gate.resolve(method, request, subject, rule)
        decision = await self.gate.authorise(subject, rule.action, resource, policy_context, method=method)
        current_subject.set(subject)
        current_decision.set(decision)
        current_context.set(policy_context)
        request_fields.set({"user": subject.user, "agency": subject.agency, "action": rule.action})
        return subject, decision, resource, policy_context

    async def _limit(self, method: str, rule: AccessRule, subject: Subject,
                     policy_context: dict[str, Any]) -> None:
        """Hold back a user over the rate of an expensive action; the first refusal of a run is logged."""
        admission, retry_s = self.gate.limits.act(rule.action, subject.user)
        if admission is Admission.ALLOWED:
            return
        limit = self.gate.limits.describe(rule.action)
        raise await self._over_limit(
            admission, subject, rule.action, method, policy_context,
            [f"rate limited: {rule.action} by {subject.user} over {limit}; further calls are refused "
             "without a record each until the rate drops"],
            RateLimited(f"{rule.action}: more than {limit}; retry in {retry_s:.0f} s", retry_s))

    async def _over_limit(self, admission: Admission, subject: Subject, action: str, method: str,
                          policy_context: dict[str, Any], reasons: list[str], error: RateLimited
                          ) -> RateLimited:
        """Count a call refused by a rate limit and log the first refusal of its run (one record per
        flood, not one per attempt); returns the error to raise."""
        GATE_DECISIONS.labels(action, "rate_limited").inc()
        if admission is Admission.FIRST_REFUSAL:
            await self.gate.record(self.gate.access_record(
                subject, action, {}, policy_context, allowed=False, method=method,
                status="RESOURCE_EXHAUSTED", reasons=reasons))
        return error

    async def _abort(self, context: grpc.aio.ServicerContext, method: str, error: BasiraError) -> None:
        RPC_TOTAL.labels(method, error.code.name).inc()
        denied = error if isinstance(error, PolicyDenied) else None
        status = status_for(error, reasons=denied.reasons if denied else (),
                            revision=denied.revision if denied else "")
        await context.abort_with_status(status)  # type: ignore[attr-defined]

    def _unary(self, behavior: Any, method: str, rule: AccessRule | None, parse: Any) -> Any:
        async def guarded(raw: bytes, context: grpc.aio.ServicerContext) -> Message:
            started = time.perf_counter()
            decision: Decision | None = None
            try:
                request = await self._parse(parse, raw, method, rule, context)
                subject, decision, resource, policy_context = await self._admit(method, rule, request,
                                                                               context)
                assert rule is not None
                if rule.changes_state:
                    # Nothing may change unless the log can say who changed it: log the admission first.
                    await self.gate.record(self.gate.access_record(
                        subject, rule.action, resource, policy_context, allowed=True, decision=decision,
                        method=method, status="ADMITTED"))
                try:
                    response = await behavior(request, context)
                except BasiraError as exc:
                    await self.gate.record(self.gate.access_record(
                        subject, rule.action, resource, policy_context, allowed=True, decision=decision,
                        method=method, status=exc.code.name, reasons=[exc.message], result_count=0))
                    raise
                except Exception as exc:
                    down = database_down(exc)
                    await self.gate.record(self.gate.access_record(
                        subject, rule.action, resource, policy_context, allowed=True, decision=decision,
                        method=method, status="UNAVAILABLE" if down else "INTERNAL",
                        reasons=[down.message if down else f"servicer failed: {type(exc).__name__}"],
                        result_count=0))
                    if down is not None:
                        log.warning("database unavailable: %s", exc, extra={"method": method})
                        raise down from exc
                    log.exception("servicer failed", extra={"method": method})
                    raise InternalError("internal error; it has been logged") from exc
                apply_response_obligations(response, decision.obligations)
                await self.gate.record(self.gate.access_record(
                    subject, rule.action, resource, policy_context, allowed=True, decision=decision,
                    method=method, result_count=result_count(response)))
            except BasiraError as exc:
                await self._abort(context, method, exc)
                raise AssertionError("unreachable: abort raises") from exc
            finally:
                RPC_SECONDS.labels(method).observe(time.perf_counter() - started)
            RPC_TOTAL.labels(method, "OK").inc()
            return response

        return guarded

    def _server_stream(self, behavior: Any, method: str, rule: AccessRule | None, parse: Any) -> Any:
        async def guarded(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Message]:
            decision: Decision | None = None
            try:
                request = await self._parse(parse, raw, method, rule, context)
                subject, decision, resource, policy_context = await self._admit(method, rule, request,
                                                                               context)
                assert rule is not None
                await self.gate.record(self.gate.access_record(
                    subject, rule.action, resource, policy_context, allowed=True, decision=decision,
                    method=method))
                # Headers now: a client can tell "admitted, nothing to send yet" from "refused".
                await context.send_initial_metadata(())
                async for response in behavior(request, context):
                    apply_response_obligations(response, {k: v for k, v in decision.obligations.items()
                                                          if k != "max_results"})
                    yield response
            except BasiraError as exc:
                await self._abort(context, method, exc)
            RPC_TOTAL.labels(method, "OK").inc()

        return guarded

    def _client_stream(self, behavior: Any, method: str, rule: AccessRule | None, parse: Any) -> Any:
        async def guarded(request_iterator: AsyncIterator[bytes],
                          context: grpc.aio.ServicerContext) -> Message:
            decision: Decision | None = None
            try:
                caller = await self._authenticate(method, rule, context,
                                                  {"time": utc_now_iso(), "source_ip": _peer_ip(context)})
                first_raw = await anext(aiter(request_iterator), None)
                first = None if first_raw is None else await self._parse(parse, first_raw, method, rule,
                                                                         context)
                if first is None:
                    await self.gate.record(self.gate.access_record(
                        caller, rule.action if rule else f"unmapped:{method}", {}, {}, allowed=False,
                        reasons=["the stream sent no message"], method=method, status="INVALID_ARGUMENT"))
                    raise InvalidInput("the stream sent no message")
                subject, decision, resource, policy_context = await self._admit(method, rule, first,
                                                                               context, caller)
                assert rule is not None
                await self.gate.record(self.gate.access_record(
                    subject, rule.action, resource, policy_context, allowed=True, decision=decision,
                    method=method))

                async def chained() -> AsyncIterator[Message]:
                    yield first
                    async for item in request_iterator:
                        yield await self._parse(parse, item, method, rule, context)

                response = await behavior(chained(), context)
            except BasiraError as exc:
                await self._abort(context, method, exc)
                raise AssertionError("unreachable: abort raises") from exc
            RPC_TOTAL.labels(method, "OK").inc()
            return response

        return guarded

