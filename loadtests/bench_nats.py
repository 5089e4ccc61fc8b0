"""Events/s one JetStream stream takes: acknowledged publishes/s and MB/s per stream, as the services
declare them (`basira.common.nats.STREAMS`), with payloads the size the services publish.

Run: `.venv/bin/python loadtests/bench_nats.py [--messages 20000] [--frames 3000] [--in-flight 64]`;
writes var/bench/nats.json through `basira.common.bench.report`.

Starts the project's own nats-server (`basira.runtime.nats_server`, one server, file storage, R1),
declares the streams, then per stream publishes with up to `--in-flight` publishes awaiting their
acknowledgement (what a service copy's publishers do). The server is this run's own and is removed
afterwards, so nothing is purged (AUDIT is sealed: it cannot be). Frames go to as many cameras as keep
each under FRAMES' per-camera queue cap, as a city's cameras do. Payloads: FRAMES carry a real
road photo scaled to ingest's analysis width and re-encoded at its JPEG quality; the event streams
carry byte strings of the sizes of their messages (`--event-bytes`). A 3-server R3 cluster acks after
a second server has stored the message: expect less than these figures; it is not measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from basira.common.bench import report
from basira.common.nats import FRAMES_QUEUED_PER_CAMERA, STREAMS, connect, ensure_streams
from basira.ingest.config import IngestSettings
from basira.runtime.nats_server import start_nats

REPO = Path(__file__).resolve().parents[1]
PHOTO = (REPO / ".." / "shared" / "data" / "plates" / "eu" / "eu1.jpg").resolve()
# A subject of each stream, as the services publish them.
SUBJECTS = {"FRAMES": "frames.bench-cam", "DETECTIONS": "detections.plate.bench-cam",
            "COUNTS": "counts.bench-cam", "ALERTS": "alerts.police", "AUDIT": "audit.record.search",
            "HEALTH": "camera.health.bench-cam"}


def frame_payload() -> bytes:
    """A road photo as ingest publishes it: at most analysis_max_width wide, at its JPEG quality."""
    defaults = IngestSettings.model_fields
    width, quality = defaults["analysis_max_width"].default, defaults["jpeg_quality"].default
    photo = cv2.imread(str(PHOTO)) if PHOTO.exists() else None
    image = photo if photo is not None else np.random.default_rng(1).integers(
        0, 255, (720, 1280, 3), dtype=np.uint8)
    if image.shape[1] > width:
        image = cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])))
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(encoded.tobytes()) + bytes(64)  # + the FrameEvent's other fields


async def publish_rate(url: str, stream: str, payload: bytes, count: int,
                       in_flight: int) -> dict[str, float]:
    nc, js = await connect(url, f"bench-nats-{stream.lower()}")
    window = asyncio.Semaphore(in_flight)
    subject = SUBJECTS[stream]
    cameras = -(-count // FRAMES_QUEUED_PER_CAMERA) if stream == "FRAMES" else 1

    async def one(i: int) -> None:
        async with window:
            where = f"{subject}-{i % cameras}" if cameras > 1 else subject
            await js.publish(where, payload, headers={"Nats-Msg-Id": f"{stream}-{i}"})

    try:
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        elapsed = time.perf_counter() - started
    finally:
        await nc.close()
    return {"per_s": count / elapsed, "mb_per_s": count * len(payload) / elapsed / 1e6,
            "bytes": float(len(payload))}


async def run(url: str, args: argparse.Namespace) -> dict[str, float]:
    nc, js = await connect(url, "bench-nats-setup")
    await ensure_streams(js)
    await nc.close()
    declared = {spec.name for spec in STREAMS}
    figures: dict[str, float] = {}
    for stream in SUBJECTS:
        assert stream in declared, stream
        frames = stream == "FRAMES"
        payload = frame_payload() if frames else bytes(args.event_bytes)
        result = await publish_rate(url, stream, payload, args.frames if frames else args.messages,
                                    args.in_flight)
        for key, value in result.items():
            figures[f"{stream}.{key}"] = value
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000, help="events published per event stream")
    parser.add_argument("--frames", type=int, default=3_000, help="frames published to FRAMES")
    parser.add_argument("--event-bytes", type=int, default=1_000, help="size of one event message")
    parser.add_argument("--in-flight", type=int, default=64, help="publishes awaiting their ack at once")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="basira-bench-nats-"))
    proc, url = start_nats(data_dir)
    try:
        figures = asyncio.run(run(url, args))
    finally:
        proc.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    figures["in_flight"] = args.in_flight
    report("nats", figures)


if __name__ == "__main__":
    main()
