"""gRPC and NATS over TLS, the default of `basira up`: the local CA and one certificate per service are
made on first start and reused. (That plaintext and foreign-CA clients are refused is one of the
attacks in test_attacks.py.)"""

from __future__ import annotations

import pytest
from cryptography import x509

from basira.common.tls import ensure_service_cert
from basira.runtime.supervisor import Platform

pytestmark = pytest.mark.integration


def test_each_service_has_its_own_certificate_from_the_ca(platform: Platform) -> None:
    tls_dir = platform.tls_dir
    ca = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())
    for service in (*platform.config.services, "nats", "policy", "console"):
        cert = x509.load_pem_x509_certificate((tls_dir / f"{service}.pem").read_bytes())
        assert cert.issuer == ca.subject, service
        assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == service
        assert (tls_dir / f"{service}.key").stat().st_mode & 0o077 == 0, f"{service}'s key is readable"
    before = (tls_dir / "audit.pem").read_bytes()
    assert ensure_service_cert(tls_dir, "audit").cert == tls_dir / "audit.pem"
    assert (tls_dir / "audit.pem").read_bytes() == before  # reused, not remade
