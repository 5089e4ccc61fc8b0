"""Camera health: offline watchdog, tamper detection (blocked, defocused, moved), stream state, power.

Everything here is plain computation on frames and timestamps; the service publishes the returned
`HealthEvent`s on `camera.health.<camera>`. Events are emitted on changes only, and every tamper
condition goes through hysteresis (it must hold for a while, over several frames, to raise or clear)
so that one odd frame — a bus filling the view, a flash — does not make an alert flap.

Measures are taken on a small grey copy of the frame (`analysis_width`, default 320 pixels):
- blocked: very dark (mean grey level), or very uniform and featureless (grey std-dev and
  Laplacian variance both tiny) — a hand, a bag, spray paint, a cap on the lens;
- defocused: sharpness (variance of the Laplacian) far below this camera's learned baseline;
- moved: the view, once stable, is displaced from a reference view (phase correlation), or no
  longer matches it at all.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import cv2
import numpy as np

from basira.common.errors import ConfigError, InvalidInput
from basira.ingest.sources import SourceEvent

log = logging.getLogger(__name__)


class HealthKind(StrEnum):
    STREAM = "stream"  # state: a SourceState value (connecting, connected, lost, …)
    OFFLINE = "offline"  # state: alert | ok
    BLOCKED = "blocked"  # state: alert | ok
    DEFOCUSED = "defocused"  # state: alert | ok
    MOVED = "moved"  # state: alert | ok
    POWER = "power"  # state: a PowerLevel value


class ConditionState(StrEnum):
    OK = "ok"
    ALERT = "alert"


class PowerSource(StrEnum):
    MAINS = "mains"
    SOLAR = "solar"
    BATTERY = "battery"
    UNKNOWN = "unknown"


class PowerLevel(StrEnum):
    OK = "ok"
    LOW = "low"
    CRITICAL = "critical"
    LOST = "lost"  # a grid-powered camera reports running on its battery: grid power lost
    UNKNOWN = "unknown"  # on battery or solar with no battery level reported


@dataclass(frozen=True)
class HealthEvent:
    """One change in a camera's health. `time` is Unix seconds; `metrics` holds the measures behind it."""

    camera_id: str
    kind: HealthKind
    state: str
    detail: str
    time: float
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class HysteresisConfig:
    """How long (seconds, and frames) a condition must hold before its state flips either way."""

    raise_after_s: float = 3.0
    raise_min_frames: int = 3
    clear_after_s: float = 3.0
    clear_min_frames: int = 3

    def __post_init__(self) -> None:
        if self.raise_after_s < 0 or self.clear_after_s < 0:
            raise ConfigError("hysteresis times must be >= 0")
        if self.raise_min_frames < 1 or self.clear_min_frames < 1:
            raise ConfigError("hysteresis frame counts must be >= 1")


class Hysteresis:
    """A boolean state that flips only after the opposite condition has held long enough.

    `update(None, t)` records an undecidable frame: it neither counts toward a flip nor breaks a streak.
    """

    def __init__(self, config: HysteresisConfig) -> None:
        self.config = config
        self.active = False
        self._since: float | None = None
        self._count = 0

    def update(self, condition: bool | None, timestamp: float) -> bool | None:
        """Feed one observation; return the new state when it flips, else None."""
        if condition is None:
            return None
        if condition == self.active:
            self._since, self._count = None, 0
            return None
        if self._since is None or timestamp < self._since:
            self._since, self._count = timestamp, 0
        self._count += 1
        cfg = self.config
        after, frames = (
            (cfg.clear_after_s, cfg.clear_min_frames) if self.active
            else (cfg.raise_after_s, cfg.raise_min_frames)
        )
        if timestamp - self._since >= after and self._count >= frames:
            self.active = condition
            self._since, self._count = None, 0
            return condition
        return None

    def reset(self) -> None:
        self.active = False
        self._since, self._count = None, 0


