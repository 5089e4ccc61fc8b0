"""The attacks of issue 10 replayed against the platform as `basira up` starts it: each must fail.

Every wire is TLS: a plaintext gRPC or NATS client, or one trusting another CA, gets no connection.
An attacker on the same machine without credentials cannot connect to NATS at all. One with a stolen
service identity (here: search's) can publish only that service's subjects: not another service's
access records, alerts, match candidates or frames, and it cannot read frames or access records. The
access log's stream cannot be purged or its messages deleted, by a service or by the operator, and a
record a service publishes in another service's name never reaches the log.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import nats
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client as NatsClient
from nats.js.errors import APIError, NotFoundError

from basira.common.access_record import AccessRecord
from basira.common.channels import open_channel
from basira.common.nats import GATED_SERVICES, Credentials, inbox_prefix
from basira.common.record_signing import load_private_key, sign_record
from basira.common.tls import TlsFiles, client_ssl_context, ensure_service_cert, https_client_context
from basira.runtime.postgres_roles import SERVICE_MIGRATIONS, SERVICE_TABLES
from basira.runtime.supervisor import GRPC_SERVICES, Platform
from basira.v1 import audit_pb2, audit_pb2_grpc, common_pb2, search_pb2

from .clients import channel, metadata, wait_until

pytestmark = pytest.mark.integration

REFUSED_WITHIN_S = 1.0  # a refused JetStream publish gets no ack; how long to wait for one


@asynccontextmanager
async def connected_as(platform: Platform, identity: str) -> AsyncIterator[tuple[NatsClient, list[str]]]:
    """A NATS client logged in as `identity`, and the errors the server sent it (permission
    violations arrive asynchronously, as `-ERR` lines)."""
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    creds = Credentials.load(platform.nats_credentials(identity))
    nc = await nats.connect(platform.endpoints["nats"], user=creds.user, password=creds.password,
                            inbox_prefix=inbox_prefix(creds.user), error_cb=on_error,
                            max_reconnect_attempts=0, tls=platform_tls(platform))
    try:
        yield nc, errors
    finally:
        await nc.close()


def platform_tls(platform: Platform) -> ssl.SSLContext:
    """What any local user can have: the platform's CA certificate (public), no client certificate."""
    files = platform.tls_files("basira-up")
    assert files is not None, "the platform runs without TLS"
    return client_ssl_context(TlsFiles(files.ca))


async def refused_publish(nc: NatsClient, subject: str, payload: bytes) -> bool:
    """True when JetStream never acknowledged the publish (refused by permissions)."""
    try:
        await nc.jetstream(timeout=REFUSED_WITHIN_S).publish(subject, payload)
    except (nats.errors.TimeoutError, APIError, nats.errors.NoRespondersError):
        return True
    return False


def forged_record(service: str, user: str, *, signed_by: Path | None = None) -> bytes:
    """An access record in `service`'s name; signed with the key file `signed_by`, if given."""
    record = AccessRecord(action="search.plate", user=user, agency="police", roles=["investigator"],
                          allowed=True, service=service, method="/forged")
    if signed_by is None:
        return record.to_json()
    return sign_record(record.to_dict(), service, load_private_key(signed_by))


def logged_users(platform: Platform, user: str) -> list[str]:
    stub = audit_pb2_grpc.AuditServiceStub(channel(platform, "audit"))
    request = audit_pb2.QueryAccessLogRequest(user=user, page=common_pb2.PageRequest(page_size=10))
    page = stub.QueryAccessLog(request, metadata=metadata(platform, "oversight-auditor"))
    return [json.loads(row.record_json)["user"] for row in page.records]


def audit_caught_up(platform: Platform, sequence: int) -> bool:
    """The audit service has handled (appended or refused) every AUDIT message up to `sequence`."""

    async def ack_floor() -> int:
        async with connected_as(platform, "operator") as (nc, _):
            info = await nc.jetstream().consumer_info("AUDIT", "audit-log")
            return int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0

    return asyncio.run(ack_floor()) >= sequence


