"""`make load`: locust's city mix (loadtests/locustfile.py) headless against the embedded platform.

Starts the whole embedded platform (as the e2e tests and bench_pipeline do), or attaches to one
already running with `--data-dir` (`basira up --data-dir ...`), then:

1. registers one body-worn camera per simulated camera user, hotlists a few plates of the road photos
   of ../shared/data/plates/eu and pushes those photos once, so searches find sightings and operators'
   streams have alerts;
2. runs locust headless for `--duration` seconds with `--users` users (`--spawn-rate` a second);
3. prints, per call, requests, requests/s, p50/p99 (ms) and failures, then each distinct failure,
   and writes var/bench/load.json (through `basira.common.bench.report`).

    .venv/bin/python loadtests/load.py                       # 20 users, 60 s
    .venv/bin/python loadtests/load.py --users 40 --duration 300
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

from basira.cli.session import bearer_metadata, dev_user_token, load_endpoints
from basira.common.bench import report
from basira.common.channels import open_channel
from basira.runtime.supervisor import Platform, PlatformConfig
from basira.v1 import (
    camera_pb2,
    camera_pb2_grpc,
    common_pb2,
    search_pb2,
    search_pb2_grpc,
    watchlist_pb2,
    watchlist_pb2_grpc,
)

HERE = Path(__file__).resolve().parent
SHARED = (HERE.parent / ".." / "shared" / "data").resolve()
LOCUSTFILE = HERE / "locustfile.py"
STOLEN = common_pb2.AccessContext(purpose="stolen-vehicle", case_id="CASE-2026-7001")


def _token(endpoints: dict[str, str], user: str) -> tuple[tuple[str, str]]:
    return bearer_metadata(dev_user_token(endpoints["identity"], user))


def road_photos(limit: int) -> list[tuple[str, Path]]:
    """(plate, photo) of the first `limit` EU road photos, in name order."""
    labels = sorted((SHARED / "plates" / "eu").glob("*.txt"))[:limit]
    return [(label.read_text().split("\t")[-1].strip(), label.with_suffix(".jpg")) for label in labels]


def register_cameras(endpoints: dict[str, str], count: int, prefix: str = "bwc-load") -> list[str]:
    """`count` police body-worn cameras in the medina (kept if already registered)."""
    stub = camera_pb2_grpc.CameraServiceStub(open_channel(endpoints["ingest"]))
    admin = _token(endpoints, "police-admin")
    ids = [f"{prefix}-{i:02d}" for i in range(1, count + 1)]
    for camera in ids:
        try:
            stub.RegisterCamera(camera_pb2.RegisterCameraRequest(camera=camera_pb2.Camera(
                id=camera, name=camera, kind=camera_pb2.CAMERA_KIND_BODY_WORN, zone="medina",
                owner_agency="police", analysis_fps=1)), metadata=admin)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
    return ids


def seed(endpoints: dict[str, str], camera: str, photos: list[tuple[str, Path]], hotlisted: int) -> None:
    """Hotlist the first `hotlisted` plates, push every photo once, wait until the last is searchable."""
    hotlists = watchlist_pb2_grpc.WatchlistServiceStub(open_channel(endpoints["analytics"]))
    investigator = _token(endpoints, "police-investigator")
    for plate, _ in photos[:hotlisted]:
        entry = watchlist_pb2.HotlistEntry(
            plate=plate, reason=watchlist_pb2.HOTLIST_REASON_STOLEN, confusable_tolerant=True,
            legal_basis=watchlist_pb2.LegalBasis(kind="stolen-vehicle-report", reference="LOAD",
                                                 issued_by="police"))
        entry.expires.FromDatetime(datetime.now(UTC) + timedelta(days=1))
        hotlists.AddHotlistPlate(watchlist_pb2.AddHotlistPlateRequest(entry=entry, access=STOLEN),
                                 metadata=investigator)
    time.sleep(2.0)  # the matcher reloads on watchlist.changed
    start = datetime.now(UTC) - timedelta(seconds=len(photos))

    def frames() -> Iterator[camera_pb2.PushFramesRequest]:
        for i, (_, path) in enumerate(photos):
            request = camera_pb2.PushFramesRequest(camera_id=camera if i == 0 else "",
                                                   image=path.read_bytes())
            request.captured.FromDatetime(start + timedelta(seconds=i))
            yield request

    ingest = camera_pb2_grpc.FrameIngestServiceStub(open_channel(
        endpoints["ingest"], options=[("grpc.max_send_message_length", 32 << 20)]))
    ingest.PushFrames(frames(), metadata=_token(endpoints, "bodycam-01"))
    search = search_pb2_grpc.SearchServiceStub(open_channel(endpoints["search"]))
    request = search_pb2.SearchPlatesRequest(plate=photos[-1][0], mode=search_pb2.PLATE_MATCH_MODE_EXACT,
                                             access=STOLEN)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if search.SearchPlates(request, metadata=investigator).sightings:
            return
        time.sleep(1.0)
    print(f"warning: {photos[-1][0]} not searchable after 120 s; searches may find nothing", flush=True)


@dataclass(frozen=True)
class LoadRun:
    """What one locust run measured: per call (and `Aggregated`) requests, failures, requests/s,
    p50/p99 (ms), and each distinct failure as `call: error (xN)`."""

    calls: dict[str, dict[str, float]]
    failures: list[str]


def run_locust(endpoints: dict[str, str], *, users: int, spawn_rate: float, duration_s: int,
               frames_dir: Path, plates: Sequence[str], cameras: Sequence[str], face: Path,
               report_path: Path) -> LoadRun:
    """Run loadtests/locustfile.py headless in its own process (gevent stays out of this one)."""
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.unlink(missing_ok=True)
    env = dict(os.environ,
               BASIRA_LOAD_ENDPOINTS=json.dumps(endpoints), BASIRA_LOAD_FRAMES=str(frames_dir),
               BASIRA_LOAD_FACE=str(face), BASIRA_LOAD_PLATES=",".join(plates),
               BASIRA_LOAD_CAMERAS=",".join(cameras), BASIRA_LOAD_REPORT=str(report_path))
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
               "--users", str(users), "--spawn-rate", str(spawn_rate), "--run-time", f"{duration_s}s",
               "--stop-timeout", "10", "--exit-code-on-error", "0", "--loglevel", "WARNING"]
    done = subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=duration_s + 120, check=False)
    if done.returncode != 0 or not report_path.exists():
        raise RuntimeError(f"locust exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    written = json.loads(report_path.read_text())
    return LoadRun(calls=written["calls"], failures=written["failures"])


def figures_of(stats: dict[str, dict[str, float]], duration_s: int, users: int) -> dict[str, float | str]:
    """Flat figures for report(): per call `<call>.<figure>`, and the totals of locust's Aggregated row."""
    total = stats.get("Aggregated", {})
    figures: dict[str, float | str] = {
        "users": users, "duration_s": duration_s,
        "requests_per_s": total.get("requests_per_s", 0.0), "requests": total.get("requests", 0),
        "failures": total.get("failures", 0), "p50_ms": total.get("p50_ms", -1.0),
        "p99_ms": total.get("p99_ms", -1.0),
    }
    for name, row in sorted(stats.items()):
        if name != "Aggregated":
            for key, value in row.items():
                figures[f"{name}.{key}"] = value
    return figures


