"""The gate through gRPC on real servers, side by side in one run: no gate, the gate deciding in
process from the signed bundle (on the event loop, and in a decision worker process), and the gate
asking the policy service over HTTP.

Run: `.venv/bin/python loadtests/bench_gate.py [--seconds 10] [--rates 200,500] [--callers 16]
[--compare-security]`; writes var/bench/gate.json through `basira.common.bench.report`.

Same harness as services/tests/gate (dev issuer, NATS JetStream audit, a gRPC server with the gate
and recording stand-in servicers). The policy service runs as its own process, as deployed, serving
both the OPA Data API and the signed bundles; one gRPC server with the gate takes each mode in turn
(only its Authorizer changes), and the same stand-in servicers on a server without the gate give
the baseline. The client runs in another process so its work does not share the gate's event loop.
The RPC is CameraService.GetCamera by a police operator (allowed: token check + decision + audit
append with JetStream ack). Latency at a fixed rate is open loop (no coordinated omission); the
maximum is what `--callers` closed-loop callers complete per second. The machine is shared: the
load average before and after each part is reported beside the figures.

`--compare-security` also measures, in the same run and interleaved with the above, the worker gate
with the platform's security on (keys `*_secured`): gRPC over TLS with certificates from a local CA
(the client presents its own, as services do), a second NATS over TLS where every service logs in as
its own identity with least privilege (the gate is `ingest`'s, publishing its records as `ingest`),
and access records signed with `ingest`'s Ed25519 key; plus the no-gate baseline over TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
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
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from basira.common.audit_sink import AUDIT_SUBJECT_PREFIX, JetStreamAuditSink
from basira.common.bench import report
from basira.common.channels import open_aio_channel
from basira.common.gate import Gate, GateInterceptor
from basira.common.local_policy import BundleAuthorizer, InlineEvaluator, WorkerEvaluator
from basira.common.metrics import free_port
from basira.common.nats import GATED_SERVICES, connect, ensure_streams, require_streams, streams_used_by
from basira.common.nats_identity import OPERATOR, authorization_block, ensure_credentials
from basira.common.policy_client import PolicyClient
from basira.common.record_signing import ensure_signing_key as ensure_record_key
from basira.common.record_signing import load_private_key, load_public_keys, record_signature_problem
from basira.common.tls import TlsFiles, ensure_service_cert
from basira.policy.bundle import ensure_signing_key, load_public_key, public_key_path
from basira.runtime.nats_server import start_nats
from basira.runtime.processes import ManagedProcess
from basira.v1 import camera_pb2, camera_pb2_grpc

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "services" / "tests" / "gate" / "harness.py"
USER = "police-operator"
GATED_MODES = ("in_process_worker", "in_process_inline", "policy_service_http")
SECURED_MODES = ("no_gate_secured", "in_process_worker_secured")
SECURED_SERVICE = "ingest"  # CameraService is ingest's: its certificate, NATS identity and record key
SECURED_CLIENT = "bench-gate-client"  # the caller's certificate (mutual TLS, as between services)
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

async def _fixed_rate(port: int, token: str, rate: float, seconds: float,
                      tls: TlsFiles | None = None) -> dict[str, Any]:
    """Open loop: call i starts at t0 + i/rate whatever earlier calls do (no coordinated omission)."""
    metadata = (("authorization", f"Bearer {token}"),)
    request = camera_pb2.GetCameraRequest(camera_id="cam-medina-01")
    sent: list[float] = []
    errors: dict[str, int] = defaultdict(int)
    async with open_aio_channel(f"127.0.0.1:{port}", tls=tls) as channel:
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


async def _max_throughput(port: int, token: str, callers: int, seconds: float,
                          tls: TlsFiles | None = None) -> dict[str, Any]:
    """`callers` closed-loop callers for `seconds`: completed calls per second."""
    metadata = (("authorization", f"Bearer {token}"),)
    request = camera_pb2.GetCameraRequest(camera_id="cam-medina-01")
    done = 0
    async with open_aio_channel(f"127.0.0.1:{port}", tls=tls) as channel:
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


def client_process(mode: str, port: int, token: str, a: float, b: float, out: Any,
                   tls: TlsFiles | None = None) -> None:
    """Entry point of the client process; puts its result dict on `out`."""
    if mode == "rate":
        out.put(asyncio.run(_fixed_rate(port, token, a, b, tls)))
    else:
        out.put(asyncio.run(_max_throughput(port, token, int(a), b, tls)))


async def run_client(mode: str, port: int, token: str, a: float, b: float,
                     tls: TlsFiles | None = None) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=client_process, args=(mode, port, token, a, b, out, tls),
                              daemon=True)
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


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """What the service host serves with under TLS (its certificate; clients' verified when given)."""
    ca, cert, key = files.read()
    assert cert is not None and key is not None
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=False)


