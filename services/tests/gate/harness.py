"""The gate on real servers: dev issuer, policy service, NATS JetStream audit, gRPC with every contract.

Shared by the gate tests (through conftest.py) and `loadtests/bench_gate.py`, so this module has no
relative imports: the benchmark loads it by path. The servicers here are *recording stand-ins*: they
note that they were invoked (and by whom) and answer with generated sample data. That is on purpose:
the unit under test is the gate interceptor, not the services behind it, and the stand-ins make it
possible to prove "a denied call never reached the servicer" for every RPC of every contract.
What the gate asks the policy, though, must be what the real services make it ask: the services'
resource resolvers that need no database (SERVICE_RESOLVERS) are installed in the harness's gate.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from basira.common import gate as gate_module
from basira.common.access_record import AccessRecord
from basira.common.audit_sink import AUDIT_SUBJECT_PREFIX, JetStreamAuditSink
from basira.common.auth import TokenVerifier
from basira.common.gate import Gate, GateInterceptor, ResourceResolver
from basira.common.nats import connect, ensure_streams
from basira.common.policy_client import PolicyClient
from basira.common.rate_limits import RateLimits
from basira.identity import DEFAULT_REALM_FILE, IssuerApp, start_issuer
from basira.policy.api import start_server
from basira.policy.engine import load_policy_dir
from basira.policy.store import PolicyStore
from basira.search.servicer import sightings_resolver
from basira.v1 import (
    alert_pb2,
    alert_pb2_grpc,
    analytics_pb2,
    analytics_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    search_pb2,
    search_pb2_grpc,
    watchlist_pb2,
    watchlist_pb2_grpc,
)

REPO = Path(__file__).resolve().parents[3]
POLICY_DIR = REPO / "policy"
REALM = "basira"
AUDIENCE = "basira"

# The services' own resource resolvers that are pure (no store): the gate must judge with them, as it
# does in the services. Resolvers that look a resource up (a camera's zone, an alert's agency) need
# the service's database and are proven by that service's tests.
SERVICE_RESOLVERS: dict[str, ResourceResolver] = {
    "/basira.v1.SearchService/ListSightings": sightings_resolver,
}

# (descriptor module, generated grpc module) of every contract that declares services.
CONTRACTS: tuple[tuple[ModuleType, ModuleType], ...] = (
    (camera_pb2, camera_pb2_grpc),
    (analytics_pb2, analytics_pb2_grpc),
    (watchlist_pb2, watchlist_pb2_grpc),
    (search_pb2, search_pb2_grpc),
    (alert_pb2, alert_pb2_grpc),
    (audit_pb2, audit_pb2_grpc),
)


def contract_services() -> list[tuple[ServiceDescriptor, ModuleType]]:
    """Every service of the contracts with its generated grpc module, in declaration order."""
    return [(service, grpc_module) for pb2, grpc_module in CONTRACTS
            for service in pb2.DESCRIPTOR.services_by_name.values()]


def full_method(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def all_methods() -> list[MethodDescriptor]:
    return [method for service, _ in contract_services() for method in service.methods]


def message_class(descriptor: Any) -> type[Message]:
    return message_factory.GetMessageClass(descriptor)


# ---- sample data -------------------------------------------------------------------------------

_TIMESTAMP = "google.protobuf.Timestamp"
_SAMPLE_SECONDS = 1_767_225_600  # 2026-01-01T00:00:00Z


def _scalar(f: Any) -> Any:
    if f.type == FieldDescriptor.TYPE_STRING:
        return f"{f.name}-1"
    if f.type == FieldDescriptor.TYPE_BYTES:
        return b"\x01"
    if f.type == FieldDescriptor.TYPE_BOOL:
        return True
    if f.type == FieldDescriptor.TYPE_ENUM:
        values = f.enum_type.values
        return values[1].number if len(values) > 1 else values[0].number
    if f.cpp_type in (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE):
        return 0.5
    return 1


def fill(message: Message, items: int = 1, depth: int = 0) -> Message:
    """Set every field of `message` (recursively, 3 levels) to sample data; `items` per repeated field.

    Only the top level's repeated message fields get `items` entries; nested ones get one.
    """
    for f in message.DESCRIPTOR.fields:
        if f.message_type is not None:
            if f.message_type.GetOptions().map_entry or depth >= 3:
                continue
            count = items if f.is_repeated else 1
            for _ in range(count):
                child = getattr(message, f.name).add() if f.is_repeated else getattr(message, f.name)
                if f.message_type.full_name == _TIMESTAMP:
                    child.seconds = _SAMPLE_SECONDS
                else:
                    fill(child, 1, depth + 1)
                    if not f.is_repeated:
                        child.SetInParent()
        elif f.is_repeated:
            getattr(message, f.name).append(_scalar(f))
        else:
            setattr(message, f.name, _scalar(f))
    return message


# ---- recording servicers -----------------------------------------------------------------------

@dataclass(frozen=True)
class Invocation:
    """One time a servicer ran: which RPC, for whom (the gate's subject), with which obligations."""

    method: str
    user: str
    obligations: dict[str, Any]
    messages_in: int = 1


@dataclass
class Recorder:
    """What the stand-in servicers saw, and how they answer.

    `items[method]` sets how many entries each top-level repeated field of the answer holds (default 1;
    for a server stream, how many messages it sends); `raise_in[method]` makes that RPC raise.
    """

    invocations: list[Invocation] = field(default_factory=list)
    items: dict[str, int] = field(default_factory=dict)
    raise_in: dict[str, BaseException] = field(default_factory=dict)
    _templates: dict[tuple[str, int], Message] = field(default_factory=dict, repr=False)

    def hit(self, method: str, messages_in: int = 1) -> None:
        subject = gate_module.current_subject.get()
        decision = gate_module.current_decision.get()
        self.invocations.append(Invocation(
            method=method, user=subject.user if subject else "",
            obligations=dict(decision.obligations) if decision else {}, messages_in=messages_in))
        if method in self.raise_in:
            raise self.raise_in[method]

    def answer(self, method: MethodDescriptor, items: int | None = None) -> Message:
        """A fresh copy of the sample answer (the gate edits answers in place: obligations)."""
        count = self.items.get(full_method(method), 1) if items is None else items
        key = (full_method(method), count)
        if key not in self._templates:
            self._templates[key] = fill(message_class(method.output_type)(), count)
        answer = message_class(method.output_type)()
        answer.CopyFrom(self._templates[key])
        return answer

    def count(self, method: str | None = None, user: str | None = None) -> int:
        return sum(1 for i in self.invocations
                   if (method is None or i.method == method) and (user is None or i.user == user))


def _behaviour(method: MethodDescriptor, recorder: Recorder) -> Callable[..., Any]:
    name = full_method(method)
    if method.client_streaming:
        async def client_stream(self: Any, requests: AsyncIterator[Message], context: Any) -> Message:
            received = 0
            async for _ in requests:
                received += 1
            recorder.hit(name, received)
            return recorder.answer(method)
        return client_stream
    if method.server_streaming:
        async def server_stream(self: Any, request: Message, context: Any) -> AsyncIterator[Message]:
            recorder.hit(name)
            for _ in range(recorder.items.get(name, 1)):
                yield recorder.answer(method, 1)
        return server_stream

    async def unary(self: Any, request: Message, context: Any) -> Message:
        recorder.hit(name)
        return recorder.answer(method)
    return unary


def add_recording_servicers(server: grpc.aio.Server, recorder: Recorder) -> list[str]:
    """Register a recording servicer for every contract service through its generated add_ function."""
    names = []
    for service, grpc_module in contract_services():
        base = getattr(grpc_module, f"{service.name}Servicer")
        methods = {m.name: _behaviour(m, recorder) for m in service.methods}
        servicer = type(f"Recording{service.name}", (base,), methods)()
        getattr(grpc_module, f"add_{service.name}Servicer_to_server")(servicer, server)
        names.append(service.full_name)
    return names


# ---- the access log, read back from JetStream --------------------------------------------------

class AuditLog:
    """Reads the access records one gate appended (`audit.record.<service>` in the AUDIT stream)."""

    def __init__(self, js: JetStreamContext, service: str) -> None:
        self.js = js
        self.subject = AUDIT_SUBJECT_PREFIX + service

    async def mark(self) -> int:
        """The AUDIT stream's last sequence now; pass it to `since` to read what comes after."""
        return int((await self.js.stream_info("AUDIT")).state.last_seq or 0)

    async def since(self, mark: int) -> list[AccessRecord]:
        """Every record of this gate appended after `mark`, in order, through an ephemeral consumer."""
        sub = await self.js.pull_subscribe(
            self.subject, stream="AUDIT",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=mark + 1,
                                  ack_policy=AckPolicy.NONE, inactive_threshold=30.0))
        try:
            pending = int((await sub.consumer_info()).num_pending or 0)
            messages: list[Any] = []
            while len(messages) < pending:
                messages.extend(await sub.fetch(min(pending - len(messages), 256), timeout=5.0))
        finally:
            await sub.unsubscribe()
        return [AccessRecord.from_dict(json.loads(m.data)) for m in messages]


