"""The capacity model of infra/CAPACITY.md: what a city needs, computed from the measured figures.

Reads the benchmarks' var/bench/*.json (each made by the `make` target named beside its figure),
takes the city's shape as arguments (defaults: 2,000 fixed cameras and 4,300 body-worn cameras), and
prints cores, storage per retention period and NATS/PostgreSQL sizing, writing var/bench/capacity.json.
A figure whose benchmark has not been run is reported as missing, never guessed.

    .venv/bin/python loadtests/capacity.py
    .venv/bin/python loadtests/capacity.py --fixed-cameras 850 --body-cameras 1200
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

from basira.common.bench import report

DAY_S = 86_400
RETENTION_DAYS = {"plate_read": 30, "snapshot": 30, "counts": 730}  # policy/basira/retention/data.json


def measured(bench_dir: Path, name: str) -> dict[str, Any]:
    path = bench_dir / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"no {path}: run `make bench-{name.replace('_', '-')}` (or `make load`) first")
    figures: dict[str, Any] = json.loads(path.read_text())["figures"]
    return figures


def retention_days(repo: Path) -> dict[str, int]:
    data = json.loads((repo / "policy" / "basira" / "retention" / "data.json").read_text())
    return {name: int(data[name]["days"]) for name in RETENTION_DAYS}


def model(args: argparse.Namespace, bench: dict[str, dict[str, Any]],
          days: dict[str, int]) -> dict[str, Any]:
    pipeline, nats, search, audit = bench["pipeline"], bench["nats"], bench["search_plates"], bench["audit"]
    headroom = args.target_utilisation
    # Frames analysed per second, city-wide.
    fixed_fps = args.fixed_cameras * args.fixed_fps
    body_fps = args.body_cameras * args.body_active * args.body_fps
    frames_per_s = fixed_fps + body_fps
    analytics_cpu = float(pipeline["analytics_cpu_s_per_frame"])
    ingest_cpu = float(pipeline["ingest_cpu_s_per_frame"])
    out: dict[str, Any] = {
        "frames_per_s": frames_per_s,
        "cameras_per_analytics_core_at_fixed_fps": 1 / (analytics_cpu * args.fixed_fps),
        "analytics_cores": math.ceil(frames_per_s * analytics_cpu / headroom),
        "ingest_cores_pushed_frames": math.ceil(frames_per_s * ingest_cpu / headroom),
        "gpus": 0,  # the shipped engines run on CPU (infra/k8s/README.md, GPU nodes)
    }
    # NATS: FRAMES is one stream, led by one server; events are small.
    frame_bytes = float(nats["FRAMES.bytes"])
    out["frames_mb_per_s"] = frames_per_s * frame_bytes / 1e6
    out["frames_streams_needed"] = math.ceil(frames_per_s / float(nats["FRAMES.per_s"]) / headroom)
    reads_per_day = (args.fixed_cameras * args.reads_per_camera_day
                     + args.body_cameras * args.body_reads_per_day)
    peak_reads_per_s = reads_per_day / DAY_S * args.peak_factor
    out["plate_reads_per_day"] = reads_per_day
    out["detections_per_s_peak"] = peak_reads_per_s
    out["detections_stream_load"] = peak_reads_per_s / float(nats["DETECTIONS.per_s"])
    out["audit_records_per_s_peak"] = args.audited_calls_per_s
    out["audit_stream_load"] = args.audited_calls_per_s / float(nats["AUDIT.per_s"])
    appends_per_s = float(audit["appends_per_s_group_commit_256_writers"])
    out["audit_appends_load"] = args.audited_calls_per_s / appends_per_s
    # PostgreSQL storage per retention period.
    row_bytes = float(search["sightings_table_mb"]) * 2**20 / float(search["reads"])
    out["sighting_row_bytes"] = row_bytes
    out["sightings_tb"] = reads_per_day * days["plate_read"] * row_bytes / 1e12
    frames_with_plates_per_day = reads_per_day / args.plates_per_snapshot
    out["snapshots_tb"] = frames_with_plates_per_day * days["snapshot"] * frame_bytes / 1e12
    out["counts_tb"] = args.fixed_cameras * 1440 * days["counts"] * args.count_row_bytes / 1e12
    audit_bytes = float(audit["export_mb"]) * 1e6 / float(audit["records"])
    out["audit_record_bytes"] = audit_bytes
    out["audit_tb_per_year"] = args.audited_calls_per_s / args.peak_factor * DAY_S * 365 * audit_bytes / 1e12
    out["sightings_rows_retained"] = reads_per_day * days["plate_read"]
    out["plate_search_exact_p95_ms_measured"] = search["exact_p95_ms"]
    out["plate_search_fuzzy_p95_ms_measured"] = search["fuzzy_p95_ms"]
    out["plate_search_measured_at_reads"] = search["reads"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixed-cameras", type=int, default=2000)
    parser.add_argument("--fixed-fps", type=float, default=2.0, help="analysis rate (ingest's default)")
    parser.add_argument("--body-cameras", type=int, default=4300)
    parser.add_argument("--body-active", type=float, default=0.25,
                        help="share of body cameras sending frames at a busy moment")
    parser.add_argument("--body-fps", type=float, default=1.0, help="analysis rate of a body camera")
    parser.add_argument("--reads-per-camera-day", type=float, default=5000,
                        help="plate reads of a fixed camera")
    parser.add_argument("--body-reads-per-day", type=float, default=200, help="plate reads of a body camera")
    parser.add_argument("--plates-per-snapshot", type=float, default=1.0,
                        help="plate reads sharing one snapshot (one frame JPEG is kept per read frame)")
    parser.add_argument("--count-row-bytes", type=float, default=120,
                        help="a camera-minute of counts, indexed")
    parser.add_argument("--audited-calls-per-s", type=float, default=300, help="peak access records/s")
    parser.add_argument("--peak-factor", type=float, default=3.0, help="peak over average rate")
    parser.add_argument("--target-utilisation", type=float, default=0.7, help="as the autoscalers target")
    parser.add_argument("--bench-dir", type=Path,
                        default=Path(os.environ.get("BASIRA_BENCH_DIR", "var/bench")))
    args = parser.parse_args()
    bench = {name: measured(args.bench_dir, name) for name in ("pipeline", "nats", "search_plates", "audit")}
    figures = model(args, bench, retention_days(Path(__file__).resolve().parents[1]))
    figures.update({f"assumed_{k}": v for k, v in vars(args).items() if k != "bench_dir"})
    report("capacity", figures, args.bench_dir)


if __name__ == "__main__":
    main()
