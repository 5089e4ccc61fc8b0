"""`make load`'s harness runs: locust's city mix (loadtests/locustfile.py) for a few seconds against the
shared e2e platform, every kind of user makes calls, and none fails. Frames are plain grey pictures so
the other e2e tests' plates, alerts and trajectories are untouched."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from basira.common.bench import report
from basira.runtime.supervisor import Platform
from loadtests.load import figures_of, register_cameras, run_locust

pytestmark = pytest.mark.integration


def test_city_mix_runs_headless_without_failures(platform: Platform, tmp_path: Path,
                                                 shared_data: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for shade in (90, 160):
        cv2.imwrite(str(frames / f"grey-{shade}.jpg"), np.full((360, 640, 3), shade, np.uint8))
    # 5 users are one auditor, one operator, one investigator and two body cameras (locust weights them)
    cameras = register_cameras(dict(platform.endpoints), 3, prefix="bwc-loadtest")
    run = run_locust(dict(platform.endpoints), users=5, spawn_rate=5, duration_s=6, frames_dir=frames,
                     plates=["12345B6", "AB123CD"], cameras=cameras,
                     face=shared_data / "faces" / "pairs" / "img1.jpg", report_path=tmp_path / "locust.json")
    stats = run.calls

    calls = set(stats) - {"Aggregated"}
    assert "PushFrames" in calls and "QueryAccessLog" in calls, calls
    assert any(c.startswith("StreamAlerts") for c in calls), calls
    assert calls & {"SearchPlates exact", "SearchPlates fuzzy", "GetTrajectory", "SearchFaces"}, calls
    assert stats["Aggregated"]["failures"] == 0, run.failures
    assert stats["Aggregated"]["requests"] >= len(calls)

    path = report("load", figures_of(stats, 6, 5), tmp_path)
    written = json.loads(path.read_text())["figures"]
    assert written["failures"] == 0 and written["requests_per_s"] > 0
    assert written["PushFrames.p99_ms"] >= written["PushFrames.p50_ms"] > 0
