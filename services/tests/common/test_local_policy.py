"""Decisions in the service from the signed bundle: same answers, new revisions within seconds, and
fail closed on no bundle, a bad signature, a stale bundle or a dead worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jwcrypto import jwk

from basira.common.errors import InvalidInput, Unavailable
from basira.common.local_policy import BundleAuthorizer, InlineEvaluator, WorkerEvaluator
from basira.common.policy_client import normalise_policy_input
from basira.policy.api import start_server
from basira.policy.bundle import ensure_signing_key
from basira.policy.engine import CompiledPolicy, load_policy_dir
from basira.policy.store import PolicyStore
from services.tests.policy.corpus import allowed_examples

POLICY_DIR = Path(__file__).resolve().parents[3] / "policy"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> jwk.JWK:
    return ensure_signing_key(tmp_path_factory.mktemp("keys") / "bundle-signing-key.pem")


class BundleServer:
    """The policy service's HTTP edge on a free port, restartable on the same port."""

    def __init__(self, store: PolicyStore) -> None:
        self.store, self.port, self.runner = store, 0, None

    async def start(self) -> None:
        self.runner, self.port = await start_server(self.store, "127.0.0.1", self.port)  # type: ignore[assignment]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()  # type: ignore[attr-defined]
            self.runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def server(key: jwk.JWK) -> AsyncIterator[BundleServer]:
    running = BundleServer(PolicyStore(load_policy_dir(POLICY_DIR), signing_key=key))
    await running.start()
    yield running
    await running.stop()


async def started(url: str, key: jwk.JWK, first_bundle_timeout_s: float = 5, **options: Any
                  ) -> BundleAuthorizer:
    authorizer = BundleAuthorizer(url, key, **options)
    await authorizer.start(first_bundle_timeout_s)
    return authorizer


@pytest.mark.parametrize("evaluation", ["inline", "worker", "worker_pool"])
async def test_decides_as_the_engine_does_with_the_bundle_revision(server: BundleServer, key: jwk.JWK,
                                                                   evaluation: str) -> None:
    evaluator = {"inline": InlineEvaluator(), "worker": WorkerEvaluator(),
                 "worker_pool": WorkerEvaluator(2)}[evaluation]
    authorizer = await started(server.url, key, evaluator=evaluator)
    reference = CompiledPolicy(load_policy_dir(POLICY_DIR))
    try:
        assert authorizer.revision == server.store.revision
        for example in list(allowed_examples().values())[:12]:
            denied = {**example, "action": "search.face"}
            for document in (example, denied):
                decision = await authorizer.decide(document)
                expected = reference.decide(normalise_policy_input(document))
                assert (decision.allow, decision.deny, decision.obligations, decision.revision) == (
                    expected["allow"], expected["deny"], expected["obligations"], server.store.revision)
        # Many in flight at once (spread over the pool's workers): each gets its own input's answer.
        documents = [{**doc, "action": action} for doc in list(allowed_examples().values())[:12]
                     for action in (doc["action"], "search.face")]
        decisions = await asyncio.gather(*(authorizer.decide(doc) for doc in documents))
        for document, decision in zip(documents, decisions, strict=True):
            expected = reference.decide(normalise_policy_input(document))
            assert (decision.allow, decision.deny, decision.obligations) == (
                expected["allow"], expected["deny"], expected["obligations"])
        with pytest.raises(InvalidInput, match="RFC 3339"):
            await authorizer.decide({**example, "context": {"time": "yesterday"}})
    finally:
        await authorizer.close()


async def test_a_published_revision_is_active_within_seconds(server: BundleServer, key: jwk.JWK) -> None:
    authorizer = await started(server.url, key)
    example = allowed_examples()["camera.get"]
    try:
        assert (await authorizer.decide(example)).allow
        roles = dict(server.store.data["basira"]["roles"])
        roles["operator"] = {**roles["operator"],
                             "actions": [a for a in roles["operator"]["actions"] if a != "camera.get"]}
        server.store.put_data(("basira", "roles"), roles)
        await authorizer.wait_for_revision(server.store.revision, timeout_s=5)
        decision = await authorizer.decide(example)
        assert not decision.allow and decision.revision == server.store.revision
    finally:
        await authorizer.close()


async def test_no_bundle_means_no_decision(key: jwk.JWK, caplog: pytest.LogCaptureFixture) -> None:
    authorizer = BundleAuthorizer("http://127.0.0.1:9", key, retry_s=0.1)
    await authorizer.start(first_bundle_timeout_s=0.3)
    try:
        with pytest.raises(Unavailable, match="no verified policy bundle yet"):
            await authorizer.decide(allowed_examples()["camera.get"])
        assert "every decision is refused" in caplog.text
    finally:
        await authorizer.close()


async def test_a_bundle_with_a_bad_signature_is_refused_and_logged(
        server: BundleServer, caplog: pytest.LogCaptureFixture) -> None:
    stranger = jwk.JWK.generate(kty="EC", crv="P-256")
    caplog.set_level(logging.ERROR, logger="basira.common.local_policy")
    authorizer = await started(server.url, stranger, first_bundle_timeout_s=0.5, retry_s=0.1)
    try:
        assert authorizer.refused >= 1 and authorizer.revision == ""
        assert "policy bundle refused: bundle signature does not verify" in caplog.text
        with pytest.raises(Unavailable):
            await authorizer.decide(allowed_examples()["camera.get"])
    finally:
        await authorizer.close()


async def test_a_stale_bundle_fails_closed_and_recovers(server: BundleServer, key: jwk.JWK) -> None:
    authorizer = await started(server.url, key, max_staleness_s=1.0, poll_wait_s=0.2, retry_s=0.1)
    example = allowed_examples()["camera.get"]
    try:
        assert (await authorizer.decide(example)).allow
        await server.stop()
        await asyncio.sleep(1.5)
        with pytest.raises(Unavailable, match="is stale"):
            await authorizer.decide(example)
        await server.start()
        await asyncio.sleep(1.0)
        assert (await authorizer.decide(example)).allow
    finally:
        await authorizer.close()


async def test_a_dead_worker_fails_closed_then_is_replaced(server: BundleServer, key: jwk.JWK) -> None:
    evaluator = WorkerEvaluator()
    authorizer = await started(server.url, key, evaluator=evaluator)
    example = allowed_examples()["camera.get"]
    try:
        assert (await authorizer.decide(example)).allow
        worker = evaluator._procs[0]
        worker.kill()
        await worker.wait()
        await asyncio.sleep(0.1)
        outcomes = []
        for _ in range(2):
            try:
                outcomes.append((await authorizer.decide(example)).allow)
            except Unavailable:
                outcomes.append("unavailable")
        assert outcomes[-1] is True and evaluator._procs[0].pid != worker.pid
    finally:
        await authorizer.close()