def test_nats_refuses_a_client_without_credentials(platform: Platform) -> None:
    async def attempt() -> str:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        with pytest.raises(Exception):  # noqa: B017 - nats-py raises its own or a timeout
            await asyncio.wait_for(nats.connect(platform.endpoints["nats"], allow_reconnect=False,
                                                max_reconnect_attempts=0, error_cb=on_error,
                                                tls=platform_tls(platform)), 10)
        return " ".join(errors)

    assert "authorization violation" in asyncio.run(attempt()).lower()


def test_nats_refuses_a_plaintext_client_even_with_credentials(platform: Platform) -> None:
    """A stolen identity is no use in clear text: the server takes TLS clients only."""
    creds = Credentials.load(platform.nats_credentials("search"))

    async def attempt() -> str:
        try:
            plain = await asyncio.wait_for(nats.connect(
                platform.endpoints["nats"], user=creds.user, password=creds.password,
                allow_reconnect=False, max_reconnect_attempts=0), 10)
        except Exception as exc:  # nats-py raises several kinds here
            return type(exc).__name__
        await plain.close()
        return "connected"

    assert asyncio.run(attempt()) != "connected"


@pytest.mark.parametrize(("part", "path"), [("identity", "/realms/basira/.well-known/openid-configuration"),
                                            ("policy", "/health")])