# ---- the whole harness -------------------------------------------------------------------------

@dataclass
class Harness:
    """Real issuer, policy service, NATS and gRPC server with the gate; see `start_harness`."""

    issuer: IssuerApp
    store: PolicyStore
    policy_port: int
    policy_runner: Any
    nc: NatsClient
    js: JetStreamContext
    gate: Gate
    server: grpc.aio.Server
    grpc_port: int
    channel: grpc.aio.Channel
    recorder: Recorder
    audit: AuditLog
    service: str
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def revision(self) -> str:
        return self.store.revision

    def token(self, user: str) -> str:
        """A valid access token for a dev user (service accounts through their own client)."""
        if user not in self._tokens:
            client = "basira-services" if user == "service-account-basira-services" else "basira-cli"
            self._tokens[user] = self.issuer.token_for(user, client_id=client)
        return self._tokens[user]

    def metadata(self, user: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token(user)}"),)

    def stub(self, service_name: str) -> Any:
        """The generated client stub of a contract service, e.g. `stub("SearchService")`."""
        for service, grpc_module in contract_services():
            if service.name == service_name:
                return getattr(grpc_module, f"{service.name}Stub")(self.channel)
        raise KeyError(service_name)

    async def stop_policy(self) -> None:
        """Stop the in-process policy service (not possible when the harness was given a policy_url)."""
        assert self.policy_runner is not None, "the policy service runs elsewhere"
        await self.policy_runner.cleanup()
        self.policy_runner = None

    async def start_policy(self) -> None:
        """Serve the same store again on the same port (after `stop_policy`)."""
        self.policy_runner, _ = await start_server(self.store, "127.0.0.1", self.policy_port)

    async def close(self) -> None:
        await self.channel.close(None)
        await self.server.stop(0.5)
        if isinstance(self.gate.authorizer, PolicyClient):
            await self.gate.authorizer.close()
        if self.policy_runner is not None:
            await self.policy_runner.cleanup()
        await self.nc.close()
        await self.issuer.stop()


