"""Transport security: a local CA, one certificate per service, the settings to use them.

`basira up` (unless --no-tls) makes a CA under `<data dir>/tls` on first start and a certificate per
service signed by it (reused afterwards), then every service serves gRPC over TLS, NATS takes TLS
clients only, the identity issuer and the policy service serve HTTPS, and every client the platform
starts verifies them against the CA, presenting its own certificate where it has one (mutual TLS
between services and from the console). Production gives the same three paths from its own PKI
(mounted secrets or cert-manager): BASIRA_TLS_CA, BASIRA_TLS_CERT, BASIRA_TLS_KEY.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from basira.common.errors import ConfigError

CA_ENV, CERT_ENV, KEY_ENV = "BASIRA_TLS_CA", "BASIRA_TLS_CERT", "BASIRA_TLS_KEY"
VALID_DAYS = 825


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA that signs every certificate, and (optionally) this party's own pair."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None

    @classmethod
    def from_env(cls) -> TlsFiles | None:
        """From BASIRA_TLS_CA (+ _CERT, _KEY); None when TLS is not configured."""
        ca = os.environ.get(CA_ENV)
        if not ca:
            return None
        cert, key = os.environ.get(CERT_ENV), os.environ.get(KEY_ENV)
        return cls(Path(ca), Path(cert) if cert else None, Path(key) if key else None)

    def env(self) -> dict[str, str]:
        out = {CA_ENV: str(self.ca)}
        if self.cert and self.key:
            out.update({CERT_ENV: str(self.cert), KEY_ENV: str(self.key)})
        return out

    def read(self) -> tuple[bytes, bytes | None, bytes | None]:
        """(CA, certificate, key) bytes; ConfigError naming a file that cannot be read."""
        try:
            return (self.ca.read_bytes(), self.cert.read_bytes() if self.cert else None,
                    self.key.read_bytes() if self.key else None)
        except OSError as exc:
            raise ConfigError(f"cannot read a TLS file: {exc}") from exc


def client_ssl_context(files: TlsFiles) -> ssl.SSLContext:
    """A TLS client context (for NATS and HTTPS) verifying against the CA, presenting this party's
    certificate when it has one."""
    context = ssl.create_default_context(cafile=str(files.ca))
    if files.cert and files.key:
        context.load_cert_chain(str(files.cert), str(files.key))
    return context


def server_ssl_context(files: TlsFiles) -> ssl.SSLContext:
    """A TLS server context (for the HTTPS of the identity issuer and the policy service)."""
    if files.cert is None or files.key is None:
        raise ConfigError("serving HTTPS needs BASIRA_TLS_CERT and BASIRA_TLS_KEY")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(files.cert), str(files.key))
    return context


def https_client_context() -> ssl.SSLContext | None:
    """How this process verifies HTTPS servers: the platform's CA when BASIRA_TLS_CA names one,
    else None (the system's CAs)."""
    files = TlsFiles.from_env()
    return client_ssl_context(files) if files else None


def https_verification() -> ssl.SSLContext | bool:
    """The same for aiohttp (`ssl=`): the platform's CA, else True (the system's CAs)."""
    return https_client_context() or True


def https_verify() -> bool | str:
    """The same for python-keycloak (`verify`): the platform's CA file, else the system's CAs."""
    files = TlsFiles.from_env()
    return str(files.ca) if files else True


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def ensure_ca(directory: Path) -> tuple[Path, Path]:
    """`directory/ca.pem` and `ca.key` (0600), made once: the platform's own certificate authority."""
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Basira local CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def ensure_service_cert(directory: Path, name: str, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
                        ) -> TlsFiles:
    """`directory/<name>.pem` + `.key` signed by the CA in `directory` (made once), valid as a server
    for `hosts` and as a client named `name` (mutual TLS)."""
    ca_cert_path, ca_key_path = ensure_ca(directory)
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    if not (cert_path.exists() and key_path.exists()):
        ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write_private(key_path, _key_pem(key))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return TlsFiles(ca_cert_path, cert_path, key_path)
