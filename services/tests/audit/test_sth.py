"""Signed tree heads: signing, verification, tampering, the key file and key formats."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from basira.audit import sth as sth_mod
from basira.audit.merkle import EMPTY_ROOT, root_hash
from basira.audit.sth import (
    SignatureInvalid,
    SignedTreeHead,
    TreeHeadError,
    TreeHeadSigner,
    load_or_create_signing_key,
    load_public_key,
    public_key_b64,
    public_key_pem,
    sign_tree_head,
    verify_tree_head,
)

ROOT = root_hash([bytes([i]) * 32 for i in range(5)])


def test_sign_and_verify_round_trip_through_json() -> None:
    key = Ed25519PrivateKey.generate()
    sth = sign_tree_head(key, 5, ROOT, log_id="basira-test", timestamp=1_700_000_000_000)
    verify_tree_head(key.public_key(), sth)
    again = SignedTreeHead.from_dict(json.loads(json.dumps(sth.to_dict())))
    assert again == sth
    verify_tree_head(key.public_key(), again)


def test_signed_bytes_are_the_documented_canonical_encoding() -> None:
    key = Ed25519PrivateKey.generate()
    sth = sign_tree_head(key, 5, ROOT, log_id="L", timestamp=42)
    expected = (b'basira-audit-sth/v1\n{"log_id":"L","root_hash":"' + ROOT.hex().encode()
                + b'","timestamp":42,"tree_size":5}')
    assert sth.signed_bytes() == expected
    key.public_key().verify(sth.signature, expected)  # raises if not


@pytest.mark.parametrize("change", [
    {"tree_size": 6}, {"root_hash": EMPTY_ROOT}, {"timestamp": 43}, {"log_id": "other"},
    {"signature": bytes(64)},
])
def test_any_change_breaks_the_signature(change: dict[str, object]) -> None:
    key = Ed25519PrivateKey.generate()
    sth = sign_tree_head(key, 5, ROOT, log_id="L", timestamp=42)
    forged = dataclasses.replace(sth, **change)  # type: ignore[arg-type]
    with pytest.raises(SignatureInvalid) as info:
        verify_tree_head(key.public_key(), forged)
    assert info.value.sth == forged


def test_another_key_does_not_verify() -> None:
    sth = sign_tree_head(Ed25519PrivateKey.generate(), 5, ROOT)
    with pytest.raises(SignatureInvalid):
        verify_tree_head(Ed25519PrivateKey.generate().public_key(), sth)


def test_signer_defaults_log_id_to_the_key_id() -> None:
    signer = TreeHeadSigner(Ed25519PrivateKey.generate())
    assert signer.log_id == sth_mod.key_id(signer.public_key) and len(signer.log_id) == 64
    sth = signer.sign(1, ROOT)
    assert sth.log_id == signer.log_id and sth.timestamp > 1_600_000_000_000
    verify_tree_head(signer.public_key, sth)


@pytest.mark.parametrize("data", [
    {"tree_size": 1, "timestamp": 1, "root_hash": "zz", "signature": ""},
    {"tree_size": -1, "timestamp": 1, "root_hash": ROOT.hex(), "signature": ""},
    {"tree_size": 1, "timestamp": True, "root_hash": ROOT.hex(), "signature": ""},
    {"tree_size": 1, "timestamp": 1, "root_hash": ROOT.hex()[:-2], "signature": ""},
    {"tree_size": 1, "timestamp": 1, "root_hash": ROOT.hex(), "signature": "not base64!"},
    {"timestamp": 1, "root_hash": ROOT.hex(), "signature": ""},
])
def test_malformed_tree_heads_are_rejected(data: dict[str, object]) -> None:
    with pytest.raises(TreeHeadError):
        SignedTreeHead.from_dict(data)


def test_signing_rejects_bad_roots() -> None:
    with pytest.raises(TreeHeadError):
        sign_tree_head(Ed25519PrivateKey.generate(), 1, b"short")


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path)
    path = tmp_path / "audit" / "sth-key.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".sth-key-")]
    again = load_or_create_signing_key(tmp_path)
    assert public_key_b64(again.public_key()) == public_key_b64(key.public_key())


def test_key_file_with_another_key_type_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    (tmp_path / "audit").mkdir()
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "audit" / "sth-key.pem").write_bytes(other)
    with pytest.raises(TreeHeadError):
        load_or_create_signing_key(tmp_path)


def test_public_key_exports_load_back() -> None:
    public = Ed25519PrivateKey.generate().public_key()
    for text in (public_key_pem(public), public_key_b64(public), public_key_b64(public) + "\n"):
        assert public_key_b64(load_public_key(text)) == public_key_b64(public)
    with pytest.raises(TreeHeadError):
        load_public_key("bm90IGEga2V5")  # base64 of 9 bytes
    with pytest.raises(TreeHeadError):
        load_public_key("%%%")
