"""Plate-reading benchmark: detection, exact reads, character error rate and latency on ONE core.

Runs the configured default plate engine over a labelled set (OpenALPR's `eu` benchmark: `NAME.jpg`
with `NAME.txt` = `NAME.jpg<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE`) and reports through
`basira.common.bench.report("plates", ...)`.

Scoring, per labelled plate:
- detected: some read's box overlaps the labelled box with IoU >= 0.3, or contains its centre;
- exact: the most confident of those overlapping reads has exactly the labelled text;
- CER: Levenshtein distance of that read (or "" when none) to the label, summed over the set and
  divided by the number of labelled characters;
- exact, O = 0: the same, but with the letter O and the digit 0 counted as one character. The eu
  labels write the digit 0 as the letter O on several plates (e.g. Slovak `RK-099AN` is labelled
  `RKO99AN`, British `OY09 FEU` is `OYO9FEU`), so this shows how much of the strict miss rate is the
  labels'; the strict figure is the headline;
- false reads: reads that overlap no labelled plate.
Latency is wall time of `engine.read()` on an image already decoded in memory, after one warm-up
read, with the process pinned to one CPU and onnxruntime, OpenCV and BLAS limited to one thread;
`cpu_ms_*` is the CPU time of that thread, which other load on a shared machine inflates less.

    .venv/bin/python loadtests/bench_plates.py [--data ../shared/data/plates/eu] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from basira.analytics.plates.engine import PlateRead

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT / "../shared/data/plates/eu"
DETECTION_IOU = 0.3


@dataclass(frozen=True)
class Label:
    image: Path
    box: tuple[int, int, int, int]
    plate: str


def load_labels(data: Path) -> list[Label]:
    """Every `*.txt` label in `data` whose image exists, sorted by name."""
    labels = []
    for txt in sorted(data.glob("*.txt")):
        fields = txt.read_text(encoding="utf-8").strip().split("\t")
        if len(fields) != 6:
            raise SystemExit(f"{txt}: expected 6 tab-separated fields, got {len(fields)}")
        name, x, y, w, h, plate = fields
        image = data / name
        if image.is_file():
            labels.append(Label(image, (int(x), int(y), int(w), int(h)), plate.upper()))
    return labels


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def covers(read: PlateRead, truth: tuple[int, int, int, int]) -> bool:
    cx, cy = truth[0] + truth[2] / 2, truth[1] + truth[3] / 2
    x, y, w, h = read.box
    return iou(read.box, truth) >= DETECTION_IOU or (x <= cx <= x + w and y <= cy <= y + h)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled directory (%(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images (sorted by name)")
    parser.add_argument("--quiet", action="store_true", help="do not list the misses")
    parser.add_argument("--det-max-side", type=int, default=None, help="override the detector input size")
    parser.add_argument("--countries", default=None, help="comma-separated layouts, home first (all)")
    args = parser.parse_args(argv)

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"  # one core; set before numpy, OpenCV and onnxruntime start their pools
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # and pinned to one CPU
    import cv2

    from basira.analytics.plates.engine import create_plate_engine
    from basira.common.bench import report
    from basira.common.plate_text import plate_distance

    data = args.data if args.data.is_absolute() else (Path.cwd() / args.data)
    if not data.is_dir():
        data = REPO_ROOT / args.data
    if not data.is_dir():
        raise SystemExit(f"no benchmark data at {args.data} (expected ../shared/data/plates/eu)")
    labels = load_labels(data)[: args.limit]
    if not labels:
        raise SystemExit(f"no labelled images in {data}")

    cv2.setNumThreads(1)
    started = time.perf_counter()
    config: dict[str, Any] = {"type": "rapidocr", "intra_op_threads": 1}
    if args.det_max_side:
        config["det_max_side"] = args.det_max_side
    if args.countries:
        config["countries"] = tuple(args.countries.split(","))
    engine = create_plate_engine(config)
    load_s = time.perf_counter() - started

    images = []
    for label in labels:
        image = cv2.imread(str(label.image), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"cannot decode {label.image}")
        images.append(image)
    warm_started = time.perf_counter()
    engine.read(images[0])
    warm_up_ms = (time.perf_counter() - warm_started) * 1000

    detected = exact = exact_o0 = false_reads = 0
    edits = 0.0
    characters = 0
    latencies: list[float] = []
    cpu_times: list[float] = []
    for label, image in zip(labels, images, strict=True):
        t0, c0 = time.perf_counter(), time.thread_time()
        reads = engine.read(image)
        latencies.append((time.perf_counter() - t0) * 1000)
        cpu_times.append((time.thread_time() - c0) * 1000)
        on_plate = [r for r in reads if covers(r, label.box)]
        false_reads += len(reads) - len(on_plate)
        best = on_plate[0].text if on_plate else ""
        detected += bool(on_plate)
        exact += best == label.plate
        exact_o0 += best.replace("O", "0") == label.plate.replace("O", "0")
        edits += plate_distance(best, label.plate, confusable_tolerant=False)
        characters += len(label.plate)
        if best != label.plate and not args.quiet:
            seen = ", ".join(f"{r.text}@{r.confidence:.2f}" for r in reads[:4]) or "nothing"
            status = "read" if on_plate else "MISSED"
            name = label.image.name
            print(f"  {name:<14} truth {label.plate:<9} {status:<6} {best or '-':<10} reads: {seen}")

    n = len(labels)
    report(
        "plates",
        {
            "images": n,
            "detection_rate": detected / n,
            "exact_read_rate": exact / n,
            "exact_read_rate_o_eq_0": exact_o0 / n,
            "cer": edits / characters,
            "false_reads_per_image": false_reads / n,
            "ms_per_image_mean": statistics.fmean(latencies),
            "ms_per_image_p95": percentile(latencies, 0.95),
            "ms_per_image_max": max(latencies),
            "cpu_ms_per_image_mean": statistics.fmean(cpu_times),
            "cpu_ms_per_image_p95": percentile(cpu_times, 0.95),
            "warm_up_ms": warm_up_ms,
            "engine_load_s": load_s,
            "threads": 1,
            "load_average_1m": round(os.getloadavg()[0], 2),
            "engine_config": {k: v for k, v in config.items() if k != "type"},
            "detection_rule": f"IoU>={DETECTION_IOU} or truth centre inside read box",
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
