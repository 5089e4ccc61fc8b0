"""The signing key: created once with mode 0600, reused on restart, kid = RFC 7638 thumbprint."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest
from jwcrypto import jwk, jwt

from basira.common.errors import ConfigError
from basira.identity import keys


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_is_created_private_and_reused(tmp_path: Path) -> None:
    first = keys.load_or_create(tmp_path)
    path = tmp_path / "identity" / "signing-key.pem"
    assert path.exists() and _mode(path) == 0o600
    assert b"PRIVATE KEY" in path.read_bytes()
    second = keys.load_or_create(tmp_path)
    assert second.kid == first.kid
    assert second.public_jwk() == first.public_jwk()


def test_kid_is_the_rfc7638_thumbprint(tmp_path: Path) -> None:
    key = keys.load_or_create(tmp_path)
    pub = key.public_jwk()
    # RFC 7638 §3.2: the required members, sorted, no whitespace, SHA-256, base64url without padding.
    canonical = json.dumps({"e": pub["e"], "kty": "RSA", "n": pub["n"]}, separators=(",", ":"),
                           sort_keys=True)
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
    assert key.kid == expected.decode()
    assert pub["alg"] == "RS256" and pub["use"] == "sig" and "d" not in pub


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    keys.load_or_create(tmp_path)
    path = keys.key_path(tmp_path)
    path.chmod(0o644)
    keys.load_or_create(tmp_path)
    assert _mode(path) == 0o600


def test_a_file_that_is_not_a_private_key_is_a_config_error(tmp_path: Path) -> None:
    path = keys.key_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a key")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="signing key"):
        keys.load_or_create(tmp_path)


def test_rotation_replaces_the_stored_key(tmp_path: Path) -> None:
    old = keys.load_or_create(tmp_path)
    new = keys.replace_key(tmp_path)
    assert new.kid != old.kid
    assert keys.load_or_create(tmp_path).kid == new.kid
    assert _mode(keys.key_path(tmp_path)) == 0o600


def test_signed_tokens_carry_the_kid_and_verify_with_the_public_jwk(tmp_path: Path) -> None:
    key = keys.load_or_create(tmp_path)
    token = key.sign({"sub": "x", "exp": 2_000_000_000})
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "RS256", "typ": "JWT", "kid": key.kid}
    parsed = jwt.JWT(jwt=token, key=jwk.JWK(**key.public_jwk()), algs=["RS256"])
    assert json.loads(parsed.claims)["sub"] == "x"