@dataclass(frozen=True)
class TamperConfig:
    """Tamper thresholds. Grey levels are 0–255, sharpness is the Laplacian variance of the
    `analysis_width` grey frame, shifts are shares of the frame width, times are seconds."""

    analysis_width: int = 320
    learn_frames: int = 5  # unblocked frames used to learn the sharpness baseline and reference view
    dark_mean: float = 12.0  # mean grey level below which the view is blocked (very dark)
    uniform_std: float = 6.0  # grey std-dev below which the view is blocked (very uniform)…
    featureless_sharpness: float = 10.0  # …when its sharpness is also below this
    defocus_ratio: float = 0.35  # sharpness below this share of the baseline raises defocused
    refocus_ratio: float = 0.6  # and must come back above this share to clear it
    baseline_alpha: float = 0.02  # how fast the sharpness baseline follows a slowly changing scene
    move_fraction: float = 0.05  # a shift vs the reference above this share of the width is a move
    min_response: float = 0.1  # phase-correlation peak needed to trust a measured shift
    lost_response: float = 0.05  # below this the view no longer matches the reference at all
    stable_response: float = 0.3  # a frame matching the previous analysed one this well…
    stable_fraction: float = 0.01  # …within this shift, is a stable view (not in motion)
    reference_refresh_s: float = 60.0  # a stable, unmoved view replaces the reference this often
    blocked: HysteresisConfig = field(
        default_factory=lambda: HysteresisConfig(
            raise_after_s=2.0, raise_min_frames=2, clear_after_s=2.0, clear_min_frames=2
        )
    )
    defocused: HysteresisConfig = field(
        default_factory=lambda: HysteresisConfig(
            raise_after_s=5.0, raise_min_frames=3, clear_after_s=5.0, clear_min_frames=3
        )
    )
    # A bus can fill the view for a few seconds; a moved camera stays moved.
    moved: HysteresisConfig = field(
        default_factory=lambda: HysteresisConfig(
            raise_after_s=10.0, raise_min_frames=4, clear_after_s=5.0, clear_min_frames=3
        )
    )

    def __post_init__(self) -> None:
        if self.analysis_width < 64:
            raise ConfigError(f"tamper analysis_width must be >= 64, got {self.analysis_width}")
        if self.learn_frames < 1:
            raise ConfigError(f"tamper learn_frames must be >= 1, got {self.learn_frames}")
        if not 0 < self.defocus_ratio <= self.refocus_ratio:
            raise ConfigError("tamper needs 0 < defocus_ratio <= refocus_ratio")
        if not 0 < self.move_fraction < 0.5:
            raise ConfigError(f"tamper move_fraction must be in (0, 0.5), got {self.move_fraction}")


@dataclass(frozen=True)
class FrameMeasures:
    """What the tamper detector measured on one frame (for metrics and debugging)."""

    mean: float
    std: float
    sharpness: float
    sharpness_ratio: float | None = None
    shift_px: float | None = None  # vs the reference view, in analysis-frame pixels
    response: float | None = None  # phase-correlation peak vs the reference
    stable: bool | None = None


