"""Frames through ingest + plate analytics, and the latency from a frame published to its alert.

Run: `.venv/bin/python loadtests/bench_pipeline.py [--frames 60] [--alerts 20]`; writes
var/bench/pipeline.json through `basira.common.bench.report`.

Starts the whole embedded platform (real NATS, PostgreSQL, policy, identity, every service), then:
1. throughput: a body-worn camera pushes `--frames` real road photos from ../shared/data/plates/eu as
   fast as backpressure allows; frames/s is frames published by ingest over the time until analytics
   has taken every one off the FRAMES work queue; the CPU seconds ingest and analytics used per
   frame, and so the cameras one analytics core keeps up with at the default analysis rate;
2. latency: each of `--alerts` photos' plates is hotlisted, then the photos are pushed one at a time;
   for every alert that reaches the police command room's stream, the time from the frame appearing
   on `frames.<camera>` to the alert arriving (both seen by this process, one clock).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import psutil
from nats.aio.msg import Msg

from basira.cli.session import bearer_metadata, dev_user_token
from basira.common.bench import report
from basira.common.channels import open_channel
from basira.common.nats import connect
from basira.ingest.config import IngestSettings
from basira.runtime.supervisor import Platform, PlatformConfig
from basira.v1 import (
    alert_pb2,
    alert_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    common_pb2,
    events_pb2,
    watchlist_pb2,
    watchlist_pb2_grpc,
)

REPO = Path(__file__).resolve().parents[1]
PLATES = (REPO / ".." / "shared" / "data" / "plates" / "eu").resolve()


def _meta(platform: Platform, user: str) -> tuple[tuple[str, str]]:
    return bearer_metadata(dev_user_token(platform.endpoints["identity"], user))


def _photos(limit: int) -> list[tuple[str, bytes]]:
    """(plate text, JPEG bytes) of the benchmark set, in name order."""
    out = []
    for label in sorted(PLATES.glob("*.txt"))[:limit]:
        plate = label.read_text().split("\t")[-1].strip()
        out.append((plate, label.with_suffix(".jpg").read_bytes()))
    return out


class FrameWatch:
    """Sees every frame published on `frames.<camera>` (a core subscriber: it takes nothing away)."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    async def run(self, nats_url: str, camera: str, stop: threading.Event) -> None:
        nc, _ = await connect(nats_url, "bench-pipeline")

        async def on_frame(msg: Msg) -> None:
            self.seen[events_pb2.FrameEvent.FromString(msg.data).id] = time.monotonic()

        await nc.subscribe(f"frames.{camera}", cb=on_frame)
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await nc.close()


def _push(platform: Platform, camera: str, images: list[bytes],
          pause_s: float = 0.0) -> camera_pb2.PushFramesResponse:
    stub = camera_pb2_grpc.FrameIngestServiceStub(open_channel(
        platform.endpoints["ingest"], options=[("grpc.max_send_message_length", 32 << 20)]))

    def frames() -> object:
        # A backlog recorded one frame a second (as a body camera uploads after a dead zone), so the
        # analysis-rate sampler keeps every frame however fast they are sent.
        start = datetime.now(UTC) - timedelta(seconds=len(images))
        for i, image in enumerate(images):
            message = camera_pb2.PushFramesRequest(camera_id=camera if i == 0 else "", image=image)
            message.captured.FromDatetime(start + timedelta(seconds=i) if len(images) > 1
                                          else datetime.now(UTC))
            yield message
            if pause_s:
                time.sleep(pause_s)

    return stub.PushFrames(frames(), metadata=_meta(platform, "bodycam-01"))


async def _frames_queued(nats_url: str) -> int:
    nc, js = await connect(nats_url, "bench-pipeline-q")
    try:
        return int((await js.stream_info("FRAMES")).state.messages)
    finally:
        await nc.close()


def cpu_seconds(platform: Platform, service: str) -> float:
    """User + system CPU time a service's process has used so far (the capacity model's unit)."""
    (proc,) = [p for p in platform.processes if p.name == service]
    times = psutil.Process(proc.pid).cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


def throughput(platform: Platform, camera: str, frames: int) -> dict[str, float]:
    images = [image for _, image in _photos(frames)]
    while len(images) < frames:
        images += images[: frames - len(images)]
    cpu_before = {s: cpu_seconds(platform, s) for s in ("ingest", "analytics")}
    started = time.monotonic()
    reply = _push(platform, camera, images)
    while asyncio.run(_frames_queued(platform.endpoints["nats"])) > 0:
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    fps = reply.frames_published / elapsed
    # CPU per frame, whatever else shares the machine: analytics' is what sizes a city (cameras per
    # core = 1 / (CPU s per frame x each camera's analysis rate)).
    per_frame = {s: (cpu_seconds(platform, s) - before) / max(reply.frames_published, 1)
                 for s, before in cpu_before.items()}
    analysis_fps = IngestSettings.model_fields["default_analysis_fps"].default
    return {"frames_pushed": frames, "frames_published": reply.frames_published,
            "frames_per_s": fps, "frames_per_s_per_core": fps / (os.cpu_count() or 1),
            "analytics_cpu_s_per_frame": per_frame["analytics"],
            "ingest_cpu_s_per_frame": per_frame["ingest"],
            "default_analysis_fps": analysis_fps,
            "cameras_per_analytics_core": 1.0 / (per_frame["analytics"] * analysis_fps)
            if per_frame["analytics"] > 0 else -1.0}


