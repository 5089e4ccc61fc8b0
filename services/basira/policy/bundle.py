"""Signed policy bundles in OPA's format: build one from a policy set, verify one into a policy set.

A bundle is a gzipped tar (what `opa build -b policy/ --signing-key ...` makes): `/.manifest` (the
revision and the roots the bundle owns), every served module at its path (`/basira/authz/authz.rego`),
every data document as `/<path>/data.json`, and `/.signatures.json`: `{"signatures": [JWT]}` whose
payload lists every other file with its SHA-256 (`{"files": [{"name", "hash", "algorithm"}],
"keyid", "scope"}`), signed ES256 with the key the runtime made in the data directory. Data files
are written as canonical JSON (sorted keys, no spaces), so the hash of their bytes is the hash OPA
computes over the normalised document.

`read_bundle` trusts nothing it cannot verify: a bundle without a valid signature by the given key,
with a file the signature does not list (or lists with another hash), a file listed but absent, or
a revision that is not the hash of the content, raises BundleError and yields no policy.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk, jws
from jwcrypto.common import JWException

from basira.common.errors import BasiraError
from basira.policy.engine import (
    DATA_FILE,
    REGO_SUFFIX,
    PolicySet,
    compute_revision,
    is_test_module,
    merge_data,
)

MANIFEST = ".manifest"
SIGNATURES = ".signatures.json"
ROOTS = ["basira"]
ALGORITHM = "ES256"
KEY_ID = "basira-policy"
MAX_BUNDLE_BYTES = 16 * 1024 * 1024


class BundleError(BasiraError):
    """A bundle that must not be activated: unsigned, badly signed, tampered with or malformed."""


@dataclass(frozen=True)
class Bundle:
    """A built bundle: its bytes, the revision its manifest carries, and the ETag it is served with."""

    payload: bytes
    revision: str

    @property
    def etag(self) -> str:
        return f'"{self.revision}"'


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _data_files(document: Mapping[str, Any], depth: int = 2) -> dict[str, Any]:
    """The data document as files the way the policy directory holds it: each object two levels
    down in its own `<a>/<b>/data.json` (data.basira.agencies -> basira/agencies/data.json); what is
    not an object at that depth in its parent's data.json."""

    def split(node: Mapping[str, Any], prefix: tuple[str, ...]) -> dict[str, Any]:
        if len(prefix) == depth:
            return {"/".join([*prefix, DATA_FILE]): dict(node)}
        files: dict[str, Any] = {}
        leaves = {key: value for key, value in node.items() if not isinstance(value, dict)}
        if leaves:
            files["/".join([*prefix, DATA_FILE])] = leaves
        for key, value in node.items():
            if isinstance(value, dict):
                files.update(split(value, (*prefix, key)))
        return files

    return split(document, ())


def bundle_files(policy_set: PolicySet) -> dict[str, bytes]:
    """Every file of the bundle but the signatures: manifest, modules (no tests), data documents."""
    files = {MANIFEST: canonical({"revision": policy_set.revision, "roots": ROOTS})}
    for module_id, text in policy_set.modules.items():
        if not is_test_module(module_id):
            files[module_id] = text.encode("utf-8")
    for name, value in _data_files(policy_set.data).items():
        files[name] = canonical(value)
    return files


def _file_list(files: Mapping[str, bytes]) -> list[dict[str, str]]:
    return [{"name": name, "hash": hashlib.sha256(content).hexdigest(), "algorithm": "SHA-256"}
            for name, content in sorted(files.items())]


def sign(files: Mapping[str, bytes], key: jwk.JWK) -> bytes:
    """The `.signatures.json` of `files`: one compact JWS over their names and hashes."""
    token = jws.JWS(canonical({"files": _file_list(files), "keyid": KEY_ID, "scope": "read"}))
    token.add_signature(key, alg=ALGORITHM, protected=canonical({"alg": ALGORITHM, "kid": KEY_ID}).decode())
    return canonical({"signatures": [token.serialize(compact=True)]})


def build_bundle(policy_set: PolicySet, key: jwk.JWK) -> Bundle:
    """The signed tar.gz of `policy_set` (deterministic but for the signature's randomness)."""
    files = bundle_files(policy_set)
    files[SIGNATURES] = sign(files, key)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo("/" + name)
            info.size, info.mode, info.mtime = len(content), 0o644, 0
            tar.addfile(info, io.BytesIO(content))
    return Bundle(gzip.compress(raw.getvalue(), mtime=0), policy_set.revision)


