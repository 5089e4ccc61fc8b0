"""Face benchmark: the platform's own face path per engine, on labelled pairs and walking-people clips.

Pairs (`../shared/data/faces/pairs/pairs.csv`): each photo goes through detection, the quality gates,
alignment and embedding exactly as live faces do (the largest face); a pair is a match when the cosine
distance is at or below the engine's configured `match_distance`. A photo refused by the gates makes
its pairs non-matches (counted, not skipped). Reports accuracy, false-match rate (FMR, of different-
person pairs), false-non-match rate (FNMR, of same-person pairs), ROC AUC and ms per face.

Clips (`../shared/data/video/*.gif`, people walking towards the camera): faces detected per frame at
native and half scale, faces passing the gates, and the distinct tracks the face tracker keeps (a
track = one person's passage; at least 3 faces long to count).

    .venv/bin/python loadtests/bench_faces.py [--engines yunet-sface,dlib] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from basira.analytics.face_path import FacePath
from basira.analytics.face_tracking import FaceTracker
from basira.analytics.faces import create_face_engine
from basira.common.bench import report
from basira.common.errors import BasiraError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT / "../shared/data"
CLIPS = ("face-demographics-walking-and-pause.gif", "people-detection.gif",
         "head-pose-face-detection-female-and-male.gif")
CLIP_FPS = 10.0


def roc_auc(same: list[float], different: list[float]) -> float:
    """P(a same-person distance < a different-person distance), ties counting half."""
    s, d = np.asarray(same)[:, None], np.asarray(different)[None, :]
    return float(((s < d).sum() + 0.5 * (s == d).sum()) / (s.size * d.size))


def pairs_figures(path: FacePath, pairs_dir: Path) -> dict[str, Any]:
    vectors: dict[str, np.ndarray | None] = {}
    millis: list[float] = []
    for photo in sorted(pairs_dir.glob("*.jpg")):
        image = cv2.imread(str(photo))
        assert image is not None, photo
        started = time.perf_counter()
        faces = [f for f in path.live(image) if f.embedding is not None]
        millis.append((time.perf_counter() - started) * 1000)
        best = max(faces, key=lambda f: f.face.area, default=None)
        vectors[photo.name] = None if best is None else best.vector
    same: list[float] = []
    different: list[float] = []
    with (pairs_dir / "pairs.csv").open() as f:
        for row in csv.DictReader(f):
            a, b = vectors.get(row["file_x"]), vectors.get(row["file_y"])
            distance = 2.0 if a is None or b is None else 1.0 - float(np.dot(a, b))
            (same if row["Decision"] == "Yes" else different).append(distance)
    threshold = path.match_distance
    false_matches = sum(d <= threshold for d in different)
    false_non_matches = sum(d > threshold for d in same)
    total = len(same) + len(different)
    return {
        "threshold": threshold, "pairs": total, "same_pairs": len(same), "different_pairs": len(different),
        "photos_refused": sum(v is None for v in vectors.values()),
        "accuracy": round(1 - (false_matches + false_non_matches) / total, 4),
        "false_matches": false_matches, "fmr": round(false_matches / len(different), 4),
        "false_non_matches": false_non_matches, "fnmr": round(false_non_matches / len(same), 4),
        "roc_auc": round(roc_auc(same, different), 4),
        "same_distance_max": round(max(same), 4), "different_distance_min": round(min(different), 4),
        "ms_per_photo_p50": round(statistics.median(millis), 1),
    }


def clip_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def clip_figures(path: FacePath, clip: Path) -> dict[str, Any]:
    frames = clip_frames(clip)
    figures: dict[str, Any] = {"frames": len(frames)}
    for label, scale in (("native", 1.0), ("half", 0.5)):
        tracker = FaceTracker(match_distance=path.match_distance)
        detected, passed, millis = [], 0, []
        lengths: dict[str, int] = {}
        for index, frame in enumerate(frames):
            image = frame if scale == 1.0 else cv2.resize(frame, None, fx=scale, fy=scale,
                                                          interpolation=cv2.INTER_AREA)
            started = time.perf_counter()
            live = path.live(image)
            millis.append((time.perf_counter() - started) * 1000)
            detected.append(len(live))
            good = [f for f in live if f.embedding is not None]
            passed += len(good)
            for track in tracker.assign("bench", index / CLIP_FPS, [(f.face, f.vector) for f in good]):
                lengths[track] = lengths.get(track, 0) + 1
        figures[f"{label}_faces"] = sum(detected)
        figures[f"{label}_faces_per_frame"] = round(sum(detected) / max(1, len(frames)), 2)
        figures[f"{label}_faces_passing_gates"] = passed
        figures[f"{label}_tracks"] = sum(n >= 3 for n in lengths.values())
        figures[f"{label}_ms_per_frame_p50"] = round(statistics.median(millis), 1) if millis else 0.0
    figures["width"] = int(frames[0].shape[1]) if frames else 0
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="yunet-sface,dlib")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    figures: dict[str, Any] = {}
    for name in args.engines.split(","):
        try:
            path = FacePath(create_face_engine({"type": name}))
        except BasiraError as exc:
            print(f"engine {name} not present: {exc.message}")
            continue
        for key, value in pairs_figures(path, args.data / "faces" / "pairs").items():
            figures[f"{name}.pairs.{key}"] = value
        for clip in CLIPS:
            if (args.data / "video" / clip).is_file():
                for key, value in clip_figures(path, args.data / "video" / clip).items():
                    figures[f"{name}.{clip.removesuffix('.gif')}.{key}"] = value
    report("faces", figures)


if __name__ == "__main__":
    main()
