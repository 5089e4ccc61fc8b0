"""Decisions in the service itself, from the policy service's signed bundle (OPA's SDK pattern).

`BundleAuthorizer` is the gate's Authorizer: it downloads the current bundle from the bundle server
(`GET <policy_url>/bundles/basira.tar.gz`) at start, then long-polls it (`If-None-Match` + `Prefer:
wait`), verifies every bundle's signature with the policy public key before activating it, and
answers `decide()` without any network hop. Fail closed, always with `Unavailable` (the gate logs
it and denies): no verified bundle yet, a current bundle not confirmed by the server for longer
than `max_staleness_s`, an evaluation error, a worker that died. A bundle that fails verification
is refused and logged (ERROR, with the reason, and the `basira_policy_bundles_refused` counter);
the previous one stays active until it too is stale.

Evaluation: `inline` on the event loop (half a millisecond, the GIL held throughout), or `worker`
(basira.policy.worker: a child process, so the loop keeps serving while another core evaluates).
`bench-gate` measures both. A service may instead use `PolicyClient` against an OPA sidecar fed
the same bundle (`policy_source = "rest"`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Literal, Protocol

import aiohttp
from jwcrypto import jwk
from prometheus_client import Counter

from basira.common.errors import BasiraError, Unavailable
from basira.common.policy_client import Decision, normalise_policy_input, parse_decision
from basira.common.tls import https_verification
from basira.policy.bundle import BundleError, load_public_key, read_bundle
from basira.policy.engine import BUNDLE_NAME, CompiledPolicy, PolicySet

log = logging.getLogger(__name__)

BUNDLES_REFUSED = Counter("basira_policy_bundles_refused", "Policy bundles refused (bad signature, "
                          "tampered or malformed)")
BUNDLES_ACTIVATED = Counter("basira_policy_bundles_activated", "Policy bundle revisions activated")

Evaluation = Literal["inline", "worker"]


class Evaluator(Protocol):
    async def load(self, policy_set: PolicySet) -> None: ...
    async def decide(self, policy_input: dict[str, Any]) -> dict[str, Any]: ...
    async def close(self) -> None: ...


class InlineEvaluator:
    """The engine on the event loop's thread (one engine, reused; no state carries over)."""

    def __init__(self) -> None:
        self._policy: CompiledPolicy | None = None

    async def load(self, policy_set: PolicySet) -> None:
        self._policy = CompiledPolicy(policy_set)

    async def decide(self, policy_input: dict[str, Any]) -> dict[str, Any]:
        if self._policy is None:
            raise Unavailable("no policy loaded")
        try:
            return self._policy.decide(policy_input)
        except BasiraError as error:
            raise Unavailable(f"policy evaluation failed: {error.message}") from None

    async def close(self) -> None:
        self._policy = None