def _untar(payload: bytes) -> dict[str, bytes]:
    if len(payload) > MAX_BUNDLE_BYTES:
        raise BundleError(f"bundle of {len(payload)} bytes exceeds {MAX_BUNDLE_BYTES}")
    try:
        raw = gzip.decompress(payload)
        if len(raw) > MAX_BUNDLE_BYTES * 4:
            raise BundleError("bundle expands beyond the size limit")
        files: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar.getmembers():
                if member.isdir():
                    continue
                name = PurePosixPath(member.name.lstrip("/")).as_posix()
                if not member.isfile() or name.startswith("..") or "/../" in f"/{name}/":
                    raise BundleError(f"bundle entry {member.name!r} is not a plain file inside the bundle")
                if name in files:
                    raise BundleError(f"bundle holds {name} twice")
                extracted = tar.extractfile(member)
                files[name] = extracted.read() if extracted else b""
    except (OSError, EOFError, tarfile.TarError) as error:
        raise BundleError(f"bundle is not a gzipped tar: {error}") from None
    return files


def verify_signatures(files: Mapping[str, bytes], public_key: jwk.JWK) -> None:
    """Raise BundleError unless `.signatures.json` signs exactly the other files, by `public_key`."""
    if SIGNATURES not in files:
        raise BundleError("bundle is not signed (no .signatures.json)")
    try:
        signatures = json.loads(files[SIGNATURES])["signatures"]
        token = jws.JWS()
        token.deserialize(signatures[0])
        token.verify(public_key, alg=ALGORITHM)
        claims = json.loads(token.payload)
    except (ValueError, KeyError, IndexError, TypeError, JWException) as error:
        raise BundleError(f"bundle signature does not verify with the policy public key: "
                          f"{type(error).__name__}") from None
    listed = {entry["name"]: entry for entry in claims.get("files", [])}
    present = {name: content for name, content in files.items() if name != SIGNATURES}
    if set(listed) != set(present):
        unsigned, missing = sorted(set(present) - set(listed)), sorted(set(listed) - set(present))
        raise BundleError(f"signed file list differs from the bundle: unsigned {unsigned}, missing {missing}")
    for name, content in present.items():
        entry = listed[name]
        if entry.get("algorithm") != "SHA-256" or entry.get("hash") != hashlib.sha256(content).hexdigest():
            raise BundleError(f"{name} does not match its signed hash")


def read_bundle(payload: bytes, public_key: jwk.JWK) -> PolicySet:
    """The policy set of a verified bundle; raises BundleError (see the module docstring)."""
    files = _untar(payload)
    verify_signatures(files, public_key)
    try:
        manifest = json.loads(files[MANIFEST])
    except (KeyError, ValueError):
        raise BundleError("bundle has no readable .manifest") from None
    modules: dict[str, str] = {}
    document: dict[str, Any] = {}
    try:
        for name, content in sorted(files.items()):
            path = PurePosixPath(name)
            if name.endswith(REGO_SUFFIX):
                modules[name] = content.decode("utf-8")
            elif path.name == DATA_FILE:
                merge_data(document, path.parent.parts, json.loads(content), name)
    except (ValueError, BasiraError) as error:
        raise BundleError(f"bundle content does not load: {error}") from None
    revision = compute_revision(modules, document)
    if manifest.get("revision") != revision:
        raise BundleError(f"manifest revision {manifest.get('revision')!r} is not the content's ({revision})")
    return PolicySet(modules=modules, data=document)


# ---- keys -----------------------------------------------------------------------------------------

def ensure_signing_key(path: Path) -> jwk.JWK:
    """The ES256 signing key at `path`, created (mode 0600, public half beside it) when absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(pem)
        public_key_path(path).write_bytes(private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return jwk.JWK.from_pem(path.read_bytes())


def public_key_path(signing_key: Path) -> Path:
    return signing_key.with_name(signing_key.stem + ".pub.pem")


def load_public_key(path: Path) -> jwk.JWK:
    """The verification key (PEM); raises BundleError naming the file if it cannot be read."""
    try:
        return jwk.JWK.from_pem(path.read_bytes())
    except (OSError, ValueError) as error:
        raise BundleError(f"policy public key {path} cannot be read: {error}") from None
