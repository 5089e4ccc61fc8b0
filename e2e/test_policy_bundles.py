"""Every service decides in its own process from the policy service's signed bundle: a policy edit
through the API reaches all of them within seconds and shows in their next access records; a bundle
with a bad signature is refused and logged."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from jwcrypto import jwk
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from basira.common.access_record import AccessRecord
from basira.common.nats import connect
from basira.common.tls import TlsFiles, https_client_context, server_ssl_context
from basira.policy.api import BUNDLE_PATH, start_server
from basira.policy.engine import load_policy_dir
from basira.policy.store import PolicyStore
from basira.runtime.supervisor import GRPC_SERVICES, Platform
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
)

from .clients import channel, metadata

pytestmark = pytest.mark.integration

ZONE_PATH = "/v1/data/basira/zones/university"

# One gated call per service (allowed or not: either way the gate decides and logs the revision).
CALLS: dict[str, tuple[str, Callable[[grpc.Channel], Any], Any]] = {
    "ingest": ("police-operator", lambda ch: camera_pb2_grpc.CameraServiceStub(ch).ListCameras,
               camera_pb2.ListCamerasRequest(zone="medina")),
    "analytics": ("bodycam-01", lambda ch: analytics_pb2_grpc.AnalyticsServiceStub(ch).ReadPlates,
                  analytics_pb2.ReadPlatesRequest()),
    "search": ("traffic-analyst", lambda ch: search_pb2_grpc.SearchServiceStub(ch).SearchPlates,
               search_pb2.SearchPlatesRequest(plate="12345B6")),
    "alerting": ("traffic-analyst", lambda ch: alert_pb2_grpc.AlertServiceStub(ch).AcknowledgeAlert,
                 alert_pb2.AcknowledgeAlertRequest(alert_id="none")),
    "audit": ("police-operator", lambda ch: audit_pb2_grpc.AuditServiceStub(ch).GetTreeHead,
              audit_pb2.GetTreeHeadRequest()),
}


def log_of(platform: Platform, service: str) -> str:
    path = Path(platform.config.data_dir) / "logs" / f"{service}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def wait_in_logs(platform: Platform, text: str, services: tuple[str, ...], timeout_s: float) -> float:
    """Seconds until every service's log holds `text`; fails naming those whose log does not."""
    started = time.monotonic()
    while True:
        missing = [name for name in services if text not in log_of(platform, name)]
        if not missing:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"after {timeout_s}s, no {text!r} in the logs of {missing}")
        time.sleep(0.2)


def served_revision(platform: Platform) -> str:
    with urllib.request.urlopen(platform.endpoints["policy"] + "/v1/data/basira/authz/revision",
                                context=https_client_context()) as reply:
        return str(json.loads(reply.read())["result"])


def edit(platform: Platform, method: str, body: Any | None, user: str = "privacy-officer") -> int:
    token = dict(metadata(platform, user))["authorization"]
    request = urllib.request.Request(
        platform.endpoints["policy"] + ZONE_PATH, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=https_client_context()) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


async def records_since(platform: Platform, marks: dict[str, int]) -> dict[str, list[AccessRecord]]:
    """Access records each service appended to the AUDIT stream after its mark."""
    nc, js = await connect(platform.endpoints["nats"], "e2e-policy-bundles")
    out: dict[str, list[AccessRecord]] = {}
    try:
        for service, mark in marks.items():
            sub = await js.pull_subscribe(
                f"audit.record.{service}", stream="AUDIT",
                config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=mark + 1,
                                      ack_policy=AckPolicy.NONE, inactive_threshold=30.0))
            pending = int((await sub.consumer_info()).num_pending or 0)
            messages: list[Any] = []
            while len(messages) < pending:
                messages.extend(await sub.fetch(min(pending - len(messages), 256), timeout=5.0))
            await sub.unsubscribe()
            out[service] = [AccessRecord.from_dict(json.loads(m.data)) for m in messages]
    finally:
        await nc.close()
    return out


async def audit_mark(platform: Platform) -> int:
    nc, js = await connect(platform.endpoints["nats"], "e2e-policy-mark")
    try:
        return int((await js.stream_info("AUDIT")).state.last_seq or 0)
    finally:
        await nc.close()


def ours(records: dict[str, list[AccessRecord]], service: str) -> list[AccessRecord]:
    """The records of this test's call to `service` (a platform may log other acts meanwhile)."""
    return [r for r in records[service] if r.user == CALLS[service][0]]