def latency(platform: Platform, camera: str, count: int) -> dict[str, float]:
    photos = _photos(count)
    hotlists = watchlist_pb2_grpc.WatchlistServiceStub(
        open_channel(platform.endpoints["analytics"]))
    investigator = _meta(platform, "police-investigator")
    access = common_pb2.AccessContext(purpose="stolen-vehicle", case_id="CASE-2026-9001")
    for plate, _ in photos:
        entry = watchlist_pb2.HotlistEntry(
            plate=plate, reason=watchlist_pb2.HOTLIST_REASON_STOLEN, confusable_tolerant=True,
            legal_basis=watchlist_pb2.LegalBasis(kind="stolen-vehicle-report", reference="BENCH",
                                                 issued_by="police"))
        entry.expires.FromDatetime(datetime.now(UTC) + timedelta(days=1))
        hotlists.AddHotlistPlate(watchlist_pb2.AddHotlistPlateRequest(entry=entry, access=access),
                                 metadata=investigator)
    time.sleep(2.0)  # the matcher reloads on watchlist.changed

    watch, stop = FrameWatch(), threading.Event()
    watcher = threading.Thread(
        target=lambda: asyncio.run(watch.run(platform.endpoints["nats"], camera, stop)))
    watcher.start()
    arrivals: dict[str, float] = {}
    stub = alert_pb2_grpc.AlertServiceStub(open_channel(platform.endpoints["alerting"]))
    call = stub.StreamAlerts(alert_pb2.StreamAlertsRequest(), metadata=_meta(platform, "police-operator"))

    def read_alerts() -> None:
        try:
            for reply in call:
                arrivals.setdefault(reply.alert.hotlist_entry.plate, time.monotonic())
        except grpc.RpcError:
            pass

    reader = threading.Thread(target=read_alerts, daemon=True)
    reader.start()
    _push(platform, camera, [photos[0][1]])  # warm-up: engines, caches and connections
    time.sleep(2.0)
    arrivals.clear()
    photos = photos[1:]
    samples: list[float] = []
    for plate, image in photos:
        before = set(watch.seen)
        _push(platform, camera, [image])
        deadline = time.monotonic() + 10
        while plate not in arrivals and time.monotonic() < deadline:
            time.sleep(0.01)
        new = [watch.seen[f] for f in set(watch.seen) - before]
        if plate in arrivals and new:
            samples.append((arrivals[plate] - min(new)) * 1000)
    call.cancel()
    stop.set()
    watcher.join(5)
    samples.sort()
    return {
        "alert_samples": len(samples), "alert_photos": len(photos),
        "frame_to_alert_ms_p50": statistics.median(samples) if samples else -1.0,
        "frame_to_alert_ms_p95": (samples[min(len(samples) - 1, int(0.95 * len(samples)))]
                                  if samples else -1.0),
        "frame_to_alert_ms_max": samples[-1] if samples else -1.0,
    }


def run(frames: int, alerts: int, *, tls: bool | None = None, nats_auth: bool | None = None
        ) -> dict[str, float]:
    """One platform, both measurements; `tls`/`nats_auth` override the platform's defaults."""
    data_dir = Path(tempfile.mkdtemp(prefix="basira-bench-"))
    data_dir.chmod(0o755)
    config = PlatformConfig.from_env(data_dir=data_dir)
    config.tls = config.tls if tls is None else tls
    config.nats_auth = config.nats_auth if nats_auth is None else nats_auth
    platform = Platform(config)
    print(f"starting the platform (TLS {config.tls}, NATS auth {config.nats_auth}) ...", flush=True)
    platform.start()
    try:
        with platform.client_settings():  # this process's own NATS and gRPC clients
            cams = camera_pb2_grpc.CameraServiceStub(open_channel(platform.endpoints["ingest"]))
            admin = _meta(platform, "police-admin")
            for camera in ("bwc-police-01", "bwc-police-02"):
                cams.RegisterCamera(camera_pb2.RegisterCameraRequest(camera=camera_pb2.Camera(
                    id=camera, name=camera, kind=camera_pb2.CAMERA_KIND_BODY_WORN, zone="medina",
                    owner_agency="police", analysis_fps=30)), metadata=admin)
            figures: dict[str, float] = {}
            figures.update(throughput(platform, "bwc-police-01", frames))
            figures.update(latency(platform, "bwc-police-02", alerts))
    finally:
        platform.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--alerts", type=int, default=41)
    parser.add_argument("--compare-security", action="store_true",
                        help="run twice in one go: NATS open and plaintext gRPC, then NATS identities "
                        "with TLS on NATS and gRPC; figures suffixed _open and _secured")
    args = parser.parse_args()
    os.environ.setdefault("BASIRA_PUSH_RATE_FPS", "1000")
    os.environ.setdefault("BASIRA_PUSH_BURST", "1000")
    if not args.compare_security:
        report("pipeline", run(args.frames, args.alerts))
        return
    figures: dict[str, float] = {}
    for suffix, secured in (("open", False), ("secured", True)):
        figures.update({f"{k}_{suffix}": v for k, v in
                        run(args.frames, args.alerts, tls=secured, nats_auth=secured).items()})
    report("pipeline-security", figures)


if __name__ == "__main__":
    main()
