"""gRPC over TLS (opt-in, `basira up --tls`): the local CA and per-service certificates are made on first
start and reused; a client verifying against the CA is served, a plaintext client or one trusting
another CA is not. Its own small platform (the audit service only)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import nats
import pytest
from cryptography import x509

from basira.common.channels import open_channel
from basira.common.nats import Credentials, connect
from basira.common.tls import TlsFiles, ensure_service_cert
from basira.runtime.supervisor import Platform, PlatformConfig
from basira.v1 import audit_pb2, audit_pb2_grpc, common_pb2

from .clients import metadata

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_platform() -> Iterator[Platform]:
    data_dir = Path(tempfile.mkdtemp(prefix="basira-tls-"))
    data_dir.chmod(0o755)
    config = PlatformConfig.from_env(data_dir=data_dir, services=("audit",), console=False, tls=True)
    config.nats_url = config.database_url = config.policy_url = config.oidc_url = ""
    running = Platform(config)
    running.start()
    yield running
    running.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def query_log(platform: Platform, channel: grpc.Channel) -> audit_pb2.QueryAccessLogResponse:
    stub = audit_pb2_grpc.AuditServiceStub(channel)
    reply: audit_pb2.QueryAccessLogResponse = stub.QueryAccessLog(
        audit_pb2.QueryAccessLogRequest(page=common_pb2.PageRequest(page_size=1)),
        metadata=metadata(platform, "oversight-auditor"), timeout=15)
    return reply


def test_a_client_verifying_the_local_ca_is_served(tls_platform: Platform) -> None:
    ca = tls_platform.config.data_dir / "tls" / "ca.pem"
    with open_channel(tls_platform.endpoints["audit"], tls=TlsFiles(ca)) as channel:
        assert isinstance(query_log(tls_platform, channel), audit_pb2.QueryAccessLogResponse)


def test_each_service_has_its_own_certificate_from_the_ca(tls_platform: Platform) -> None:
    tls_dir = tls_platform.config.data_dir / "tls"
    cert = x509.load_pem_x509_certificate((tls_dir / "audit.pem").read_bytes())
    ca = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())
    assert cert.issuer == ca.subject
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "audit"
    assert (tls_dir / "audit.key").stat().st_mode & 0o077 == 0
    assert ensure_service_cert(tls_dir, "audit").cert == tls_dir / "audit.pem"  # reused, not remade


def test_plaintext_and_a_foreign_ca_are_refused(tls_platform: Platform, tmp_path: Path) -> None:
    target = tls_platform.endpoints["audit"]
    with grpc.insecure_channel(target) as plain, pytest.raises(grpc.RpcError) as refused:
        query_log(tls_platform, plain)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    foreign = ensure_service_cert(tmp_path, "intruder")
    with open_channel(target, tls=TlsFiles(foreign.ca)) as channel, pytest.raises(grpc.RpcError) as refused:
        query_log(tls_platform, channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_nats_takes_tls_clients_only(tls_platform: Platform) -> None:
    """The services reached NATS over TLS (the platform is up); a plaintext client is refused."""
    creds = Credentials.load(tls_platform.nats_credentials("operator"))
    ca = TlsFiles(tls_platform.config.data_dir / "tls" / "ca.pem")

    async def attempt() -> tuple[bool, str]:
        nc, js = await connect(tls_platform.endpoints["nats"], "e2e-tls", tls=ca,
                               credentials=tls_platform.nats_credentials("operator"))
        encrypted = (await js.stream_info("AUDIT")).config.name == "AUDIT" and nc.is_connected
        await nc.close()
        try:
            plain = await asyncio.wait_for(nats.connect(
                tls_platform.endpoints["nats"], user=creds.user, password=creds.password,
                allow_reconnect=False, max_reconnect_attempts=0), 10)
        except Exception as exc:  # nats-py raises several kinds here
            return encrypted, type(exc).__name__
        await plain.close()
        return encrypted, "connected"

    encrypted, plaintext = asyncio.run(attempt())
    assert encrypted and plaintext != "connected"