@dataclass
class SecuredStack:
    """The worker gate as `basira up --tls` runs it: TLS gRPC, NATS identities over TLS, signed records."""

    nats: ManagedProcess
    operator: NatsClient
    operator_js: JetStreamContext
    service_nc: NatsClient
    gate: Gate
    server: grpc.aio.Server
    baseline: grpc.aio.Server
    ports: dict[str, int]
    client_tls: TlsFiles
    record_keys: Path

    async def last_record_signature_problem(self) -> str | None:
        """Why the last record the gate appended is not signed by its service (None: it is)."""
        message = await self.operator_js.get_last_msg("AUDIT", AUDIT_SUBJECT_PREFIX + SECURED_SERVICE)
        assert message.data is not None
        return record_signature_problem(json.loads(message.data),
                                        load_public_keys(self.record_keys / "public"))

    async def close(self) -> None:
        await self.server.stop(0.5)
        await self.baseline.stop(0.5)
        await self.service_nc.close()
        await self.operator.close()
        self.nats.stop()


async def start_secured(harness_module: ModuleType, h: Any, data_dir: Path) -> SecuredStack:
    """A second NATS (identities, TLS) and TLS gRPC servers, with and without a gate for
    SECURED_SERVICE; its token check is the open harness's (same issuer), its authorizer set per run."""
    tls_dir, record_keys = data_dir / "tls", data_dir / "keys" / "records"
    identities = {name: ensure_credentials(data_dir / "nats-identities", name)
                  for name in (OPERATOR, *GATED_SERVICES)}
    nats_proc, nats_url = start_nats(data_dir, authorization=authorization_block(identities),
                                     tls=ensure_service_cert(tls_dir, "nats"))
    client_tls = ensure_service_cert(tls_dir, SECURED_CLIENT)
    operator, operator_js = await connect(nats_url, "bench-gate-operator", credentials=identities[OPERATOR],
                                          tls=client_tls)
    await ensure_streams(operator_js)  # the operator declares the streams; a service may not
    service_tls = ensure_service_cert(tls_dir, SECURED_SERVICE)
    service_nc, service_js = await connect(nats_url, SECURED_SERVICE, credentials=identities[SECURED_SERVICE],
                                           tls=service_tls)
    await require_streams(service_js, streams_used_by(SECURED_SERVICE))
    signing_key = load_private_key(ensure_record_key(record_keys, SECURED_SERVICE))
    gate = Gate(SECURED_SERVICE, h.gate.verifier, h.gate.authorizer,
                JetStreamAuditSink(service_js, SECURED_SERVICE, signing_key=signing_key),
                resolvers=dict(harness_module.SERVICE_RESOLVERS))
    credentials = server_credentials(service_tls)
    server = grpc.aio.server(interceptors=[GateInterceptor(gate)])
    harness_module.add_recording_servicers(server, harness_module.Recorder())
    baseline = grpc.aio.server()
    harness_module.add_recording_servicers(baseline, harness_module.Recorder())
    ports = {"in_process_worker_secured": server.add_secure_port("127.0.0.1:0", credentials),
             "no_gate_secured": baseline.add_secure_port("127.0.0.1:0", credentials)}
    await server.start()
    await baseline.start()
    return SecuredStack(nats=nats_proc, operator=operator, operator_js=operator_js, service_nc=service_nc,
                        gate=gate, server=server, baseline=baseline, ports=ports, client_tls=client_tls,
                        record_keys=record_keys)


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
    secured: SecuredStack | None = None
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
        modes: tuple[str, ...] = ("no_gate", *GATED_MODES)
        gates = dict.fromkeys(GATED_MODES, h.gate)
        wire: dict[str, TlsFiles | None] = dict.fromkeys(modes)
        decides = {mode: mode for mode in GATED_MODES}
        if args.compare_security:
            secured = await start_secured(harness_module, h, data_dir / "secured")
            figures["secured"] = (f"gRPC TLS (local CA, client certificate), NATS TLS as identity "
                                  f"{SECURED_SERVICE!r}, Ed25519-signed access records")
            modes += SECURED_MODES
            ports.update(secured.ports)
            wire.update(dict.fromkeys(SECURED_MODES, secured.client_tls))
            gates["in_process_worker_secured"] = secured.gate
            decides["in_process_worker_secured"] = "in_process_worker"
        try:
            for rate in args.rates:
                for mode in modes:
                    if mode in decides:
                        gates[mode].authorizer = TimedAuthorizer(authorizers[decides[mode]], times)
                    times.mode = mode if mode in decides else ""
                    figures[f"loadavg_before_{mode}_at_{rate}"] = os.getloadavg()[0]
                    run = await run_client("rate", ports[mode], token, rate, args.seconds, wire[mode])
                    times.mode = ""
                    figures.update(latency_figures(mode, rate, run))
            for mode in modes:
                if mode in decides:
                    gates[mode].authorizer = TimedAuthorizer(authorizers[decides[mode]], times)
                figures[f"loadavg_before_{mode}_max"] = os.getloadavg()[0]
                burst = await run_client("burst", ports[mode], token, args.callers, args.burst_seconds,
                                         wire[mode])
                figures[f"{mode}_max_decisions_per_s" if mode in decides else f"{mode}_max_calls_per_s"] = (
                    burst["rate"])
            if secured is not None:
                problem = await secured.last_record_signature_problem()
                figures["secured_record_signature_verified"] = problem is None
                if problem:
                    print(f"secured: the last access record does not verify: {problem}", flush=True)
        finally:
            if secured is not None:
                await secured.close()
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
    if args.compare_security:
        for rate in args.rates:
            for q in ("p50", "p99", "p999"):
                figures[f"in_process_worker_secured_added_{q}_ms_at_{rate}"] = (
                    figures[f"in_process_worker_secured_{q}_ms_at_{rate}"]
                    - figures[f"no_gate_secured_{q}_ms_at_{rate}"])
                figures[f"security_added_worker_{q}_ms_at_{rate}"] = (
                    figures[f"in_process_worker_secured_{q}_ms_at_{rate}"]
                    - figures[f"in_process_worker_{q}_ms_at_{rate}"])
                figures[f"security_added_no_gate_{q}_ms_at_{rate}"] = (
                    figures[f"no_gate_secured_{q}_ms_at_{rate}"] - figures[f"no_gate_{q}_ms_at_{rate}"])
        figures["security_max_decisions_ratio"] = (figures["in_process_worker_secured_max_decisions_per_s"]
                                                   / figures["in_process_worker_max_decisions_per_s"])
    figures["loadavg_1m_after"] = os.getloadavg()[0]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each fixed-rate run")
    parser.add_argument("--rates", type=lambda text: [int(r) for r in text.split(",")], default=[200, 500],
                        help="requests per second of the fixed-rate runs (comma-separated)")
    parser.add_argument("--callers", type=int, default=16, help="concurrent callers for max throughput")
    parser.add_argument("--burst-seconds", type=float, default=5.0, help="length of each max-throughput run")
    parser.add_argument("--compare-security", action="store_true",
                        help="also the worker gate (and no gate) with TLS, NATS identities and signed "
                        "records, in the same run; figures *_secured and security_added_*")
    args = parser.parse_args()
    report("gate", asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