class TamperDetector:
    """Learns one camera's normal view, then reports blocked / defocused / moved changes.

    Feed it frames in time order with `update`; it returns the `HealthEvent`s for any state that
    flipped. Nothing is learned from a blocked view, and focus and position are not judged
    through one. Not thread-safe: one detector per camera.
    """

    def __init__(self, camera_id: str, config: TamperConfig = TamperConfig()) -> None:
        self.camera_id = camera_id
        self.config = config
        self.blocked = Hysteresis(config.blocked)
        self.defocused = Hysteresis(config.defocused)
        self.moved = Hysteresis(config.moved)
        self.baseline: float | None = None  # learned sharpness
        self.last: FrameMeasures | None = None
        self._learning: list[float] = []
        self._reference: np.ndarray | None = None
        self._reference_time = 0.0
        self._previous: np.ndarray | None = None
        self._window: np.ndarray | None = None

    @property
    def learned(self) -> bool:
        return self.baseline is not None

    def relearn(self) -> None:
        """Forget the baseline and reference after a deliberate re-aim or refocus.

        States go back to OK without events: the caller publishes the re-learn if it wants to.
        """
        for hysteresis in (self.blocked, self.defocused, self.moved):
            hysteresis.reset()
        self.baseline = None
        self._learning = []
        self._reference = None
        self._previous = None

    def update(self, timestamp: float, frame: np.ndarray) -> list[HealthEvent]:
        """Analyse one BGR or grey uint8 frame captured at `timestamp` (Unix s)."""
        cfg = self.config
        grey = self._prepare(frame)
        if self._reference is not None and self._reference.shape != grey.shape:
            # A new resolution (a stream renegotiated, a device switched mode) is not tampering, and
            # views of different sizes cannot be compared: learn this one afresh.
            log.info("camera %s: frame size changed to %s; relearning its view", self.camera_id, grey.shape)
            self.relearn()
        mean_arr, std_arr = cv2.meanStdDev(grey)
        mean, std = float(mean_arr[0, 0]), float(std_arr[0, 0])
        sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
        measures = FrameMeasures(mean, std, sharpness)
        events: list[HealthEvent] = []

        is_dark = mean < cfg.dark_mean
        is_uniform = std < cfg.uniform_std and sharpness < cfg.featureless_sharpness
        blocked_now = is_dark or is_uniform
        why = (
            f"view very dark (mean grey {mean:.1f} < {cfg.dark_mean:g})" if is_dark
            else f"view very uniform (grey std-dev {std:.1f}, sharpness {sharpness:.1f})" if is_uniform
            else f"view clear (mean grey {mean:.1f}, std-dev {std:.1f})"
        )
        metrics = {"mean": mean, "std": std, "sharpness": sharpness}
        self._flip(events, HealthKind.BLOCKED, self.blocked, blocked_now, timestamp, why, metrics)
        if blocked_now or self.blocked.active:
            self._previous = None
            self.last = measures
            return events

        if self.baseline is None:
            self._learning.append(sharpness)
            if len(self._learning) >= cfg.learn_frames:
                self.baseline = statistics.median(self._learning)
                self._set_reference(grey, timestamp)
                log.info("camera %s: learned sharpness baseline %.1f", self.camera_id, self.baseline)
            self._previous = grey
            self.last = measures
            return events

        ratio = sharpness / self.baseline if self.baseline > 0 else 1.0
        threshold = cfg.refocus_ratio if self.defocused.active else cfg.defocus_ratio
        defocused_now = ratio < threshold
        why = (
            f"sharpness {sharpness:.1f} is {ratio:.0%} of this camera's baseline {self.baseline:.1f}"
        )
        metrics = {"sharpness": sharpness, "baseline": self.baseline, "ratio": ratio}
        self._flip(events, HealthKind.DEFOCUSED, self.defocused, defocused_now, timestamp, why, metrics)
        if not defocused_now and not self.defocused.active:
            self.baseline += cfg.baseline_alpha * (sharpness - self.baseline)

        moved_now, measures = self._judge_position(grey, timestamp, measures, ratio, defocused_now)
        assert measures.shift_px is not None and measures.response is not None
        width = grey.shape[1]
        why = (
            f"view shifted {measures.shift_px / width:.1%} of the width from the reference "
            f"(match {measures.response:.2f})"
            if measures.response >= cfg.lost_response
            else f"view no longer matches the reference (match {measures.response:.2f})"
        )
        metrics = {"shift_fraction": measures.shift_px / width, "response": measures.response}
        self._flip(events, HealthKind.MOVED, self.moved, moved_now, timestamp, why, metrics)
        self._previous = grey
        self.last = measures
        return events

    def _judge_position(
        self, grey: np.ndarray, timestamp: float, measures: FrameMeasures, ratio: float, defocused: bool
    ) -> tuple[bool | None, FrameMeasures]:
        """Moved or not (None: cannot tell now — the scene is in motion, or the view is blurred)."""
        cfg = self.config
        assert self._reference is not None
        width = grey.shape[1]
        (dx, dy), response = self._correlate(self._reference, grey)
        shift = math.hypot(dx, dy)
        stable: bool | None = None
        if self._previous is not None and self._previous.shape == grey.shape:
            (pdx, pdy), prev_response = self._correlate(self._previous, grey)
            stable = prev_response >= cfg.stable_response and math.hypot(pdx, pdy) <= (
                cfg.stable_fraction * width
            )
        measures = FrameMeasures(
            measures.mean, measures.std, measures.sharpness, ratio, shift, response, stable
        )
        if not stable or defocused or self.defocused.active:
            return None, measures
        displaced = response >= cfg.min_response and shift >= cfg.move_fraction * width
        moved_now = displaced or response < cfg.lost_response
        if (
            not moved_now
            and not self.moved.active
            and shift <= cfg.stable_fraction * width
            and response >= cfg.stable_response
            and timestamp - self._reference_time >= cfg.reference_refresh_s
        ):
            self._set_reference(grey, timestamp)  # follow daylight and weather, not a move
        return moved_now, measures

    def _correlate(self, reference: np.ndarray, grey: np.ndarray) -> tuple[tuple[float, float], float]:
        if self._window is None or self._window.shape != grey.shape:
            self._window = cv2.createHanningWindow((grey.shape[1], grey.shape[0]), cv2.CV_32F)
        # phaseCorrelate applies the window to its inputs in place: always hand it copies.
        shift, response = cv2.phaseCorrelate(
            reference.astype(np.float32), grey.astype(np.float32), self._window
        )
        return (float(shift[0]), float(shift[1])), float(response)

    def _set_reference(self, grey: np.ndarray, timestamp: float) -> None:
        self._reference = grey.copy()
        self._reference_time = timestamp

    def _flip(
        self,
        events: list[HealthEvent],
        kind: HealthKind,
        hysteresis: Hysteresis,
        condition: bool | None,
        timestamp: float,
        detail: str,
        metrics: dict[str, float],
    ) -> None:
        flipped = hysteresis.update(condition, timestamp)
        if flipped is None:
            return
        state = ConditionState.ALERT if flipped else ConditionState.OK
        events.append(HealthEvent(self.camera_id, kind, state, detail, timestamp, metrics))

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        target_w = min(width, self.config.analysis_width)
        target_h = max(1, round(height * target_w / width))
        small = cv2.resize(frame, (target_w, target_h), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small


class OfflineWatchdog:
    """Raises OFFLINE when no frame has arrived for `offline_after_s`, clears on the next frame.

    Uses arrival time on `clock` (not frame timestamps, which for files are media time). A camera
    that never delivers a first frame goes offline `offline_after_s` after the watchdog starts.
    """

    def __init__(
        self, camera_id: str, offline_after_s: float = 30.0, clock: Callable[[], float] = time.time
    ) -> None:
        if offline_after_s <= 0:
            raise ConfigError(f"offline_after_s must be > 0, got {offline_after_s}")
        self.camera_id = camera_id
        self.offline_after_s = offline_after_s
        self._clock = clock
        self.last_seen = clock()
        self.offline = False

    def frame_seen(self) -> HealthEvent | None:
        """Record a frame arriving now; returns the OK event if the camera was offline."""
        now = self._clock()
        silent = now - self.last_seen
        self.last_seen = now
        if not self.offline:
            return None
        self.offline = False
        return HealthEvent(
            self.camera_id, HealthKind.OFFLINE, ConditionState.OK,
            f"frames arriving again after {silent:.0f} s without", now, {"silent_s": silent},
        )

    def check(self) -> HealthEvent | None:
        """Call periodically; returns the ALERT event once when the camera falls silent."""
        now = self._clock()
        silent = now - self.last_seen
        if self.offline or silent < self.offline_after_s:
            return None
        self.offline = True
        return HealthEvent(
            self.camera_id, HealthKind.OFFLINE, ConditionState.ALERT,
            f"no frame for {silent:.0f} s (limit {self.offline_after_s:g} s)", now, {"silent_s": silent},
        )


@dataclass(frozen=True)
class PowerReport:
    """Power state as a camera or its gateway reports it."""

    source: PowerSource
    battery_percent: float | None = None  # 0–100
    charging: bool | None = None


@dataclass(frozen=True)
class PowerConfig:
    low_percent: float = 20.0
    critical_percent: float = 10.0
    clear_margin: float = 5.0  # a level clears only this many points above its threshold

    def __post_init__(self) -> None:
        if not 0 <= self.critical_percent <= self.low_percent <= 100:
            raise ConfigError("power needs 0 <= critical_percent <= low_percent <= 100")


class PowerMonitor:
    """Turns power reports into POWER events on a change of level or of power source.

    `expected` is how the camera is meant to be powered (its registration): a grid (mains) camera
    reporting battery power has lost the grid (LOST), unless its battery is already low or critical,
    which says more.
    """

    def __init__(self, camera_id: str, config: PowerConfig = PowerConfig(),
                 expected: PowerSource | None = None) -> None:
        self.camera_id = camera_id
        self.config = config
        self.expected = expected
        self.level: PowerLevel | None = None
        self.source: PowerSource | None = None

    def update(self, report: PowerReport, timestamp: float) -> list[HealthEvent]:
        """Raises `InvalidInput` for a battery level outside 0–100."""
        pct = report.battery_percent
        if pct is not None and not (0.0 <= pct <= 100.0 and math.isfinite(pct)):
            raise InvalidInput(f"battery_percent must be 0–100, got {pct}")
        level = self._level(report)
        if level == self.level and report.source == self.source:
            return []
        self.level, self.source = level, report.source
        parts = [f"on {report.source.value} power"]
        if level is PowerLevel.LOST or (self.expected is PowerSource.MAINS
                                        and report.source is PowerSource.BATTERY):
            parts[0] = "grid power lost, on battery"
        if pct is not None:
            parts.append(f"battery {pct:.0f}%")
        if report.charging is not None:
            parts.append("charging" if report.charging else "not charging")
        metrics = {"battery_percent": pct} if pct is not None else {}
        return [HealthEvent(self.camera_id, HealthKind.POWER, level, ", ".join(parts), timestamp, metrics)]

    def _level(self, report: PowerReport) -> PowerLevel:
        level = self._battery_level(report)
        grid_lost = self.expected is PowerSource.MAINS and report.source is PowerSource.BATTERY
        return PowerLevel.LOST if grid_lost and level in (PowerLevel.OK, PowerLevel.UNKNOWN) else level

    def _battery_level(self, report: PowerReport) -> PowerLevel:
        pct = report.battery_percent
        if pct is None:
            return PowerLevel.OK if report.source is PowerSource.MAINS else PowerLevel.UNKNOWN
        cfg = self.config
        margin = cfg.clear_margin
        if pct < cfg.critical_percent or (
            self.level is PowerLevel.CRITICAL and pct < cfg.critical_percent + margin
        ):
            return PowerLevel.CRITICAL
        if pct < cfg.low_percent or (
            self.level in (PowerLevel.LOW, PowerLevel.CRITICAL) and pct < cfg.low_percent + margin
        ):
            return PowerLevel.LOW
        return PowerLevel.OK


class CameraHealthMonitor:
    """All health signals of one camera in one place, for the ingest service to feed and publish.

    Feed it every frame that arrives (`on_frame`), the source's state changes (`on_source_event`),
    power reports (`on_power`), and call `check()` periodically (see `watch`). Each method returns
    the events to publish. `status()` is the latest event of each kind.
    """

    def __init__(
        self,
        camera_id: str,
        *,
        tamper: TamperConfig = TamperConfig(),
        offline_after_s: float = 30.0,
        power: PowerConfig = PowerConfig(),
        analyse_every_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.camera_id = camera_id
        self.tamper = TamperDetector(camera_id, tamper)
        self.watchdog = OfflineWatchdog(camera_id, offline_after_s, clock)
        self.power = PowerMonitor(camera_id, power)
        self.analyse_every_s = analyse_every_s
        self._clock = clock
        self._last_analysed: float | None = None
        self._status: dict[HealthKind, HealthEvent] = {}

    def on_frame(self, timestamp: float, frame: np.ndarray) -> list[HealthEvent]:
        """A frame arrived; tamper analysis runs at most every `analyse_every_s` of frame time."""
        events: list[HealthEvent] = []
        back = self.watchdog.frame_seen()
        if back is not None:
            events.append(back)
        last = self._last_analysed
        if last is None or timestamp < last or timestamp - last >= self.analyse_every_s:
            self._last_analysed = timestamp
            events.extend(self.tamper.update(timestamp, frame))
        return self._record(events)

    def on_source_event(self, event: SourceEvent) -> list[HealthEvent]:
        """Map a source state change to a STREAM event (repeats of the same state are dropped)."""
        previous = self._status.get(HealthKind.STREAM)
        if previous is not None and previous.state == event.state.value:
            return []
        metrics: dict[str, float] = {"attempt": float(event.attempt)}
        if event.retry_in is not None:
            metrics["retry_in_s"] = event.retry_in
        health = HealthEvent(
            self.camera_id, HealthKind.STREAM, event.state.value, event.detail, event.time, metrics
        )
        return self._record([health])

    def on_power(self, report: PowerReport, timestamp: float | None = None) -> list[HealthEvent]:
        when = self._clock() if timestamp is None else timestamp
        return self._record(self.power.update(report, when))

    def check(self) -> list[HealthEvent]:
        """Periodic watchdog tick."""
        event = self.watchdog.check()
        return self._record([event] if event is not None else [])

    def status(self) -> dict[HealthKind, HealthEvent]:
        return dict(self._status)

    def _record(self, events: list[HealthEvent]) -> list[HealthEvent]:
        for event in events:
            self._status[event.kind] = event
        return events


async def watch(
    monitor: CameraHealthMonitor,
    publish: Callable[[HealthEvent], Any],
    period_s: float = 1.0,
) -> None:
    """Run `monitor.check()` every `period_s` until cancelled, passing events to `publish`
    (a plain function or a coroutine function)."""
    while True:
        for event in monitor.check():
            result = publish(event)
            if asyncio.iscoroutine(result):
                await result
        await asyncio.sleep(period_s)
