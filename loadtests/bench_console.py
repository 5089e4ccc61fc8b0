"""The console's log browser: requests/s and latency of `GET /api/audit/records` paging, side by side
with the same pages asked of AuditService directly over gRPC (what the console adds).

Run: `.venv/bin/python loadtests/bench_console.py [--records 200000] [--clients 8] [--seconds 20]`;
writes var/bench/console.json through `basira.common.bench.report`.

Starts the whole embedded platform, fills the access log with `--records` realistic records (appended
through the audit store, as the audit service appends them), signs an oversight auditor in through
the login form, then `--clients` browsers page through the log for `--seconds` each way: newest first,
100 records a page, following `next_page_token`, one in four asks filtered by user or by decision.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from psycopg_pool import AsyncConnectionPool

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from basira.audit.store import AuditStore  # noqa: E402
from basira.cli.session import bearer_metadata, dev_user_token  # noqa: E402
from basira.common.access_record import AccessRecord  # noqa: E402
from basira.common.bench import report  # noqa: E402
from basira.common.channels import open_aio_channel  # noqa: E402
from basira.runtime.supervisor import Platform, PlatformConfig  # noqa: E402
from basira.v1 import audit_pb2, audit_pb2_grpc, common_pb2  # noqa: E402
from e2e.console_client import ConsoleUser  # noqa: E402

USERS = [f"officer-{i}" for i in range(50)]
ACTIONS = ["search.plate", "evidence.view", "alert.stream", "alert.acknowledge", "evidence.unmask"]
PAGE = 100


def _record(i: int) -> AccessRecord:
    return AccessRecord(
        action=ACTIONS[i % len(ACTIONS)], user=USERS[i % len(USERS)], agency=["police", "gendarmerie"][i % 2],
        roles=["investigator"], allowed=i % 7 != 0, reasons=[] if i % 7 else ["zone not granted"],
        resource={"zone": "medina", "cameras": [f"cam-{i % 40}"], "data_class": "plate"},
        purpose="theft-investigation", case_id=f"CASE-2026-{i % 900:04d}", policy_revision="bench",
        service="search", method="/basira.v1.SearchService/SearchPlates", id=f"bench-{i:09d}")


async def fill(database_url: str, count: int) -> float:
    """Append `count` records; returns the seconds it took."""
    started = time.perf_counter()
    async with AsyncConnectionPool(database_url, min_size=1, max_size=2) as pool:
        store = AuditStore(pool)
        for first in range(0, count, 5000):
            await store.append_batch([_record(i) for i in range(first, min(count, first + 5000))], sign=False)
    return time.perf_counter() - started


def _query(rng: random.Random) -> dict[str, str]:
    roll = rng.random()
    if roll < 0.125:
        return {"user": rng.choice(USERS)}
    if roll < 0.25:
        return {"decision": "denied"}
    return {}


async def browse_console(user: ConsoleUser, seconds: float, seed: int) -> list[float]:
    rng, timings, token, filters = random.Random(seed), [], "", _query(random.Random(seed))
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        query = {**filters, "page_size": str(PAGE), "page_token": token}
        params = "&".join(f"{k}={v}" for k, v in query.items())
        started = time.perf_counter()
        status, body, _ = await user.call("GET", f"/api/audit/records?{params}")
        timings.append(time.perf_counter() - started)
        assert status == 200, body
        token = body["next_page_token"]
        if not token or rng.random() < 0.05:  # back to the newest page, maybe with other filters
            token, filters = "", _query(rng)
    return timings


async def browse_grpc(stub: audit_pb2_grpc.AuditServiceStub, token: str, seconds: float,
                      seed: int) -> list[float]:
    rng, timings, page_token, filters = random.Random(seed), [], "", _query(random.Random(seed))
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        decision = audit_pb2.ACCESS_DECISION_DENIED if filters.get("decision") else 0
        page = common_pb2.PageRequest(page_size=PAGE, page_token=page_token)
        request = audit_pb2.QueryAccessLogRequest(user=filters.get("user", ""), decision=decision,  # type: ignore[arg-type]
                                                  newest_first=True, page=page)
        started = time.perf_counter()
        reply = await stub.QueryAccessLog(request, metadata=bearer_metadata(token))
        timings.append(time.perf_counter() - started)
        page_token = reply.page.next_page_token
        if not page_token or rng.random() < 0.05:
            page_token, filters = "", _query(rng)
    return timings


def _figures(prefix: str, timings: list[list[float]], seconds: float) -> dict[str, Any]:
    flat = sorted(t for client in timings for t in client)
    return {f"{prefix}_requests": len(flat), f"{prefix}_requests_per_s": len(flat) / seconds,
            f"{prefix}_p50_ms": 1000 * statistics.median(flat),
            f"{prefix}_p95_ms": 1000 * flat[int(0.95 * (len(flat) - 1))]}


async def measure(platform: Platform, args: argparse.Namespace) -> dict[str, Any]:
    fill_s = await fill(platform.endpoints["postgres"], args.records)
    users = [ConsoleUser(platform) for _ in range(args.clients)]
    try:
        for user in users:
            await user.sign_in("oversight-auditor")
        console = await asyncio.gather(*(browse_console(u, args.seconds, i) for i, u in enumerate(users)))
    finally:
        for user in users:
            await user.close()
    token = dev_user_token(platform.endpoints["identity"], "oversight-auditor")
    channel = open_aio_channel(platform.endpoints["audit"])
    try:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        direct = await asyncio.gather(*(browse_grpc(stub, token, args.seconds, i)
                                        for i in range(args.clients)))
    finally:
        await channel.close(None)
    return {"records_in_log": args.records, "clients": args.clients, "seconds_each": args.seconds,
            "page_size": PAGE, "fill_records_per_s": args.records / fill_s,
            **_figures("console", console, args.seconds), **_figures("grpc_direct", direct, args.seconds),
            "load_average_1m": os.getloadavg()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="basira-bench-console-"))
    data_dir.chmod(0o755)
    config = PlatformConfig.from_env(data_dir=data_dir)
    config.nats_url = config.database_url = config.policy_url = config.oidc_url = ""
    platform = Platform(config)
    platform.start()
    try:
        with platform.client_settings():
            figures = asyncio.run(measure(platform, args))
    except grpc.RpcError as exc:
        print(f"bench-console failed: {exc}", file=sys.stderr)
        return 1
    finally:
        platform.stop()
    report("console", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
