"""The production option: a service pointed at an OPA sidecar fed the same signed bundle gets the
same decisions, revision included, as a service deciding in process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from basira.common.local_policy import BundleAuthorizer
from basira.common.policy_client import PolicyClient
from basira.policy.api import BUNDLE_PATH, start_server
from basira.policy.bundle import ensure_signing_key, load_public_key, public_key_path
from basira.policy.engine import load_policy_dir
from basira.policy.store import PolicyStore
from services.tests.support.opa import OPA_TOOL_DIR, REPO, OpaUnavailable

from .corpus import POLICY_DIR, denied_variants, parity_corpus


@pytest.fixture
async def bundle_server(tmp_path: Path) -> AsyncIterator[tuple[str, Path, PolicyStore]]:
    key_file = tmp_path / "bundle-signing-key.pem"
    store = PolicyStore(load_policy_dir(POLICY_DIR), signing_key=ensure_signing_key(key_file))
    runner, port = await start_server(store, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}", public_key_path(key_file), store
    await runner.cleanup()


@pytest.fixture
async def sidecar(bundle_server: tuple[str, Path, PolicyStore]) -> AsyncIterator[tuple[str, str]]:
    """`basira.tools.opa_sidecar` (real OPA) pulling the bundle: (its URL, the revision it loaded)."""
    if not (OPA_TOOL_DIR / "opa_bindings").is_dir():
        raise OpaUnavailable(f"real OPA is not installed in {OPA_TOOL_DIR}: run `make opa-tool`")
    url, public_key, _ = bundle_server
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(OPA_TOOL_DIR), str(REPO / "services")])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "basira.tools.opa_sidecar", "--bundle-url", url + BUNDLE_PATH,
        "--public-key", str(public_key), env=env, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    started = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
    yield f"http://127.0.0.1:{started['port']}", started["revision"]
    proc.terminate()
    await proc.wait()


async def test_sidecar_and_in_process_decisions_are_identical(
        bundle_server: tuple[str, Path, PolicyStore], sidecar: tuple[str, str]) -> None:
    url, public_key, store = bundle_server
    sidecar_url, sidecar_revision = sidecar
    assert sidecar_revision == store.revision
    in_process = BundleAuthorizer(url, load_public_key(public_key))
    await in_process.start()
    documents = [*parity_corpus()[:120], *denied_variants()[:40]]
    try:
        async with PolicyClient(sidecar_url, timeout=10) as remote:
            for document in documents:
                ours, theirs = await in_process.decide(document), await remote.decide(document)
                assert ours == theirs, document
                assert theirs.revision == store.revision
    finally:
        await in_process.close()