async def start_harness(nats_url: str, data_dir: Path, *, service: str | None = None,
                        policy_url: str | None = None, policy_timeout_s: float = 1.0,
                        resolvers: Mapping[str, ResourceResolver] = SERVICE_RESOLVERS,
                        limits: RateLimits | None = None) -> Harness:
    """Start the issuer (port 0), the policy service over `policy/` (port 0, unless `policy_url` names
    one already running), connect NATS (streams ensured) and serve every contract behind the gate,
    whose resource resolvers are `resolvers` (full method -> resolver; the services' pure ones).
    Rate limits are off unless `limits` are given: the tests and the benchmark call far faster than
    any person (test_gate_rate_limits.py gives them).
    """
    service = service or f"gate-test-{uuid.uuid4().hex[:8]}"
    issuer = await start_issuer(DEFAULT_REALM_FILE, data_dir)
    store = PolicyStore(load_policy_dir(POLICY_DIR))
    runner: Any = None
    if policy_url is None:
        runner, policy_port = await start_server(store, "127.0.0.1", 0)
        policy_url = f"http://127.0.0.1:{policy_port}"
    else:
        policy_port = int(policy_url.rsplit(":", 1)[1])
    nc, js = await connect(nats_url, service)
    await ensure_streams(js)
    verifier = TokenVerifier(issuer.url, REALM, AUDIENCE, client_id="basira-services")
    await verifier.prefetch()
    gate = Gate(service, verifier, PolicyClient(policy_url, timeout=policy_timeout_s),
                JetStreamAuditSink(js, service), resolvers=dict(resolvers),
                limits=limits or RateLimits.off())
    recorder = Recorder()
    server = grpc.aio.server(interceptors=[GateInterceptor(gate)])
    add_recording_servicers(server, recorder)
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}")
    await asyncio.wait_for(channel.channel_ready(), timeout=10)
    return Harness(issuer=issuer, store=store, policy_port=policy_port, policy_runner=runner, nc=nc,
                   js=js, gate=gate, server=server, grpc_port=grpc_port, channel=channel,
                   recorder=recorder, audit=AuditLog(js, service), service=service)


# ---- calling any RPC the same way --------------------------------------------------------------

@dataclass
class Outcome:
    """How one call ended: the status code, its message, and the answers received (if OK)."""

    code: grpc.StatusCode
    details: str = ""
    responses: list[Any] = field(default_factory=list)  # the answer messages, any type
    error: grpc.aio.AioRpcError | None = None


async def invoke(channel: grpc.aio.Channel, method: MethodDescriptor, request: Message | list[Message],
                 metadata: tuple[tuple[str, str], ...] | None, *, raw_bytes: bool = False) -> Outcome:
    """Call `method` (unary, server- or client-streaming) and collect the outcome; never raises AioRpcError.

    For a client-streaming method `request` is the list of messages to send; with `raw_bytes` the
    request (or each message) is sent as the bytes given, unparsed (fuzzing).
    """
    name = full_method(method)
    response_class = message_class(method.output_type)

    def serialize(message: Message) -> bytes:
        return message if raw_bytes else message.SerializeToString()  # type: ignore[return-value]

    try:
        if method.client_streaming:
            assert isinstance(request, list)
            reply = await channel.stream_unary(name, serialize, response_class.FromString)(
                iter(request), metadata=metadata)
            responses: list[Any] = [reply]
        elif method.server_streaming:
            stream = channel.unary_stream(name, serialize, response_class.FromString)
            responses = [reply async for reply in stream(request, metadata=metadata)]
        else:
            responses = [await channel.unary_unary(name, serialize, response_class.FromString)(
                request, metadata=metadata)]
    except grpc.aio.AioRpcError as error:
        return Outcome(error.code(), error.details() or "", [], error)
    return Outcome(grpc.StatusCode.OK, "", responses)
