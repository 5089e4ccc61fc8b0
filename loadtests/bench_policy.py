"""Policy decisions per second: in-process on the embedded engine, and over HTTP through PolicyClient.

Run: `.venv/bin/python loadtests/bench_policy.py [--seconds 2] [--policy-dir policy]`; writes
var/bench/policy.json through `basira.common.bench.report`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from basira.common.bench import report
from basira.common.policy_client import PolicyClient
from basira.policy.api import start_server
from basira.policy.engine import CompiledPolicy, load_policy_dir
from basira.policy.store import PolicyStore

NOW = "2026-03-01T10:00:00Z"
COURT_ORDER = {
    "id": "AUTH-2026-17",
    "issued_by": "court",
    "scope": {"zones": ["medina"], "cameras": []},
    "expires": "2026-04-01T00:00:00Z",
}

SCENARIOS: dict[str, dict[str, Any]] = {
    # an operator lists cameras: the common, cheap path
    "camera_list": {
        "subject": {"user": "omar", "agency": "police", "roles": ["operator"], "clearance": 2},
        "action": "camera.list",
        "resource": {},
        "context": {"time": NOW},
    },
    # a plate hit delivered to an agency: the high-rate non-RPC act
    "match_plate": {
        "subject": {"user": "service:alerting", "agency": "platform", "roles": ["service"], "clearance": 0},
        "action": "match.plate",
        "resource": {
            "cameras": ["cam-ring-01"],
            "entry_expires": "2026-06-01T00:00:00Z",
            "recipient_agency": "traffic",
        },
        "context": {"purpose": "stolen-vehicle", "time": NOW},
    },
    # a face search under a court order: the full path, masks evaluated for evidence.unmask too
    "search_face": {
        "subject": {"user": "amina", "agency": "police", "roles": ["investigator"], "clearance": 2},
        "action": "search.face",
        "resource": {"zone": "medina", "cameras": ["cam-medina-01"]},
        "context": {
            "purpose": "theft-investigation",
            "case_id": "CASE-2026-0042",
            "time": NOW,
            "authorization": COURT_ORDER,
        },
    },
    # a denial with several reasons
    "denied": {
        "subject": {"user": "hamza", "agency": "traffic", "roles": ["operator"], "clearance": 1},
        "action": "search.face",
        "resource": {"zone": "airport"},
        "context": {"time": NOW},
    },
}


def in_process(
    compiled: CompiledPolicy, policy_input: dict[str, Any], seconds: float
) -> tuple[float, list[float]]:
    """(decisions per second, per-decision latencies in µs) over about `seconds`."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        compiled.decide(policy_input)
        latencies.append((time.perf_counter() - started) * 1e6)
    return len(latencies) / (sum(latencies) / 1e6), latencies


async def over_http(
    policy_dir: Path, policy_input: dict[str, Any], seconds: float, concurrency: int
) -> float:
    """Decisions per second through PolicyClient against the real server, `concurrency` callers."""
    runner, port = await start_server(PolicyStore(load_policy_dir(policy_dir)), "127.0.0.1", 0)
    done = 0
    try:
        async with PolicyClient(f"http://127.0.0.1:{port}", timeout=5.0) as client:
            await client.decide(policy_input)
            deadline = time.perf_counter() + seconds

            async def caller() -> None:
                nonlocal done
                while time.perf_counter() < deadline:
                    await client.decide(policy_input)
                    done += 1

            started = time.perf_counter()
            await asyncio.gather(*(caller() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
    finally:
        await runner.cleanup()
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per scenario")
    parser.add_argument("--policy-dir", type=Path, default=Path("policy"))
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent HTTP callers")
    args = parser.parse_args()

    started = time.perf_counter()
    compiled = CompiledPolicy(load_policy_dir(args.policy_dir))
    figures: dict[str, Any] = {
        "compile_ms": (time.perf_counter() - started) * 1000,
        "revision": compiled.revision,
    }
    for name, policy_input in SCENARIOS.items():
        compiled.decide(policy_input)  # warm this thread's engine
        rate, latencies = in_process(compiled, policy_input, args.seconds)
        figures[f"{name}_decisions_per_s"] = rate
        figures[f"{name}_p50_us"] = statistics.median(latencies)
        figures[f"{name}_p99_us"] = statistics.quantiles(latencies, n=100)[98]
    figures["http_camera_list_decisions_per_s"] = asyncio.run(
        over_http(args.policy_dir, SCENARIOS["camera_list"], args.seconds, args.concurrency)
    )
    figures["http_concurrency"] = args.concurrency
    report("policy", figures)


if __name__ == "__main__":
    main()