def call_every_service(platform: Platform) -> None:
    for service, (user, method, request) in CALLS.items():
        with channel(platform, service) as ch:
            try:
                method(ch)(request, metadata=metadata(platform, user), timeout=10)
            except grpc.RpcError as error:
                assert error.code() != grpc.StatusCode.UNAVAILABLE, (service, error.details())


def test_every_service_decides_from_the_signed_bundle(platform: Platform) -> None:
    revision = served_revision(platform)
    wait_in_logs(platform, f"policy bundle revision {revision} active", GRPC_SERVICES, timeout_s=5)
    mark = asyncio.run(audit_mark(platform))
    call_every_service(platform)
    records = asyncio.run(records_since(platform, dict.fromkeys(GRPC_SERVICES, mark)))
    assert {service: {r.policy_revision for r in ours(records, service)} for service in GRPC_SERVICES} == {
        service: {revision} for service in GRPC_SERVICES}


def test_policy_edit_reaches_every_service_within_seconds(platform: Platform) -> None:
    before = served_revision(platform)
    mark = asyncio.run(audit_mark(platform))
    assert edit(platform, "PUT", {"name": "University campus"}, user="traffic-analyst") == 403
    assert served_revision(platform) == before
    assert edit(platform, "PUT", {"name": "University campus"}) == 204
    after = served_revision(platform)
    assert after != before
    try:
        seconds = wait_in_logs(platform, f"policy bundle revision {after} active", GRPC_SERVICES, 15)
        assert seconds < 10
        call_every_service(platform)
        records = asyncio.run(records_since(platform, dict.fromkeys((*GRPC_SERVICES, "policy"), mark)))
        for service in GRPC_SERVICES:
            assert [r.policy_revision for r in ours(records, service)] == [after], service
        edits = [(r.user, r.allowed, r.resource.get("revision_to")) for r in records["policy"]]
        assert edits == [("traffic-analyst", False, None), ("privacy-officer", True, after)]
    finally:
        assert edit(platform, "DELETE", None) == 204  # the same content again: the same revision
    assert served_revision(platform) == before
    wait_in_logs(platform, f"policy bundle revision {before} active", GRPC_SERVICES, 15)


async def serve_rogue_bundles(port: int, policy_dir: Path, seconds: float, tls: TlsFiles | None) -> None:
    """A bundle server on the policy service's port whose bundles another key signed. It has the
    policy service's TLS certificate (the worst case: HTTPS alone would turn any other server away)."""
    policy_set = load_policy_dir(policy_dir)
    data = json.loads(json.dumps(dict(policy_set.data)))
    data["basira"]["agencies"]["traffic"]["agreement"]["data_classes"].append("biometric")
    store = PolicyStore(type(policy_set)(modules=policy_set.modules, data=data),
                        signing_key=jwk.JWK.generate(kty="EC", crv="P-256"))
    runner, _ = await start_server(store, "127.0.0.1", port,
                                   ssl_context=server_ssl_context(tls) if tls else None)
    try:
        await asyncio.sleep(seconds)
    finally:
        await runner.cleanup()


def test_a_bundle_with_a_bad_signature_is_refused_and_logged(platform: Platform) -> None:
    revision = served_revision(platform)
    policy = next(proc for proc in platform.processes if proc.name == "policy")
    port = int(platform.endpoints["policy"].rsplit(":", 1)[1])
    refused = "policy bundle refused: bundle signature does not verify"
    before = {name: log_of(platform, name).count(refused) for name in GRPC_SERVICES}
    policy.stop()
    try:
        rogue = asyncio.run(asyncio.wait_for(_rogue_until_refused(platform, port, refused, before), 60))
        assert rogue <= 30
        call_every_service(platform)  # the verified revision stays active meanwhile
    finally:
        policy.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if served_revision(platform) == revision:
                break
        except OSError:
            time.sleep(0.2)
    assert served_revision(platform) == revision
    assert urllib.request.urlopen(platform.endpoints["policy"] + BUNDLE_PATH,
                                  context=https_client_context()).status == 200


async def _rogue_until_refused(platform: Platform, port: int, refused: str, before: dict[str, int]) -> float:
    server = asyncio.create_task(serve_rogue_bundles(port, platform.config.policy_dir, 60,
                                                     platform.tls_files("policy")))
    started = time.monotonic()
    try:
        while True:
            counts = {name: log_of(platform, name).count(refused) for name in GRPC_SERVICES}
            if all(counts[name] > before[name] for name in GRPC_SERVICES):
                return time.monotonic() - started
            if server.done():
                server.result()
            await asyncio.sleep(0.3)
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