def test_the_issuer_and_the_policy_service_serve_https_only(platform: Platform, part: str,
                                                            path: str) -> None:
    """Passwords, tokens and policy travel encrypted: plain HTTP gets no answer."""
    url = platform.endpoints[part]
    assert url.startswith("https://"), url
    with urllib.request.urlopen(url + path, timeout=10, context=https_client_context()) as reply:
        assert reply.status == 200
    with pytest.raises((OSError, http.client.HTTPException)):
        urllib.request.urlopen("http://" + url.removeprefix("https://") + path, timeout=10).close()


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_grpc_serves_no_plaintext_and_no_foreign_ca(platform: Platform, service: str,
                                                    tmp_path: Path) -> None:
    """Tokens and answers never cross the wire in clear: a plaintext caller, or one that trusts
    another CA (a man in the middle's), gets no connection, while one trusting the platform's CA does."""
    target = platform.endpoints[service]
    health = health_pb2.HealthCheckRequest()
    with grpc.insecure_channel(target) as plain, pytest.raises(grpc.RpcError) as refused:
        health_pb2_grpc.HealthStub(plain).Check(health, timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    foreign = ensure_service_cert(tmp_path, "intruder")
    with open_channel(target, tls=TlsFiles(foreign.ca)) as other, pytest.raises(grpc.RpcError) as refused:
        health_pb2_grpc.HealthStub(other).Check(health, timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    with open_channel(target) as trusted:  # this session's clients trust the platform's CA
        reply = health_pb2_grpc.HealthStub(trusted).Check(health, timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_a_service_identity_publishes_only_its_own_subjects(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:12]

    async def attack() -> tuple[dict[str, bool], list[str]]:
        async with connected_as(platform, "search") as (nc, errors):
            refused = {
                "audit.record.ingest": await refused_publish(nc, "audit.record.ingest",
                                                             forged_record("ingest", f"forger-{tag}")),
                f"alerts.attacker-{tag}": await refused_publish(nc, f"alerts.attacker-{tag}", b"alert"),
                "match.candidate.plate": await refused_publish(nc, "match.candidate.plate", tag.encode()),
                f"frames.cam-{tag}": await refused_publish(nc, f"frames.cam-{tag}", b"frame"),
                "audit.sth": await refused_publish(nc, "audit.sth", b"{}"),
            }
            await nc.flush()
            return refused, errors

    refused, errors = asyncio.run(attack())
    assert all(refused.values()), f"accepted: {[s for s, r in refused.items() if not r]}"
    assert sum("permissions violation for publish" in e.lower() for e in errors) == len(refused)

    async def landed() -> list[str]:
        async with connected_as(platform, "operator") as (nc, _):
            js, found = nc.jetstream(), []
            for stream, subject in (("ALERTS", f"alerts.attacker-{tag}"), ("FRAMES", f"frames.cam-{tag}")):
                try:
                    await js.get_last_msg(stream, subject)
                    found.append(subject)
                except NotFoundError:
                    pass
            return found

    assert asyncio.run(landed()) == []
    assert logged_users(platform, f"forger-{tag}") == []


def test_a_service_identity_cannot_read_frames_or_access_records(platform: Platform) -> None:
    """Stolen service identities read only their own streams: search (which reads alerts, for the
    evidence holds on confirmed face matches) gets no frames or access records, ingest no alerts."""
    attempts = {"search": ("frames.>", "audit.record.>"), "ingest": ("alerts.>", "audit.record.>")}

    async def attack(service: str) -> list[str]:
        async with connected_as(platform, service) as (nc, errors):
            for subject in attempts[service]:
                await nc.subscribe(subject)
            await nc.flush()
            await asyncio.sleep(0.5)  # the -ERR lines follow the flush's PONG
            return errors

    for service, subjects in attempts.items():
        errors = " ".join(asyncio.run(attack(service))).lower()
        for subject in subjects:
            assert f'permissions violation for subscription to "{subject}"' in errors, (service, errors)


def test_a_record_its_service_did_not_sign_never_reaches_the_log(platform: Platform) -> None:
    """search may publish on audit.record.search, but a record there claiming ingest, or one in its
    own name that search's key did not sign, is refused; one search signed is logged (the control:
    the query would have found the others)."""
    tag = uuid.uuid4().hex[:12]
    impostor, unsigned, own = f"impostor-{tag}", f"unsigned-{tag}", f"own-{tag}"
    search_key = platform.record_keys / "search.pem"

    async def publish() -> int:
        async with connected_as(platform, "search") as (nc, _):
            js = nc.jetstream()
            await js.publish("audit.record.search", forged_record("ingest", impostor, signed_by=search_key))
            await js.publish("audit.record.search", forged_record("search", unsigned))
            ack = await js.publish("audit.record.search", forged_record("search", own, signed_by=search_key))
            return int(ack.seq)

    sequence = asyncio.run(publish())
    wait_until(lambda: audit_caught_up(platform, sequence), 60, "the audit service to handle the records")
    wait_until(lambda: logged_users(platform, own) == [own], 30, "the control record in the log")
    assert logged_users(platform, impostor) == logged_users(platform, unsigned) == []


def test_an_export_shows_each_records_signer_and_verifies_with_the_record_keys(
        platform: Platform, tmp_path: Path) -> None:
    """`basira audit verify EXPORT --public-key KEY --record-keys DIR`, as the README writes it."""
    stub = audit_pb2_grpc.AuditServiceStub(channel(platform, "audit"))
    auditor = metadata(platform, "oversight-auditor")
    stub.GetTreeHead(audit_pb2.GetTreeHeadRequest(), metadata=auditor)  # logged, so the log is not empty
    export, key = tmp_path / "access-log.jsonl", tmp_path / "log-key.pem"

    def signed_export() -> bool:
        head = stub.GetTreeHead(audit_pb2.GetTreeHeadRequest(), metadata=auditor)
        key.write_text(head.public_key_pem)
        request = audit_pb2.ExportLogRequest(recipients=["data-protection-authority"],
                                             access=common_pb2.AccessContext(purpose="oversight"))
        export.write_bytes(b"".join(c.chunk for c in stub.ExportLog(request, metadata=auditor)))
        return head.tree_head.tree_size > 0

    wait_until(signed_export, 30, "a signed tree head")
    signers = {json.loads(line)["record"]["signature"]["by"]
               for line in export.read_bytes().splitlines() if line.startswith(b'{"type":"leaf"')}
    assert "audit" in signers and signers <= set(GATED_SERVICES)
    command = [sys.executable, "-m", "basira.cli.main", "audit", "verify", str(export),
               "--public-key", str(key), "--record-keys", str(platform.record_keys / "public")]
    verify = subprocess.run(command, capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("OK:") and "every record signed by its own service: " in verify.stdout


def test_the_access_log_stream_cannot_be_purged_or_emptied(platform: Platform) -> None:
    async def attack() -> tuple[int, dict[str, Any], int]:
        outcomes: dict[str, Any] = {}
        async with connected_as(platform, "operator") as (admin, _):
            js = admin.jetstream()
            before = (await js.stream_info("AUDIT")).state
            for name, call in (("operator purge", js.purge_stream("AUDIT", subject="audit.record.search")),
                               ("operator delete message", js.delete_msg("AUDIT", before.first_seq))):
                try:
                    await call
                    outcomes[name] = "done"
                except APIError as exc:
                    outcomes[name] = exc.description
        async with connected_as(platform, "search") as (nc, errors):
            js = nc.jetstream(timeout=REFUSED_WITHIN_S)
            for name, call in (("service purge", js.purge_stream("AUDIT")),
                               ("service delete stream", js.delete_stream("AUDIT"))):
                try:
                    await call
                    outcomes[name] = "done"
                except nats.errors.TimeoutError:
                    outcomes[name] = "no answer"
            await nc.flush()
            outcomes["service errors"] = errors
        async with connected_as(platform, "operator") as (admin, _):
            after = (await admin.jetstream().stream_info("AUDIT")).state
        return before.messages, outcomes, after.messages

    before, outcomes, after = asyncio.run(attack())
    assert outcomes["operator purge"] == "stream purge not permitted"
    assert outcomes["operator delete message"] == "message delete not permitted"
    assert outcomes["service purge"] == outcomes["service delete stream"] == "no answer"
    assert sum("permissions violation for publish" in e.lower() for e in outcomes["service errors"]) == 2
    assert after >= before > 0


@pytest.mark.parametrize(("payload", "user", "field"), [
    (search_pb2.SearchPlatesRequest(plate="12345B6", access=common_pb2.AccessContext(
        purpose="x" * 1024 * 1024)).SerializeToString(), None, "access.purpose"),
    (search_pb2.SearchPlatesRequest(plate="A" * 9 * 1024 * 1024).SerializeToString(), "police-investigator",
     "plate"),
    (search_pb2.SearchPlatesRequest(plate="12\x0034").SerializeToString(), "police-investigator", "plate"),
    (b"\xff\xff\xff\xff", "police-investigator", "request"),
])
def test_bad_input_is_refused_by_field_and_logged_by_size(platform: Platform, payload: bytes,
                                                          user: str | None, field: str) -> None:
    """Oversize, NUL and malformed requests to the real search service: INVALID_ARGUMENT naming the
    field, no exception text, and an access record that holds the size, never the content."""
    tag = uuid.uuid4().hex[:12]
    # no serializers: the payload goes on the wire as given
    call = channel(platform, "search").unary_unary("/basira.v1.SearchService/SearchPlates", None, None)
    with pytest.raises(grpc.RpcError) as refused:
        call(payload, metadata=(*(metadata(platform, user) if user else ()), ("x-request-tag", tag)))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = refused.value.details() or ""
    assert details.startswith(field if field != "request" else "the request is not a valid")
    assert "Error" not in details and "xxxx" not in details
    who = user or "anonymous"
    stub = audit_pb2_grpc.AuditServiceStub(channel(platform, "audit"))
    request = audit_pb2.QueryAccessLogRequest(user=who, action="search.plate", newest_first=True,
                                              page=common_pb2.PageRequest(page_size=20))

    def logged() -> bool:
        rows = stub.QueryAccessLog(request, metadata=metadata(platform, "oversight-auditor")).records
        return any(json.loads(r.record_json)["status"] == "INVALID_ARGUMENT"
                   and field in json.loads(r.record_json)["reasons"][0] and len(r.record_json) < 4096
                   for r in rows)

    wait_until(logged, 30, f"the refusal of {field} in the log")


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/python3").exists(),
                    reason="needs root (to try as another local user) and a system python3 it may run")
def test_postgres_refuses_other_local_users(platform: Platform) -> None:
    """Its socket is the platform user's alone (0700): `nobody` on the same machine cannot connect
    (the control: the same probe as this user does)."""
    socket_path = platform.endpoints["postgres"].split("host=", 1)[1].split("&")[0] + "/.s.PGSQL.5432"
    probe = ("import socket, sys\ns = socket.socket(socket.AF_UNIX)\n"
             "try:\n    s.connect(sys.argv[1])\nexcept PermissionError:\n    sys.exit(3)\n")

    def as_nobody() -> None:
        os.setgid(65534)
        os.setuid(65534)

    def attempt(**kwargs: Any) -> int:
        return subprocess.run(["/usr/bin/python3", "-c", probe, socket_path], capture_output=True,
                              check=False, timeout=60, cwd="/", **kwargs).returncode

    assert attempt() == 0
    assert attempt(preexec_fn=as_nobody) == 3


def test_each_service_reaches_only_its_own_tables(platform: Platform) -> None:
    """A service taken over through its queries reads no other service's data, and the audit service
    itself can only read and append the log (the control: each reads its own tables)."""
    urls = platform.database_urls
    assert set(urls) == {"audit", "ingest", "analytics", "search", "alerting"}

    def refused(service: str, statement: str) -> bool:
        with psycopg.connect(urls[service], autocommit=True) as conn:
            try:
                conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege:
                return True
            return False

    for service, own in (("search", "search_sightings"), ("ingest", "ingest_cameras"),
                         ("analytics", "watchlists_embeddings"), ("audit", "audit_leaves")):
        assert not refused(service, f"SELECT count(*) FROM {own}"), service
    assert refused("search", "SELECT count(*) FROM audit_leaves")
    assert refused("ingest", "SELECT count(*) FROM watchlists_embeddings")
    assert refused("alerting", "SELECT count(*) FROM search_faces")
    for statement in ("UPDATE audit_leaves SET canonical = canonical", "DELETE FROM audit_leaves",
                      "TRUNCATE audit_leaves", "ALTER TABLE audit_leaves DISABLE TRIGGER ALL",
                      "DROP TABLE audit_nodes", "CREATE TABLE audit_shadow (v text)"):
        assert refused("audit", statement), statement


def test_every_table_a_service_makes_carries_its_prefix() -> None:
    """Tables are handed to their service's role by prefix: a table without it would be nobody's."""
    from basira.alerting.server import MIGRATIONS as ALERTING
    from basira.analytics.server import WATCHLIST_MIGRATIONS
    from basira.audit.server import MIGRATIONS as AUDIT
    from basira.ingest.server import MIGRATIONS as INGEST
    from basira.search.server import MIGRATIONS as SEARCH

    directories = {"audit": AUDIT, "ingest": INGEST, "analytics": WATCHLIST_MIGRATIONS, "search": SEARCH,
                   "alerting": ALERTING}
    assert {s: d for s, (_, d) in SERVICE_MIGRATIONS.items()} == directories
    for service, (_, directory) in SERVICE_MIGRATIONS.items():
        for path in directory.glob("*.sql"):
            made = re.findall(r"CREATE (?:TABLE|(?:MATERIALIZED )?VIEW|SEQUENCE)(?: IF NOT EXISTS)? (\w+)",
                              path.read_text(), re.IGNORECASE)
            stray = [name for name in made if not name.startswith(SERVICE_TABLES[service])]
            assert not stray, f"{path.name}: {stray} lack {SERVICE_TABLES[service]}"


def test_postgres_takes_no_login_without_its_password(platform: Platform) -> None:
    without = platform.endpoints["postgres"].split("&passfile=", 1)[0]
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(without, connect_timeout=10).close()
