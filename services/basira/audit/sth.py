"""Signed tree heads: Ed25519 signatures over a canonical encoding of (log id, size, root, time).

What is signed is `SIGNING_CONTEXT + canonical_json({"log_id", "root_hash" (hex), "timestamp" (ms since
the Unix epoch), "tree_size"})`, so an oversight body can re-derive it with any JSON library. The log's
key is made once and kept in `<data_dir>/audit/sth-key.pem` (mode 0600); its public half is handed to
oversight bodies as PEM or as raw base64.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from basira.common.access_record import canonical_json

from .merkle import HASH_SIZE

SIGNING_CONTEXT = b"basira-audit-sth/v1\n"
KEY_FILE = Path("audit") / "sth-key.pem"


class TreeHeadError(ValueError):
    """A tree head that is malformed or whose signature does not verify."""


class SignatureInvalid(TreeHeadError):
    """The signature is not the log key's signature over this tree head."""

    def __init__(self, sth: SignedTreeHead, key_id: str) -> None:
        super().__init__(
            f"signature of tree head (size {sth.tree_size}, root {sth.root_hash.hex()}) "
            f"does not verify with key {key_id}"
        )
        self.sth = sth
        self.key_id = key_id


@dataclass(frozen=True)
class SignedTreeHead:
    """A log's commitment to its first `tree_size` leaves having Merkle root `root_hash`."""

    tree_size: int
    root_hash: bytes
    timestamp: int
    """Milliseconds since the Unix epoch (as in RFC 6962)."""
    signature: bytes
    log_id: str = ""

    def signed_bytes(self) -> bytes:
        return tree_head_bytes(self.tree_size, self.root_hash, self.timestamp, self.log_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: root as lowercase hex, signature as standard base64."""
        return {
            "log_id": self.log_id,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignedTreeHead:
        """Parse the JSON form; raises TreeHeadError naming the bad field."""
        try:
            tree_size = data["tree_size"]
            timestamp = data["timestamp"]
            log_id = data.get("log_id", "")
            root_hash = bytes.fromhex(data["root_hash"])
            signature = base64.b64decode(data["signature"], validate=True)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise TreeHeadError(f"malformed tree head: {exc!r}") from exc
        for name, value in (("tree_size", tree_size), ("timestamp", timestamp)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise TreeHeadError(f"malformed tree head: {name} must be a non-negative integer")
        if not isinstance(log_id, str):
            raise TreeHeadError("malformed tree head: log_id must be a string")
        if len(root_hash) != HASH_SIZE:
            raise TreeHeadError(f"malformed tree head: root_hash is {len(root_hash)} bytes")
        return cls(tree_size, root_hash, timestamp, signature, log_id)


def tree_head_bytes(tree_size: int, root_hash: bytes, timestamp: int, log_id: str = "") -> bytes:
    """The exact bytes an STH signature covers."""
    body = {"log_id": log_id, "root_hash": root_hash.hex(), "timestamp": timestamp, "tree_size": tree_size}
    return SIGNING_CONTEXT + canonical_json(body)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def sign_tree_head(
    private_key: Ed25519PrivateKey,
    tree_size: int,
    root_hash: bytes,
    *,
    log_id: str = "",
    timestamp: int | None = None,
) -> SignedTreeHead:
    """Sign a tree head now (or at `timestamp`, ms since epoch)."""
    if len(root_hash) != HASH_SIZE:
        raise TreeHeadError(f"root_hash must be {HASH_SIZE} bytes, got {len(root_hash)}")
    if tree_size < 0:
        raise TreeHeadError(f"tree_size must be non-negative, got {tree_size}")
    ts = now_ms() if timestamp is None else timestamp
    signature = private_key.sign(tree_head_bytes(tree_size, root_hash, ts, log_id))
    return SignedTreeHead(tree_size, bytes(root_hash), ts, signature, log_id)


def verify_tree_head(public_key: Ed25519PublicKey, sth: SignedTreeHead) -> None:
    """Raise SignatureInvalid unless `sth` carries the key's valid signature."""
    try:
        public_key.verify(sth.signature, sth.signed_bytes())
    except InvalidSignature:
        raise SignatureInvalid(sth, key_id(public_key)) from None


class TreeHeadSigner:
    """The log's signing key together with its log id (the audit service holds one)."""

    def __init__(self, private_key: Ed25519PrivateKey, log_id: str | None = None) -> None:
        self.private_key = private_key
        self.public_key = private_key.public_key()
        self.log_id = key_id(self.public_key) if log_id is None else log_id

    def sign(self, tree_size: int, root_hash: bytes, timestamp: int | None = None) -> SignedTreeHead:
        return sign_tree_head(self.private_key, tree_size, root_hash, log_id=self.log_id, timestamp=timestamp)


# ---------------------------------------------------------------------------------------------------
# keys


def public_key_raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    """The 32 raw key bytes in standard base64: the short form to print or publish."""
    return base64.b64encode(public_key_raw(public_key)).decode("ascii")


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def key_id(public_key: Ed25519PublicKey) -> str:
    """Lowercase hex SHA-256 of the raw public key: the default log id."""
    return hashlib.sha256(public_key_raw(public_key)).hexdigest()


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """Parse a public key given as PEM (SubjectPublicKeyInfo) or as base64 of the 32 raw bytes."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    data = data.strip()
    if data.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(data)
        if not isinstance(key, Ed25519PublicKey):
            raise TreeHeadError(f"public key is {type(key).__name__}, not Ed25519")
        return key
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise TreeHeadError("public key is neither PEM nor base64") from exc
    if len(raw) != 32:
        raise TreeHeadError(f"raw Ed25519 public key must be 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_or_create_signing_key(data_dir: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The log key from `<data_dir>/audit/sth-key.pem`, generated (mode 0600) on first use.

    Creation is atomic (written to a temporary file, then linked into place), so two processes starting
    together end up with the same key. Raises TreeHeadError if the file holds something else.
    """
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd, tmp = tempfile.mkstemp(prefix=".sth-key-", dir=path.parent)  # created 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another process won the race: keep theirs
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TreeHeadError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return key
