"""Signed bundles (OPA's format) and the bundle server: nothing unverified ever yields a policy."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from jwcrypto import jwk

from basira.policy.api import BUNDLE_PATH, LONG_POLL_MEDIA_TYPE, start_server
from basira.policy.bundle import (
    MANIFEST,
    SIGNATURES,
    BundleError,
    build_bundle,
    bundle_files,
    ensure_signing_key,
    load_public_key,
    public_key_path,
    read_bundle,
    sign,
)
from basira.policy.engine import PolicySet, load_policy_dir
from basira.policy.store import PolicyStore


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> jwk.JWK:
    return ensure_signing_key(tmp_path_factory.mktemp("keys") / "bundle-signing-key.pem")


@pytest.fixture(scope="module")
def served(policy_dir: Path) -> PolicySet:
    return load_policy_dir(policy_dir)


@pytest.fixture(scope="module")
def policy_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "policy"


def tar_files(payload: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(payload))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def repack(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue())


def test_bundle_holds_manifest_modules_data_and_signatures_in_opa_layout(served: PolicySet,
                                                                         key: jwk.JWK) -> None:
    bundle = build_bundle(served, key)
    files = tar_files(bundle.payload)
    assert "/.manifest" in files and "/.signatures.json" in files
    assert "/basira/authz/authz.rego" in files and "/basira/agencies/data.json" in files
    assert not any(name.endswith("_test.rego") for name in files)
    assert json.loads(files["/.manifest"]) == {"revision": served.revision, "roots": ["basira"]}
    assert bundle.etag == f'"{served.revision}"'


def test_verified_bundle_gives_back_the_same_policy(served: PolicySet, key: jwk.JWK) -> None:
    back = read_bundle(build_bundle(served, key).payload, key)
    assert back.revision == served.revision
    assert dict(back.modules) == dict(served.modules) and back.data == served.data


def test_public_half_beside_the_key_verifies(served: PolicySet, key: jwk.JWK, tmp_path: Path) -> None:
    signing = tmp_path / "k.pem"
    private = ensure_signing_key(signing)
    assert oct(signing.stat().st_mode & 0o777) == "0o600"
    assert ensure_signing_key(signing).thumbprint() == private.thumbprint()  # reused, not replaced
    public = load_public_key(public_key_path(signing))
    assert read_bundle(build_bundle(served, private).payload, public).revision == served.revision
    with pytest.raises(BundleError, match="cannot be read"):
        load_public_key(tmp_path / "missing.pem")


def test_bundle_signed_by_another_key_is_refused(served: PolicySet, key: jwk.JWK) -> None:
    other = jwk.JWK.generate(kty="EC", crv="P-256")
    with pytest.raises(BundleError, match="signature does not verify"):
        read_bundle(build_bundle(served, other).payload, key)


def test_tampered_data_is_refused(served: PolicySet, key: jwk.JWK) -> None:
    files = tar_files(build_bundle(served, key).payload)
    agencies = json.loads(files["/basira/agencies/data.json"])
    agencies["traffic"]["agreement"]["data_classes"].append("biometric")
    files["/basira/agencies/data.json"] = json.dumps(agencies).encode()
    with pytest.raises(BundleError, match=r"basira/agencies/data\.json does not match its signed hash"):
        read_bundle(repack(files), key)


def test_unsigned_added_or_missing_files_are_refused(served: PolicySet, key: jwk.JWK) -> None:
    files = tar_files(build_bundle(served, key).payload)
    with pytest.raises(BundleError, match="not signed"):
        read_bundle(repack({k: v for k, v in files.items() if k != "/" + SIGNATURES}), key)
    with pytest.raises(BundleError, match=r"unsigned \['basira/authz/backdoor\.rego'\]"):
        read_bundle(repack({**files, "/basira/authz/backdoor.rego": b"package basira.authz\n"}), key)
    with pytest.raises(BundleError, match=r"missing \['basira/authz/legal\.rego'\]"):
        read_bundle(repack({k: v for k, v in files.items() if k != "/basira/authz/legal.rego"}), key)


def test_manifest_revision_must_be_the_contents(served: PolicySet, key: jwk.JWK) -> None:
    files = {name: content for name, content in bundle_files(served).items()}
    files[MANIFEST] = json.dumps({"revision": "rev-of-something-else", "roots": ["basira"]}).encode()
    files[SIGNATURES] = sign(files, key)
    with pytest.raises(BundleError, match="is not the content's"):
        read_bundle(repack({"/" + k: v for k, v in files.items()}), key)


def test_garbage_is_refused(key: jwk.JWK) -> None:
    with pytest.raises(BundleError, match="not a gzipped tar"):
        read_bundle(b"not a bundle", key)


# ---- the bundle server ----


@pytest.fixture
async def server(policy_dir: Path, key: jwk.JWK) -> AsyncIterator[tuple[str, PolicyStore]]:
    store = PolicyStore(load_policy_dir(policy_dir), signing_key=key)
    runner, port = await start_server(store, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}{BUNDLE_PATH}", store
    finally:
        await runner.cleanup()


async def test_server_answers_304_while_the_etag_is_current(server: tuple[str, PolicyStore],
                                                            key: jwk.JWK) -> None:
    url, store = server
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            assert response.status == 200 and response.headers["ETag"] == f'"{store.revision}"'
            assert read_bundle(await response.read(), key).revision == store.revision
        async with session.get(url, headers={"If-None-Match": f'"{store.revision}"'}) as response:
            assert response.status == 304


async def test_long_poll_returns_the_next_revision_as_soon_as_it_is_published(
        server: tuple[str, PolicyStore], key: jwk.JWK) -> None:
    url, store = server
    first = store.revision
    headers = {"If-None-Match": f'"{first}"', "Prefer": "wait=20"}
    async with aiohttp.ClientSession() as session:
        poll = asyncio.create_task(session.get(url, headers=headers))
        await asyncio.sleep(0.3)
        assert not poll.done()  # held open while nothing changes
        store.put_data(("basira", "settings", "default_max_results"), 7)
        response = await asyncio.wait_for(poll, 5)
        assert response.status == 200 and response.headers["Content-Type"] == LONG_POLL_MEDIA_TYPE
        changed = read_bundle(await response.read(), key)
        assert changed.revision == store.revision != first
        assert changed.data["basira"]["settings"]["default_max_results"] == 7
        response.release()
        async with session.get(url, headers={"If-None-Match": f'"{store.revision}"',
                                             "Prefer": "wait=0.2"}) as quiet:
            assert quiet.status == 304


async def test_no_signing_key_no_bundle(policy_dir: Path) -> None:
    runner, port = await start_server(PolicyStore(load_policy_dir(policy_dir)), "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{port}{BUNDLE_PATH}") as response:
            assert response.status == 404
            assert "signing key" in (await response.json())["message"]
    finally:
        await runner.cleanup()
