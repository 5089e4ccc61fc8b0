"""The gate through gRPC on real servers, side by side in one run: no gate, the gate deciding in
process from the signed bundle (on the event loop, and in a decision worker process), and the gate
asking the policy service over HTTP.

Run: `.venv/bin/python loadtests/bench_gate.py [--seconds 10] [--rates 200,500] [--callers 16]`;
writes var/bench/gate.json through `basira.common.bench.report`.

Same harness as services/tests/gate (dev issuer, NATS JetStream audit, a gRPC server with the gate
and recording stand-in servicers). The policy service runs as its own process, as deployed, serving
both the OPA Data API and the signed bundles; one gRPC server with the gate takes each mode in turn
(only its Authorizer changes), and the same stand-in servicers on a server without the gate give
the baseline. The client runs in another process so its work does not share the gate's event loop.
The RPC is CameraService.GetCamera by a police operator (allowed: token check + decision + audit
append with JetStream ack). Latency at a fixed rate is open loop (no coordinated omission); the
maximum is what `--callers` closed-loop callers complete per second. The machine is shared: the
load average before and after each part is reported beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc

from basira.common.bench import report
from basira.common.channels import open_aio_channel
from basira.common.local_policy import BundleAuthorizer, InlineEvaluator, WorkerEvaluator
from basira.common.metrics import free_port
from basira.common.policy_client import PolicyClient
from basira.policy.bundle import ensure_signing_key, load_public_key, public_key_path
from basira.runtime.nats_server import start_nats
from basira.v1 import camera_pb2, camera_pb2_grpc

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "services" / "tests" / "gate" / "harness.py"
USER = "police-operator"
GATED_MODES = ("in_process_worker", "in_process_inline", "policy_service_http")
TARGET_ADDED_P50_MS, TARGET_ADDED_P99_MS, TARGET_MAX_PER_S = 1.0, 3.0, 1500.0


def load_harness() -> ModuleType:
    """services/tests/gate/harness.py, loaded by path (tests are not an installed package)."""
    spec = importlib.util.spec_from_file_location("gate_harness", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gate_harness"] = module
    spec.loader.exec_module(module)
    return module


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


# ---- the client (its own process) --------------------------------------------------------------

async def _fixed_rate(port: int, token: str, rate: float, seconds: float) -> dict[str, Any]:
    """Open loop: call i starts at t0 + i/rate whatever earlier calls do (no coordinated omission)."""
    metadata = (("authorization", f"Bearer {token}"),)
    request = camera_pb2.GetCameraRequest(camera_id="cam-medina-01")
    sent: list[float] = []
    errors: dict[str, int] = defaultdict(int)
    async with open_aio_channel(f"127.0.0.1:{port}") as channel:
        stub = camera_pb2_grpc.CameraServiceStub(channel)
        for _ in range(50):
            await stub.GetCamera(request, metadata=metadata)

        async def one() -> None:
            started = time.perf_counter()
            try:
                await stub.GetCamera(request, metadata=metadata)
            except grpc.aio.AioRpcError as error:
                errors[error.code().name] += 1
                return
            sent.append((time.perf_counter() - started) * 1000)

        tasks = []
        total = int(rate * seconds)
        start = time.perf_counter() + 0.05
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {"latencies_ms": sent, "errors": dict(errors), "achieved_rate": total / elapsed}


async def _max_throughput(port: int, token: str, callers: int, seconds: float) -> dict[str, Any]:
    """`callers` closed-loop callers for `seconds`: completed calls per second."""
    metadata = (("authorization", f"Bearer {token}"),)
    request = camera_pb2.GetCameraRequest(camera_id="cam-medina-01")
    done = 0
    async with open_aio_channel(f"127.0.0.1:{port}") as channel:
        stub = camera_pb2_grpc.CameraServiceStub(channel)
        await stub.GetCamera(request, metadata=metadata)
        deadline = time.perf_counter() + seconds

        async def caller() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await stub.GetCamera(request, metadata=metadata)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        elapsed = time.perf_counter() - started
    return {"rate": done / elapsed}


def client_process(mode: str, port: int, token: str, a: float, b: float, out: Any) -> None:
    """Entry point of the client process; puts its result dict on `out`."""
    if mode == "rate":
        out.put(asyncio.run(_fixed_rate(port, token, a, b)))
    else:
        out.put(asyncio.run(_max_throughput(port, token, int(a), b)))


async def run_client(mode: str, port: int, token: str, a: float, b: float) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=client_process, args=(mode, port, token, a, b, out), daemon=True)
    process.start()
    result: dict[str, Any] = await asyncio.to_thread(out.get)
    await asyncio.to_thread(process.join)
    return result


# ---- the servers ---------------------------------------------------------------------------------

class DecideTimes:
    """Wall time of each decision inside the gate process, per mode, while `mode` is set."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.mode = ""

    def wrap(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                if self.mode:
                    self.times[self.mode].append((time.perf_counter() - started) * 1000)
        return timed


class TimedAuthorizer:
    def __init__(self, inner: Any, times: DecideTimes) -> None:
        self.inner, self.decide = inner, times.wrap(inner.decide)


def start_policy_process(data_dir: Path, signing_key: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (data_dir / "policy.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "basira.policy", "--policy-dir", str(REPO / "policy"),
                             "--host", "127.0.0.1", "--port", str(port), "--signing-key", str(signing_key)],
                            stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"policy service did not start; see {data_dir / 'policy.log'}")


async def start_baseline(harness_module: ModuleType) -> tuple[grpc.aio.Server, int]:
    """The same stand-in servicers on a gRPC server without the gate: what the gate adds is the gap."""
    server = grpc.aio.server()
    harness_module.add_recording_servicers(server, harness_module.Recorder())
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


def latency_figures(prefix: str, rate: int, run: dict[str, Any]) -> dict[str, Any]:
    lat = run["latencies_ms"]
    return {
        f"{prefix}_p50_ms_at_{rate}": statistics.median(lat) if lat else float("nan"),
        f"{prefix}_p99_ms_at_{rate}": percentile(lat, 99),
        f"{prefix}_p999_ms_at_{rate}": percentile(lat, 99.9),
        f"{prefix}_achieved_rate_at_{rate}": run["achieved_rate"],
        f"{prefix}_errors_at_{rate}": sum(run["errors"].values()),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    harness_module = load_harness()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-gate-"))
    signing_key = data_dir / "policy" / "bundle-signing-key.pem"
    ensure_signing_key(signing_key)
    nats_proc, nats_url = start_nats(data_dir)
    policy_proc, policy_url = start_policy_process(data_dir, signing_key)
    figures: dict[str, Any] = {"rpc": "CameraService.GetCamera (allowed: token + decision + audit ack)",
                               "cores": os.cpu_count(), "seconds_per_run": args.seconds}
    times = DecideTimes()
    authorizers: dict[str, Any] = {}
    try:
        h = await harness_module.start_harness(nats_url, data_dir, service="bench-gate",
                                               policy_url=policy_url, policy_timeout_s=5.0)
        public_key = load_public_key(public_key_path(signing_key))
        authorizers = {
            "in_process_worker": BundleAuthorizer(policy_url, public_key, evaluator=WorkerEvaluator()),
            "in_process_inline": BundleAuthorizer(policy_url, public_key, evaluator=InlineEvaluator()),
            "policy_service_http": PolicyClient(policy_url, timeout=5.0),
        }
        for authorizer in authorizers.values():
            if isinstance(authorizer, BundleAuthorizer):
                await authorizer.start()
        baseline_server, baseline_port = await start_baseline(harness_module)
        token = h.token(USER)
        ports = {"no_gate": baseline_port, **dict.fromkeys(GATED_MODES, h.grpc_port)}
        try:
            for rate in args.rates:
                for mode in ("no_gate", *GATED_MODES):
                    if mode in authorizers:
                        h.gate.authorizer = TimedAuthorizer(authorizers[mode], times)
                    times.mode = mode if mode in authorizers else ""
                    figures[f"loadavg_before_{mode}_at_{rate}"] = os.getloadavg()[0]
                    run = await run_client("rate", ports[mode], token, rate, args.seconds)
                    times.mode = ""
                    figures.update(latency_figures(mode, rate, run))
            for mode in ("no_gate", *GATED_MODES):
                if mode in authorizers:
                    h.gate.authorizer = TimedAuthorizer(authorizers[mode], times)
                figures[f"loadavg_before_{mode}_max"] = os.getloadavg()[0]
                burst = await run_client("burst", ports[mode], token, args.callers, args.burst_seconds)
                figures[f"{mode}_max_decisions_per_s" if mode != "no_gate" else "no_gate_max_calls_per_s"] = (
                    burst["rate"])
        finally:
            await baseline_server.stop(0.5)
            h.gate.authorizer = authorizers["policy_service_http"]
            for authorizer in authorizers.values():
                if isinstance(authorizer, BundleAuthorizer):
                    await authorizer.close()
            await h.close()
    finally:
        policy_proc.terminate()
        policy_proc.wait(10)
        nats_proc.stop()
    for mode, values in times.times.items():
        figures[f"{mode}_decide_p50_ms"] = statistics.median(values)
        figures[f"{mode}_decide_p99_ms"] = percentile(values, 99)
    for mode in GATED_MODES:
        for rate in args.rates:
            figures[f"{mode}_added_p50_ms_at_{rate}"] = (figures[f"{mode}_p50_ms_at_{rate}"]
                                                         - figures[f"no_gate_p50_ms_at_{rate}"])
            figures[f"{mode}_added_p99_ms_at_{rate}"] = (figures[f"{mode}_p99_ms_at_{rate}"]
                                                         - figures[f"no_gate_p99_ms_at_{rate}"])
        if mode.startswith("in_process"):
            figures[f"{mode}_targets_met"] = all(
                figures[f"{mode}_added_p50_ms_at_{rate}"] <= TARGET_ADDED_P50_MS
                and figures[f"{mode}_added_p99_ms_at_{rate}"] <= TARGET_ADDED_P99_MS
                for rate in args.rates) and figures[f"{mode}_max_decisions_per_s"] >= TARGET_MAX_PER_S
    figures["loadavg_1m_after"] = os.getloadavg()[0]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each fixed-rate run")
    parser.add_argument("--rates", type=lambda text: [int(r) for r in text.split(",")], default=[200, 500],
                        help="requests per second of the fixed-rate runs (comma-separated)")
    parser.add_argument("--callers", type=int, default=16, help="concurrent callers for max throughput")
    parser.add_argument("--burst-seconds", type=float, default=5.0, help="length of each max-throughput run")
    args = parser.parse_args()
    report("gate", asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
