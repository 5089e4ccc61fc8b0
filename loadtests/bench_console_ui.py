"""Frame to alert rendered in the browser: the time from a body camera pushing a frame with a
hotlisted plate to that alert's card painted in an operator's command room (Debian's chromium), p50/p95.

Run: `.venv/bin/python loadtests/bench_console_ui.py [--alerts 20]`; writes var/bench/console_ui.json
through `basira.common.bench.report`.

Starts the whole embedded platform, hotlists a plate, registers `--alerts` body cameras, signs a
police operator in through the login page and keeps the command room open; then each camera in turn
pushes one frame of that plate (a new alert each: alerts fold per camera). The clock starts just before
the frame is sent and stops at the first animation frame after the card entered the page (both on this
machine's clock). Every stage is real: ingest, plate reading, the hotlist match, policy, the alert store,
NATS, the console's SSE stream and React.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from basira.common.bench import report  # noqa: E402
from basira.runtime.supervisor import Platform, PlatformConfig  # noqa: E402
from e2e.browser import chromium, sign_in  # noqa: E402
from e2e.scenes import body_camera, hotlist_plate, push_frames  # noqa: E402

PLATE_PHOTO = REPO.parent / "shared" / "data" / "plates" / "eu" / "eu11.jpg"
WATCH = """() => {
  window.__rendered = {};
  new MutationObserver(() => {
    for (const card of document.querySelectorAll('li.alert[data-camera]')) {
      const camera = card.dataset.camera;
      if (window.__rendered[camera] === undefined) {
        window.__rendered[camera] = null;
        requestAnimationFrame(() => {
          window.__rendered[camera] = performance.timeOrigin + performance.now();
        });
      }
    }
  }).observe(document.body, {childList: true, subtree: true});
}"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(platform: Platform, alerts: int) -> dict[str, Any]:
    plate = PLATE_PHOTO.with_suffix(".txt").read_text().split("\t")[-1].strip()
    image = PLATE_PHOTO.read_bytes()
    hotlist_plate(platform, plate, "CASE-2026-9901")
    cameras = [f"bwc-bench-ui-{i:03d}" for i in range(alerts + 1)]
    for i, camera in enumerate(cameras):
        body_camera(platform, camera, "medina", 34.06 + i / 1000, -6.83)
    latencies: list[float] = []
    with chromium() as browser:
        context, page = sign_in(browser, platform, "police-operator")  # type: ignore[arg-type]
        page.locator('[data-testid="alert-queue"][data-live="true"]').wait_for()
        page.evaluate(WATCH)
        for index, camera in enumerate(cameras):
            sent_ms = time.time() * 1000
            push_frames(platform, camera, image, count=1)
            page.wait_for_function(f"() => typeof window.__rendered['{camera}'] === 'number'",
                                   timeout=120_000)
            if index == 0:
                continue  # warm-up: first plate read, first policy bundle use, first React render
            latencies.append(page.evaluate(f"window.__rendered['{camera}']") - sent_ms)
        context.close()
    return {
        "alerts": len(latencies),
        "frame_to_alert_rendered_p50_ms": statistics.median(latencies),
        "frame_to_alert_rendered_p95_ms": percentile(latencies, 0.95),
        "frame_to_alert_rendered_max_ms": max(latencies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=20)
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="basira-bench-console-ui-"))
    data_dir.chmod(0o755)
    config = PlatformConfig.from_env(data_dir=data_dir)
    config.nats_url = config.database_url = config.policy_url = config.oidc_url = ""
    platform = Platform(config)
    platform.start()
    try:
        with platform.client_settings():
            figures = measure(platform, args.alerts)
    finally:
        platform.stop()
    report("console_ui", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
