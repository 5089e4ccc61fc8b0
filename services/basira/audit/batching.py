"""Group commit: many concurrent single-record appends share one durable transaction.

A gate call must not answer before its access record is durable, but one fsync per record caps a log
at a few hundred appends per second. `GroupCommitter.append` queues the record and waits; one writer
task takes everything queued while the previous transaction was committing and appends it as one
batch, so the batch size follows the load with no added delay when idle. Tree heads are signed at
most every `sign_interval` seconds (and once more after the last append), which keeps the tree-head
chain, and thus the offline verifier's work, proportional to time rather than to traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from basira.common.errors import BasiraError, Unavailable

from .sth import SignedTreeHead
from .store import MAX_BATCH, Appendable, AuditStore, PreparedRecord, prepare_record

log = logging.getLogger(__name__)


class GroupCommitter:
    """Append records one by one from many tasks; each `append` returns once its record is durable."""

    def __init__(self, store: AuditStore, *, max_batch: int = 1000, sign_interval: float = 1.0,
                 on_signed: Callable[[SignedTreeHead], Awaitable[None]] | None = None) -> None:
        """`on_signed` is awaited with each tree head signed here (e.g. to publish it on audit.sth)."""
        self._store = store
        self._max_batch = min(max_batch, MAX_BATCH)
        self._sign_interval = sign_interval
        self._on_signed = on_signed
        self._queue: asyncio.Queue[tuple[PreparedRecord, asyncio.Future[int]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._last_signed = 0.0
        self._unsigned = False

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-group-commit")

    async def close(self) -> None:
        """Stop after committing what is queued (and signing it)."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        await self._sign_pending()

    async def append(self, record: Appendable) -> int:
        """The record's index once it is durable. InvalidInput for a malformed record (only that
        caller fails); Unavailable when the database fails (every caller of that batch fails)."""
        if self._task is None:
            raise Unavailable("the audit group committer is not running")
        prepared = prepare_record(record)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        await self._queue.put((prepared, future))
        return await future

    async def _run(self) -> None:
        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout=self._idle_timeout())
            except TimeoutError:
                await self._sign_pending()
                continue
            batch = [item]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._commit(batch)
            for _ in batch:
                self._queue.task_done()

    def _idle_timeout(self) -> float | None:
        if not self._unsigned or self._store.signer is None:
            return None
        return max(0.0, self._last_signed + self._sign_interval - time.monotonic())

    async def _sign_pending(self) -> None:
        """Sign the appended-but-unsigned tail; on failure retry at the next interval."""
        if not self._unsigned or self._store.signer is None:
            return
        self._last_signed = time.monotonic()
        try:
            sth = await self._store.sign_tree_head()
        except Exception:
            log.exception("signing the audit log's tree head failed; retrying later")
            return
        self._unsigned = False
        await self._published(sth)

    async def _published(self, sth: SignedTreeHead) -> None:
        if self._on_signed is not None:
            try:
                await self._on_signed(sth)
            except Exception:
                log.exception("publishing tree head %d failed", sth.tree_size)

    async def _commit(self, batch: list[tuple[PreparedRecord, asyncio.Future[int]]]) -> None:
        sign = self._store.signer is not None and time.monotonic() - self._last_signed >= self._sign_interval
        try:
            result = await self._store.append_batch([p for p, _ in batch], sign=sign)
        except Exception as exc:  # every waiter of this batch must learn it failed
            error = exc if isinstance(exc, BasiraError) else Unavailable(f"audit log append failed: {exc}")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), index in zip(batch, result.indexes, strict=True):
            if not future.done():
                future.set_result(index)
        if result.sth is not None:
            self._last_signed = time.monotonic()
            self._unsigned = False
            await self._published(result.sth)
        elif result.appended:
            self._unsigned = True
