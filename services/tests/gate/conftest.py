"""Gate integration fixtures: one real harness (issuer, policy, NATS audit, gRPC + gate) per test module.

Test modules here run on one event loop per module (`pytest.mark.asyncio(loop_scope="module")`),
because the harness's servers and client channel live on that loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from .harness import Harness, start_harness


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def harness(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    started = await start_harness(nats_url, tmp_path_factory.mktemp("gate"))
    try:
        yield started
    finally:
        await started.close()