def print_table(stats: dict[str, dict[str, float]]) -> None:
    print(f"{'call':38} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'failures':>8}")
    for name, row in sorted(stats.items(), key=lambda item: item[0] == "Aggregated"):
        print(f"{name:38} {row['requests']:8.0f} {row['requests_per_s']:7.2f} {row['p50_ms']:8.0f} "
              f"{row['p99_ms']:8.0f} {row['failures']:8.0f}")


@contextmanager
def platform_endpoints(data_dir: Path | None) -> Iterator[dict[str, str]]:
    """A running platform's endpoints (`--data-dir`), or a fresh embedded platform's, stopped after."""
    if data_dir is not None:
        yield load_endpoints(data_dir)
        return
    scratch = Path(tempfile.mkdtemp(prefix="basira-load-"))
    scratch.chmod(0o755)
    platform = Platform(PlatformConfig.from_env(data_dir=scratch))
    print("starting the platform ...", flush=True)
    platform.start()
    try:
        with platform.client_settings():  # this process's and locust's clients (it inherits them)
            yield dict(platform.endpoints)
    finally:
        platform.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=5.0)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--photos", type=int, default=20, help="road photos the body cameras cycle through")
    parser.add_argument("--hotlisted", type=int, default=5, help="of which plates hotlisted (alerts)")
    parser.add_argument("--data-dir", type=Path, help="attach to `basira up --data-dir` instead")
    parser.add_argument("--bench-dir", type=Path,
                        default=Path(os.environ.get("BASIRA_BENCH_DIR", "var/bench")))
    args = parser.parse_args()
    photos = road_photos(args.photos)
    face = SHARED / "faces" / "pairs" / "img1.jpg"  # one frontal face (../shared/data/faces)
    with platform_endpoints(args.data_dir) as endpoints, tempfile.TemporaryDirectory() as frames:
        for _, path in photos:
            (Path(frames) / path.name).symlink_to(path)
        cameras = register_cameras(endpoints, args.users)
        started = time.monotonic()
        seed(endpoints, cameras[0], photos, args.hotlisted)
        print(f"seeded {len(photos)} photos in {time.monotonic() - started:.0f} s", flush=True)
        print(f"load: {args.users} users for {args.duration} s ...", flush=True)
        run = run_locust(endpoints, users=args.users, spawn_rate=args.spawn_rate,
                         duration_s=args.duration, frames_dir=Path(frames),
                         plates=[plate for plate, _ in photos], cameras=cameras, face=face,
                         report_path=args.bench_dir / "load-locust.json")
    print_table(run.calls)
    for failure in run.failures:
        print(f"failed: {failure}")
    report("load", figures_of(run.calls, args.duration, args.users), args.bench_dir)


if __name__ == "__main__":
    main()
