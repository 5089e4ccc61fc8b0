"""The issuer's RS256 signing key: made on first start, kept on disk (mode 0600), reused on restart."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwcrypto import jwk, jwt

from basira.common.errors import ConfigError

log = logging.getLogger(__name__)

KEY_FILE = "signing-key.pem"
RSA_BITS = 2048
ALGORITHM = "RS256"


@dataclass(frozen=True)
class SigningKey:
    """A private RSA key and its `kid` (the RFC 7638 JWK thumbprint, SHA-256, base64url)."""

    private: jwk.JWK
    kid: str

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = jwk.JWK.from_pem(pem)
        if key.get("kty") != "RSA" or not key.has_private:
            raise ConfigError("signing key must be a private RSA key")
        return cls(key, key.thumbprint())

    @classmethod
    def generate(cls) -> SigningKey:
        key = jwk.JWK.generate(kty="RSA", size=RSA_BITS)
        return cls(key, key.thumbprint())

    def to_pem(self) -> bytes:
        return bytes(self.private.export_to_pem(private_key=True, password=None))

    def public_jwk(self) -> dict[str, Any]:
        """The JWKS entry, shaped like Keycloak's (`kid`, `kty`, `alg`, `use`, `n`, `e`)."""
        pub = self.private.export_public(as_dict=True)
        return {"kid": self.kid, "kty": "RSA", "alg": ALGORITHM, "use": "sig", "n": pub["n"], "e": pub["e"]}

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS over `claims` with header {alg: RS256, typ: JWT, kid}."""
        token = jwt.JWT(header={"alg": ALGORITHM, "typ": "JWT", "kid": self.kid}, claims=claims)
        token.make_signed_token(self.private)
        return str(token.serialize())


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically; the file is created 0600 and never exists world-readable."""
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def key_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "identity" / KEY_FILE


def load_or_create(data_dir: str | Path) -> SigningKey:
    """The key in `<data_dir>/identity/signing-key.pem`, generated there first if absent.

    A key file readable by group/others is tightened to 0600 with a warning.
    Raises ConfigError if the file exists but is not a private RSA key in PEM.
    """
    path = key_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("signing key %s had mode %o; tightening to 0600", path, mode)
            path.chmod(0o600)
        try:
            return SigningKey.from_pem(path.read_bytes())
        except (ValueError, TypeError) as e:
            raise ConfigError(f"signing key {path} is not a PEM private key: {e}") from e
    key = SigningKey.generate()
    _write_private(path, key.to_pem())
    log.info("generated signing key %s (kid %s)", path, key.kid)
    return key


def replace_key(data_dir: str | Path) -> SigningKey:
    """Generate a new key and store it in place of the old one (key rotation)."""
    path = key_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = SigningKey.generate()
    _write_private(path, key.to_pem())
    log.info("rotated signing key %s (new kid %s)", path, key.kid)
    return key
