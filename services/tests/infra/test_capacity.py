"""The capacity model (loadtests/capacity.py, infra/CAPACITY.md): sizing follows from the measured
figures, a missing benchmark is named rather than guessed, and every command the document cites
exists."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from loadtests import capacity

from .test_k8s_manifests import REPO

FIGURES = {
    "pipeline": {"analytics_cpu_s_per_frame": 0.2, "ingest_cpu_s_per_frame": 0.01},
    "nats": {"FRAMES.per_s": 1000.0, "FRAMES.bytes": 100_000.0, "DETECTIONS.per_s": 10_000.0,
             "AUDIT.per_s": 10_000.0},
    "search_plates": {"reads": 1_000_000, "sightings_table_mb": 300, "exact_p95_ms": 2.0,
                      "fuzzy_p95_ms": 200.0},
    "audit": {"appends_per_s_group_commit_256_writers": 6000.0, "export_mb": 80.0, "records": 100_000},
}


def write_bench(directory: Path, names: list[str]) -> None:
    for name in names:
        (directory / f"{name}.json").write_text(json.dumps({"name": name, "figures": FIGURES[name]}))


def run(monkeypatch: pytest.MonkeyPatch, bench: Path, *args: str) -> dict[str, float]:
    monkeypatch.setattr(sys, "argv", ["capacity.py", "--bench-dir", str(bench), *args])
    capacity.main()
    figures: dict[str, float] = json.loads((bench / "capacity.json").read_text())["figures"]
    return figures


def test_cores_and_storage_follow_from_the_measured_figures(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    write_bench(tmp_path, list(FIGURES))
    out = run(monkeypatch, tmp_path, "--fixed-cameras", "1000", "--body-cameras", "0", "--fixed-fps", "2")
    assert out["frames_per_s"] == 2000
    assert out["cameras_per_analytics_core_at_fixed_fps"] == pytest.approx(2.5)
    assert out["analytics_cores"] == 572  # 2,000 frames/s x 0.2 CPU-s / 0.7
    assert out["frames_mb_per_s"] == pytest.approx(200)
    assert out["frames_streams_needed"] == 3  # 2,000 / 1,000 per stream / 0.7
    days = json.loads((REPO / "policy" / "basira" / "retention" / "data.json").read_text())
    reads = 1000 * 5000
    assert out["snapshots_tb"] == pytest.approx(reads * days["snapshot"]["days"] * 100_000 / 1e12)
    halved = run(monkeypatch, tmp_path, "--fixed-cameras", "1000", "--body-cameras", "0", "--fixed-fps", "1")
    assert halved["analytics_cores"] == 286


def test_a_missing_benchmark_is_named_not_guessed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_bench(tmp_path, ["nats", "search_plates", "audit"])
    with pytest.raises(SystemExit, match="make bench-pipeline"):
        run(monkeypatch, tmp_path)


def test_every_command_the_capacity_document_cites_exists() -> None:
    text = (REPO / "infra" / "CAPACITY.md").read_text()
    targets = set(re.findall(r"`make ([a-z-]+)", text))
    assert {"bench-pipeline", "bench-nats", "bench-search", "bench-audit", "load", "capacity"} <= targets
    makefile = (REPO / "Makefile").read_text()
    for target in targets:
        assert re.search(rf"^{target}:", makefile, re.M), f"no make target {target}"
    for script in re.findall(r"loadtests/([a-z_]+\.py)", text):
        if script != "bench_search_faces.py":  # cited as what `make bench-search` runs once it exists
            assert (REPO / "loadtests" / script).is_file(), script
