"""Access records signed by the service that wrote them (Ed25519), so the log shows who vouched.

A signed record is the record's JSON object with one more key, `signature`:
`{"by": <service>, "key_id": <16 hex of SHA-256 of the raw public key>, "sig": <base64 Ed25519 over
canonical_json(record without "signature")>}`. The Merkle leaf covers the signed record, so an export
carries every signature and `basira audit verify --record-keys DIR` checks them offline. A record
nobody signed, signed by a key that is not its service's, or altered after signing fails here with
the reason, whoever sequenced it (the audit service and the log's own key cannot vouch for a record).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from basira.common.access_record import canonical_json
from basira.common.errors import ConfigError

SIGNATURE_KEY = "signature"
PUBLIC_SUFFIX = ".pub.pem"


def key_fingerprint(key: Ed25519PublicKey) -> str:
    """16 hex digits naming a public key (so a rotated key is told from the old one)."""
    return hashlib.sha256(key.public_bytes_raw()).hexdigest()[:16]


def sign_record(record: Mapping[str, Any], service: str, key: Ed25519PrivateKey) -> bytes:
    """The canonical JSON of `record` with its `signature` by `service`'s key (replacing any)."""
    body = {k: v for k, v in record.items() if k != SIGNATURE_KEY}
    signature = key.sign(canonical_json(body))
    signed = {**body, SIGNATURE_KEY: {"by": service, "key_id": key_fingerprint(key.public_key()),
                                      "sig": base64.b64encode(signature).decode("ascii")}}
    return canonical_json(signed)


def record_signature_problem(record: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> str | None:
    """Why `record` is not vouched for by its own service's key in `keys`, or None when it is.

    Checks, in order: a signature is there; it is by the record's `service`; that service has a key
    here; the key id matches; the signature verifies over the record without it (else: altered).
    """
    signature = record.get(SIGNATURE_KEY)
    if not isinstance(signature, dict):
        return "unsigned: the record has no signature"
    by, key_id, sig = signature.get("by"), signature.get("key_id"), signature.get("sig")
    service = record.get("service")
    if by != service:
        return f"signer mismatch: signed by {str(by)[:64]!r} but the record is {str(service)[:64]!r}'s"
    key = keys.get(str(by))
    if key is None:
        return f"unknown signer: no public key for service {str(by)[:64]!r}"
    if key_id != key_fingerprint(key):
        return f"unknown key: key id {str(key_id)[:64]!r} is not {by}'s key {key_fingerprint(key)}"
    try:
        raw = base64.b64decode(str(sig), validate=True)
    except ValueError:
        return "bad signature: not base64"
    body = {k: v for k, v in record.items() if k != SIGNATURE_KEY}
    try:
        key.verify(raw, canonical_json(body))
    except (InvalidSignature, ValueError, TypeError):
        return f"bad signature: the record is not what {by} signed (altered after signing)"
    return None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Raises ConfigError naming the file when it is missing or not an Ed25519 PEM private key."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot read the record signing key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 private key")
    return key


def load_public_keys(directory: Path) -> dict[str, Ed25519PublicKey]:
    """Every `<service>.pub.pem` in `directory`, by service; ConfigError when there is none."""
    keys: dict[str, Ed25519PublicKey] = {}
    try:
        files = sorted(directory.glob(f"*{PUBLIC_SUFFIX}"))
    except OSError as exc:
        raise ConfigError(f"cannot list record keys in {directory}: {exc}") from exc
    for path in files:
        try:
            key = serialization.load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read record key {path}: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError(f"{path} is not an Ed25519 public key")
        keys[path.name.removesuffix(PUBLIC_SUFFIX)] = key
    if not keys:
        raise ConfigError(f"no record keys (*{PUBLIC_SUFFIX}) in {directory}")
    return keys


def ensure_signing_key(directory: Path, service: str) -> Path:
    """`directory/<service>.pem` (0600) and `directory/public/<service>.pub.pem`, made once."""
    private = directory / f"{service}.pem"
    public = directory / "public" / f"{service}{PUBLIC_SUFFIX}"
    public.parent.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    if not private.exists():
        key = Ed25519PrivateKey.generate()
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    if not public.exists():
        public.write_bytes(load_private_key(private).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private
