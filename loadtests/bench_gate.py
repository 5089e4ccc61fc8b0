"""The gate through gRPC on real servers: latency at a fixed request rate, then the most decisions/s.

Run: `.venv/bin/python loadtests/bench_gate.py [--seconds 10] [--rate 200] [--callers 16]
[--policy-in-process] [--profile]`; writes var/bench/gate.json through `basira.common.bench.report`.

Same harness as services/tests/gate (dev issuer, policy service, NATS JetStream audit, gRPC server with
the gate and recording stand-in servicers). By default the policy service runs as its own process
(`python -m basira.policy`), as deployed; the gRPC client runs in another process so its work does not
share the gate's event loop. The cheap RPC is CameraService.GetCamera by a police operator (allowed,
so every call pays token check + policy round trip + audit append with JetStream ack). Stage times
(token verify, policy decision, audit append) are measured inside the gate process by wrapping the
gate's three collaborators; `--profile` adds a cProfile of the gate process during the fixed-rate run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import io
import multiprocessing
import os
import pstats
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
from basira.common.metrics import free_port
from basira.runtime.nats_server import start_nats
from basira.v1 import camera_pb2, camera_pb2_grpc

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "services" / "tests" / "gate" / "harness.py"
USER = "police-operator"


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
    scheduled: list[float] = []
    errors: dict[str, int] = defaultdict(int)
    async with open_aio_channel(f"127.0.0.1:{port}") as channel:
        stub = camera_pb2_grpc.CameraServiceStub(channel)
        for _ in range(20):
            await stub.GetCamera(request, metadata=metadata)

        async def one(due: float) -> None:
            started = time.perf_counter()
            try:
                await stub.GetCamera(request, metadata=metadata)
            except grpc.aio.AioRpcError as error:
                errors[error.code().name] += 1
                return
            done = time.perf_counter()
            sent.append((done - started) * 1000)
            scheduled.append((done - due) * 1000)

        tasks = []
        cpu_started = time.process_time()
        total = int(rate * seconds)
        start = time.perf_counter() + 0.05
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {"latencies_ms": sent, "from_schedule_ms": scheduled, "errors": dict(errors),
            "achieved_rate": total / elapsed, "cpu_s": time.process_time() - cpu_started}


async def _max_throughput(port: int, token: str, callers: int, seconds: float) -> dict[str, Any]:
    """`callers` closed-loop callers for `seconds`: completed calls per second."""
    metadata = (("authorization", f"Bearer {token}"),)
    request = camera_pb2.GetCameraRequest(camera_id="cam-medina-01")
    latencies: list[float] = []
    async with open_aio_channel(f"127.0.0.1:{port}") as channel:
        stub = camera_pb2_grpc.CameraServiceStub(channel)
        await stub.GetCamera(request, metadata=metadata)
        deadline = time.perf_counter() + seconds

        async def caller() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await stub.GetCamera(request, metadata=metadata)
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        elapsed = time.perf_counter() - started
    return {"rate": len(latencies) / elapsed, "latencies_ms": latencies}


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


# ---- stage timing inside the gate process -------------------------------------------------------

class Stages:
    """Wall time of each awaited gate stage, in ms, recorded while `on` is set."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.on = False

    def wrap(self, name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                if self.on:
                    self.times[name].append((time.perf_counter() - started) * 1000)
        return timed


def instrument(gate: Any, stages: Stages) -> None:
    """Time the gate's three collaborators (the gate itself is untouched)."""
    gate.verifier.verify = stages.wrap("token_verify", gate.verifier.verify)
    gate.authorizer.decide = stages.wrap("policy_decide", gate.authorizer.decide)
    gate.audit.append = stages.wrap("audit_append", gate.audit.append)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_policy_process(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (data_dir / "policy.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "basira.policy", "--policy-dir", str(REPO / "policy"),
                             "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"policy service did not start; see {data_dir / 'policy.log'}")


async def serial_stages(h: Any, token: str, repeat: int) -> dict[str, float]:
    """p50 (ms) of each gate stage called alone, one at a time, in the gate process."""
    from basira.common.access_record import AccessRecord
    from basira.common.policy_input import policy_input
    from basira.policy.engine import CompiledPolicy, load_policy_dir

    subject = await h.gate.verifier.verify(token)
    document = policy_input(subject.to_policy(), "camera.get",
                            {"data_class": "camera_meta", "cameras": ["cam-medina-01"]},
                            {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                             "source_ip": "127.0.0.1"})
    decision = await h.gate.authorizer.decide(document)
    record = AccessRecord(action="camera.get", user=subject.user, agency=subject.agency,
                          roles=list(subject.roles), allowed=True, resource=document["resource"],
                          obligations=decision.obligations, policy_revision=decision.revision,
                          result_count=1)
    compiled = CompiledPolicy(load_policy_dir(REPO / "policy"))
    compiled.decide(document)

    async def verify() -> None:
        await h.gate.verifier.verify(token)

    async def decide() -> None:
        await h.gate.authorizer.decide(document)

    async def append() -> None:
        await h.gate.audit.append(AccessRecord(**{**record.to_dict(), "id": os.urandom(16).hex()}))

    async def encode() -> None:
        record.to_json()

    async def embedded() -> None:
        compiled.decide(document)

    out: dict[str, float] = {}
    for name, step in [("token_verify", verify), ("record_to_json", encode),
                       ("policy_decide_http", decide), ("policy_eval_embedded", embedded),
                       ("audit_append", append)]:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            await step()
            times.append((time.perf_counter() - started) * 1000)
        out[f"serial_{name}_p50_ms"] = statistics.median(times)
    return out


async def start_baseline(harness_module: ModuleType) -> tuple[grpc.aio.Server, int]:
    """The same stand-in servicers on a gRPC server without the gate: what the gate adds is the gap."""
    server = grpc.aio.server()
    harness_module.add_recording_servicers(server, harness_module.Recorder())
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


def profile_text(profiler: cProfile.Profile, limit: int) -> str:
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.strip_dirs().sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    return text.getvalue()


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    harness_module = load_harness()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-gate-"))
    nats_proc, nats_url = start_nats(data_dir)
    policy_proc = None
    try:
        policy_url = None
        if not args.policy_in_process:
            policy_proc, policy_url = start_policy_process(data_dir)
        h = await harness_module.start_harness(nats_url, data_dir, service="bench-gate",
                                               policy_url=policy_url, policy_timeout_s=5.0)
        stages = Stages()
        instrument(h.gate, stages)
        token = h.token(USER)
        try:
            profiler = cProfile.Profile() if args.profile else None
            others = {"policy": policy_proc.pid if policy_proc else 0, "nats": nats_proc.pid}
            cpu_before = {name: cpu_seconds(pid) for name, pid in others.items() if pid}
            cpu_before["gate"] = time.process_time()
            load_before = os.getloadavg()[0]
            stages.on = True
            if profiler:
                profiler.enable()
            fixed = await run_client("rate", h.grpc_port, token, args.rate, args.seconds)
            if profiler:
                profiler.disable()
            stages.on = False
            calls = len(fixed["latencies_ms"]) or 1
            cpu_ms = {name: (cpu_seconds(others[name]) - start) * 1000 / calls
                      for name, start in cpu_before.items() if name != "gate"}
            cpu_ms["gate"] = (time.process_time() - cpu_before["gate"]) * 1000 / calls
            cpu_ms["client"] = fixed["cpu_s"] * 1000 / calls
            load_after = os.getloadavg()[0]
            burst = await run_client("burst", h.grpc_port, token, args.callers, args.burst_seconds)
            served = len(h.recorder.invocations)
            baseline_server, baseline_port = await start_baseline(harness_module)
            try:
                cpu_started = time.process_time()
                baseline = await run_client("rate", baseline_port, token, args.rate, args.seconds)
                cpu_ms["server_without_gate"] = ((time.process_time() - cpu_started) * 1000
                                                 / max(1, len(baseline["latencies_ms"])))
            finally:
                await baseline_server.stop(0.5)
            stage_figures = await serial_stages(h, token, 300)
        finally:
            await h.close()
    finally:
        if policy_proc is not None:
            policy_proc.terminate()
            policy_proc.wait(10)
        nats_proc.stop()
    lat = fixed["latencies_ms"]
    figures: dict[str, Any] = {
        "rpc": "CameraService.GetCamera (allowed: token + policy + audit ack)",
        "policy_service": "in-process" if args.policy_in_process else "own process",
        "target_rate_per_s": args.rate,
        "achieved_rate_per_s": fixed["achieved_rate"],
        "calls_at_rate": len(lat),
        "errors_at_rate": sum(fixed["errors"].values()),
        "p50_ms_at_rate": statistics.median(lat),
        "p90_ms_at_rate": percentile(lat, 90),
        "p99_ms_at_rate": percentile(lat, 99),
        "max_ms_at_rate": max(lat),
        "p99_ms_from_schedule": percentile(fixed["from_schedule_ms"], 99),
        "p99_target_ms": 5.0,
        "p99_target_met": percentile(lat, 99) < 5.0,
    }
    base = baseline["latencies_ms"]
    figures["no_gate_p50_ms_at_rate"] = statistics.median(base)
    figures["no_gate_p99_ms_at_rate"] = percentile(base, 99)
    figures["gate_added_p50_ms"] = figures["p50_ms_at_rate"] - figures["no_gate_p50_ms_at_rate"]
    for name, values in stages.times.items():
        figures[f"{name}_p50_ms"] = statistics.median(values)
        figures[f"{name}_p99_ms"] = percentile(values, 99)
    for name, value in cpu_ms.items():
        figures[f"cpu_ms_per_call_{name}"] = value
    figures["cpu_ms_per_call_total"] = sum(v for k, v in cpu_ms.items() if k != "server_without_gate")
    figures["loadavg_1m_before"] = load_before
    figures["loadavg_1m_after"] = load_after
    figures.update(stage_figures)
    figures.update({
        "max_decisions_per_s": burst["rate"],
        "max_callers": args.callers,
        "p50_ms_at_max": statistics.median(burst["latencies_ms"]),
        "p99_ms_at_max": percentile(burst["latencies_ms"], 99),
        "servicer_calls": served,
        "cores": os.cpu_count(),
    })
    if args.profile and profiler is not None:
        print(profile_text(profiler, args.profile_lines))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the fixed-rate run")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second of that run")
    parser.add_argument("--callers", type=int, default=16, help="concurrent callers for max throughput")
    parser.add_argument("--burst-seconds", type=float, default=5.0, help="length of the max-throughput run")
    parser.add_argument("--policy-in-process", action="store_true",
                        help="serve the policy on the gate's event loop instead of its own process")
    parser.add_argument("--profile", action="store_true", help="cProfile the gate process at the fixed rate")
    parser.add_argument("--profile-lines", type=int, default=25)
    args = parser.parse_args()
    report("gate", asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