class WorkerEvaluator:
    """The engine in child processes (basira.policy.worker), spoken to over pipes."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._procs: list[asyncio.subprocess.Process] = []
        self._readers: list[asyncio.Task[None]] = []
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count()
        self._next = itertools.count()
        self._in_flight: dict[int, int] = {}
        self._policy_set: PolicySet | None = None
        self._starting = asyncio.Lock()

    async def _start(self) -> None:
        async with self._starting:
            if self._procs and all(proc.returncode is None for proc in self._procs):
                return
            await self._stop()
            for _ in range(self.workers):
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "basira.policy.worker", stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE, limit=16 * 1024 * 1024)
                self._procs.append(proc)
                self._readers.append(asyncio.create_task(self._read(proc)))
            if self._policy_set is not None:
                await self._load_all(self._policy_set)

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            reply = json.loads(line)
            future = self._pending.pop(reply.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(reply)
        failed = [future for future in self._pending.values() if not future.done()]
        for future in failed:
            future.set_exception(Unavailable("the policy decision worker stopped"))
        if failed or proc.returncode not in (None, 0):
            log.error("policy decision worker stopped (exit %s)", await proc.wait())

    async def _ask(self, proc: asyncio.subprocess.Process, request: dict[str, Any]) -> dict[str, Any]:
        assert proc.stdin is not None
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        proc.stdin.write(json.dumps({**request, "id": request_id}).encode() + b"\n")
        return await future

    async def _load_all(self, policy_set: PolicySet) -> None:
        load = {"load": {"modules": dict(policy_set.modules), "data": dict(policy_set.data)}}
        for proc in self._procs:
            reply = await self._ask(proc, load)
            if reply.get("loaded") != policy_set.revision:
                raise Unavailable(f"the decision worker did not load revision {policy_set.revision}: "
                                  f"{reply.get('error', reply)}")

    async def load(self, policy_set: PolicySet) -> None:
        self._policy_set = policy_set
        if not self._procs or any(proc.returncode is not None for proc in self._procs):
            await self._start()
        else:
            await self._load_all(policy_set)

    async def decide(self, policy_input: dict[str, Any]) -> dict[str, Any]:
        if self._policy_set is None:
            raise Unavailable("no policy loaded")
        if self._starting.locked():
            async with self._starting:  # a restart is loading the policy: wait for it
                pass
        if any(proc.returncode is not None for proc in self._procs) or not self._procs:
            await self._start()
        # The worker with the fewest decisions in flight (ties in turn), so a slow one is passed by.
        turn = next(self._next)
        count = len(self._procs)
        index = min(range(count), key=lambda i: (self._in_flight.get(i, 0), (i - turn) % count))
        proc = self._procs[index]
        self._in_flight[index] = self._in_flight.get(index, 0) + 1
        try:
            reply = await self._ask(proc, {"input": policy_input})
        except (BrokenPipeError, ConnectionResetError):
            raise Unavailable("the policy decision worker stopped") from None
        finally:
            self._in_flight[index] -= 1
        if "decision" not in reply:
            raise Unavailable(f"policy evaluation failed: {reply.get('error', 'no decision')}")
        decision: dict[str, Any] = reply["decision"]
        return decision

    async def _stop(self) -> None:
        for proc in self._procs:
            if proc.returncode is None:
                assert proc.stdin is not None
                proc.stdin.close()
        for proc in self._procs:
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        self._procs, self._readers = [], []

    async def close(self) -> None:
        await self._stop()


def make_evaluator(evaluation: Evaluation, workers: int = 1) -> Evaluator:
    return WorkerEvaluator(workers) if evaluation == "worker" else InlineEvaluator()


class BundleAuthorizer:
    """The gate's Authorizer over the current verified bundle (see the module docstring)."""

    def __init__(self, policy_url: str, public_key: jwk.JWK, *, evaluator: Evaluator | None = None,
                 max_staleness_s: float = 60.0, poll_wait_s: float = 20.0, retry_s: float = 1.0) -> None:
        self.bundle_url = f"{policy_url.rstrip('/')}/bundles/{BUNDLE_NAME}.tar.gz"
        self.public_key = public_key
        self.evaluator = evaluator or InlineEvaluator()
        self.max_staleness_s = max_staleness_s
        self.poll_wait_s = poll_wait_s
        self.retry_s = retry_s
        self.revision = ""
        self.refused = 0
        self._etag = ""
        self._confirmed_at = float("-inf")
        self._session: aiohttp.ClientSession | None = None
        self._poller: asyncio.Task[None] | None = None
        self._activated = asyncio.Event()

    async def start(self, first_bundle_timeout_s: float = 10.0) -> None:
        """Start polling; wait up to `first_bundle_timeout_s` for a first verified bundle (decisions
        fail closed until one arrives, whatever the wait)."""
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=https_verification()))
        self._poller = asyncio.create_task(self._poll(), name="policy-bundle-poll")
        try:
            await asyncio.wait_for(self._activated.wait(), first_bundle_timeout_s)
        except TimeoutError:
            log.error("no verified policy bundle from %s after %.0fs: every decision is refused until "
                      "one arrives", self.bundle_url, first_bundle_timeout_s)

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        await self.evaluator.close()

    async def wait_for_revision(self, revision: str, timeout_s: float) -> None:
        """Return once `revision` is active (tests, tools); raises TimeoutError."""
        deadline = time.monotonic() + timeout_s
        while self.revision != revision:
            if time.monotonic() > deadline:
                raise TimeoutError(f"revision {revision} not active after {timeout_s}s (has {self.revision})")
            await asyncio.sleep(0.05)

    async def _poll(self) -> None:
        while True:
            try:
                await self._poll_once()
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                log.warning("policy bundle server %s unreachable: %s", self.bundle_url, error)
                await asyncio.sleep(self.retry_s)
            except BundleError as error:
                self.refused += 1
                BUNDLES_REFUSED.inc()
                log.error("policy bundle refused: %s (revision %s stays active until stale)",
                          error.message, self.revision or "none")
                await asyncio.sleep(self.retry_s)
            except Exception:
                log.exception("policy bundle poll failed")
                await asyncio.sleep(self.retry_s)

    async def _poll_once(self) -> None:
        assert self._session is not None
        headers: dict[str, str] = {}
        if self._etag:
            headers = {"If-None-Match": self._etag, "Prefer": f"wait={self.poll_wait_s:g}"}
        timeout = aiohttp.ClientTimeout(total=self.poll_wait_s + 10)
        async with self._session.get(self.bundle_url, headers=headers, timeout=timeout) as response:
            if response.status == 304:
                self._confirmed_at = time.monotonic()
                return
            if response.status != 200:
                log.warning("policy bundle server answered HTTP %d", response.status)
                await asyncio.sleep(self.retry_s)
                return
            payload = await response.read()
            etag = response.headers.get("ETag", "")
        policy_set = read_bundle(payload, self.public_key)
        await self.evaluator.load(policy_set)
        self._etag, self.revision = etag, policy_set.revision
        self._confirmed_at = time.monotonic()
        BUNDLES_ACTIVATED.inc()
        self._activated.set()
        log.info("policy bundle revision %s active", policy_set.revision)

    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        """The decision of the active revision; raises InvalidInput (a malformed time) or Unavailable."""
        if not self.revision:
            raise Unavailable(f"no verified policy bundle yet from {self.bundle_url}")
        age = time.monotonic() - self._confirmed_at
        if age > self.max_staleness_s:
            raise Unavailable(f"policy bundle {self.revision} is stale: not confirmed by {self.bundle_url} "
                              f"for {age:.0f}s (limit {self.max_staleness_s:.0f}s)")
        result = await self.evaluator.decide(normalise_policy_input(policy_input))
        return parse_decision(result)


async def open_bundle_authorizer(policy_url: str, public_key_file: Path, *, evaluation: Evaluation = "inline",
                                 workers: int = 1, max_staleness_s: float = 60.0,
                                 first_bundle_timeout_s: float = 10.0) -> BundleAuthorizer:
    """A started BundleAuthorizer; raises BundleError when the public key cannot be read."""
    authorizer = BundleAuthorizer(policy_url, load_public_key(public_key_file),
                                  evaluator=make_evaluator(evaluation, workers),
                                  max_staleness_s=max_staleness_s)
    await authorizer.start(first_bundle_timeout_s)
    return authorizer

