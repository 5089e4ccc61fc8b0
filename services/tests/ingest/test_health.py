"""Camera health: tamper detection on real frames, hysteresis, offline watchdog, power, stream states."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import pytest

from basira.common.errors import ConfigError, InvalidInput
from basira.ingest.health import (
    CameraHealthMonitor,
    ConditionState,
    HealthEvent,
    HealthKind,
    Hysteresis,
    HysteresisConfig,
    OfflineWatchdog,
    PowerConfig,
    PowerLevel,
    PowerMonitor,
    PowerReport,
    PowerSource,
    TamperDetector,
    watch,
)
from basira.ingest.sources import SourceEvent, SourceState


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _shift(frame: np.ndarray, dx: int, dy: int) -> np.ndarray:
    matrix = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
    return cv2.warpAffine(frame, matrix, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REFLECT)


def _learned(car_frames: list) -> TamperDetector:
    """A detector that has learned the car clip's view from its first seconds (1 frame/s)."""
    detector = TamperDetector("cam-1")
    for i, (_, frame) in enumerate(car_frames[:10]):
        assert detector.update(float(i), frame) == []
    assert detector.learned
    return detector


def _calm(car_frames: list) -> list[np.ndarray]:
    """An empty-road stretch of the clip (media 9–15 s)."""
    return [f for t, f in car_frames if 9.0 <= t <= 15.0]


def _feed(detector: TamperDetector, frames: list[np.ndarray], start: float) -> list[HealthEvent]:
    events: list[HealthEvent] = []
    for i, frame in enumerate(frames):
        events += detector.update(start + i, frame)
    return events


def _kinds(events: list[HealthEvent]) -> list[tuple[str, str]]:
    return [(e.kind.value, e.state) for e in events]


def test_blocked_by_black_frames_raises_then_clears(car_frames: list) -> None:
    detector = _learned(car_frames)
    black = [np.zeros_like(car_frames[0][1])] * 6
    raised = _feed(detector, black, 10.0)
    assert _kinds(raised) == [("blocked", "alert")]
    assert "dark" in raised[0].detail and raised[0].time == 12.0  # held 2 s over 3 frames
    cleared = _feed(detector, _calm(car_frames)[:6], 20.0)
    assert _kinds(cleared) == [("blocked", "ok")]


def test_blocked_by_a_uniform_cover(car_frames: list) -> None:
    detector = _learned(car_frames)
    cover = np.full_like(car_frames[0][1], 170)  # a sheet of paper in front of the lens
    events = _feed(detector, [_add_noise(cover)] * 5, 10.0)
    assert _kinds(events) == [("blocked", "alert")]
    assert "uniform" in events[0].detail


def _add_noise(frame: np.ndarray) -> np.ndarray:
    noise = np.random.default_rng(3).normal(0, 2, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


def test_one_black_frame_does_not_flap(car_frames: list) -> None:
    detector = _learned(car_frames)
    frames = _calm(car_frames)[:10]
    frames[4] = np.zeros_like(frames[4])
    assert _feed(detector, frames, 10.0) == []


def test_defocus_by_heavy_blur_raises_then_clears(car_frames: list) -> None:
    detector = _learned(car_frames)
    blurred = [cv2.GaussianBlur(f, (0, 0), 4) for f in _calm(car_frames)[:10]]
    raised = _feed(detector, blurred, 10.0)
    assert _kinds(raised) == [("defocused", "alert")]
    assert raised[0].metrics["ratio"] < 0.35
    assert not detector.blocked.active  # a blurred road is not a blocked lens
    cleared = _feed(detector, _calm(car_frames)[:10], 30.0)
    assert _kinds(cleared) == [("defocused", "ok")]


def test_mild_blur_is_not_defocus(car_frames: list) -> None:
    detector = _learned(car_frames)
    slightly = [cv2.GaussianBlur(f, (0, 0), 0.6) for f in _calm(car_frames)[:10]]
    assert _feed(detector, slightly, 10.0) == []


@pytest.mark.parametrize(("dx", "dy"), [(80, 30), (-60, 0), (0, 45)])
def test_moved_camera_raises_then_clears(car_frames: list, dx: int, dy: int) -> None:
    detector = _learned(car_frames)
    calm = _calm(car_frames)
    raised = _feed(detector, [_shift(f, dx, dy) for f in calm], 10.0)
    assert _kinds(raised) == [("moved", "alert")]
    assert raised[0].time >= 20.0  # must persist 10 s: a passing truck is not a move
    assert raised[0].metrics["shift_fraction"] >= 0.05
    cleared = _feed(detector, calm, 40.0)
    assert _kinds(cleared) == [("moved", "ok")]


def test_short_displacement_does_not_raise(car_frames: list) -> None:
    detector = _learned(car_frames)
    calm = _calm(car_frames)
    frames = [_shift(f, 80, 30) for f in calm[:5]] + calm[5:]  # knocked for 5 s, then back
    assert _feed(detector, frames, 10.0) == []


@pytest.mark.parametrize("step", [1, 3])
def test_no_false_tamper_on_the_car_clip(car_frames: list, step: int) -> None:
    detector = TamperDetector("cam-1")
    events: list[HealthEvent] = []
    for t, frame in car_frames[::step]:
        events += detector.update(t, frame)
    assert detector.learned
    assert events == []


def test_no_false_tamper_on_the_people_gif(people_gif: Path) -> None:
    capture = cv2.VideoCapture(str(people_gif), cv2.CAP_FFMPEG)
    detector = TamperDetector("cam-2")
    events: list[HealthEvent] = []
    count = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        count += 1
        events += detector.update(capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, frame)
    capture.release()
    assert count == 23 and detector.learned
    assert events == []


def test_nothing_is_learned_through_a_blocked_lens(car_frames: list) -> None:
    detector = TamperDetector("cam-1")
    black = np.zeros_like(car_frames[0][1])
    _feed(detector, [black] * 20, 0.0)
    assert not detector.learned and detector.blocked.active


def test_relearn_forgets_the_view(car_frames: list) -> None:
    detector = _learned(car_frames)
    _feed(detector, [_shift(f, 80, 30) for f in _calm(car_frames)], 10.0)
    assert detector.moved.active
    detector.relearn()
    assert not detector.learned and not detector.moved.active


def test_hysteresis_needs_time_and_frames() -> None:
    h = Hysteresis(HysteresisConfig(raise_after_s=3, raise_min_frames=3, clear_after_s=1, clear_min_frames=2))
    assert h.update(True, 0.0) is None
    assert h.update(True, 1.0) is None
    assert h.update(None, 2.0) is None  # undecidable: neither counts nor breaks the streak
    assert h.update(True, 3.0) is True
    assert h.update(False, 4.0) is None
    assert h.update(True, 4.5) is None  # streak broken
    assert h.update(False, 5.0) is None
    assert h.update(False, 6.0) is False


def test_offline_watchdog() -> None:
    clock = FakeClock()
    dog = OfflineWatchdog("cam-1", offline_after_s=30, clock=clock)
    clock.now += 29
    assert dog.check() is None
    clock.now += 2
    alert = dog.check()
    assert alert is not None and (alert.kind, alert.state) == (HealthKind.OFFLINE, ConditionState.ALERT)
    clock.now += 10
    assert dog.check() is None  # reported once
    back = dog.frame_seen()
    assert back is not None and back.state == ConditionState.OK and back.metrics["silent_s"] == 41
    assert dog.frame_seen() is None


async def test_watch_publishes_offline_until_cancelled() -> None:
    clock = FakeClock()
    monitor = CameraHealthMonitor("cam-1", offline_after_s=5, clock=clock)
    published: list[HealthEvent] = []

    async def publish(event: HealthEvent) -> None:
        published.append(event)

    task = asyncio.create_task(watch(monitor, publish, period_s=0.01))
    await asyncio.sleep(0.05)
    assert published == []
    clock.now += 6
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _kinds(published) == [("offline", "alert")]


def test_power_levels_with_margin() -> None:
    monitor = PowerMonitor("cam-9", PowerConfig(low_percent=20, critical_percent=10, clear_margin=5))
    report = lambda pct, src=PowerSource.SOLAR: PowerReport(src, pct, charging=False)  # noqa: E731
    assert [e.state for e in monitor.update(report(80), 0)] == [PowerLevel.OK]
    assert monitor.update(report(60), 1) == []
    assert [e.state for e in monitor.update(report(19), 2)] == [PowerLevel.LOW]
    assert monitor.update(report(22), 3) == []  # inside the margin: still low
    assert [e.state for e in monitor.update(report(9), 4)] == [PowerLevel.CRITICAL]
    events = monitor.update(report(26), 5)
    assert [e.state for e in events] == [PowerLevel.OK]
    assert events[0].metrics == {"battery_percent": 26} and "solar" in events[0].detail
    mains = monitor.update(PowerReport(PowerSource.MAINS), 6)
    assert [(e.state, e.detail) for e in mains] == [(PowerLevel.OK, "on mains power")]
    with pytest.raises(InvalidInput):
        monitor.update(report(140), 7)
    with pytest.raises(ConfigError):
        PowerConfig(low_percent=5, critical_percent=10)


def test_monitor_maps_stream_states_and_keeps_status(car_frames: list) -> None:
    clock = FakeClock()
    monitor = CameraHealthMonitor("cam-1", clock=clock)
    lost = SourceEvent("cam-1", SourceState.LOST, "stream closed", 1000.0)
    retry = SourceEvent("cam-1", SourceState.RECONNECTING, "refused", 1000.1, attempt=1, retry_in=0.5)
    assert _kinds(monitor.on_source_event(lost)) == [("stream", "lost")]
    assert _kinds(monitor.on_source_event(retry)) == [("stream", "reconnecting")]
    again = SourceEvent("cam-1", SourceState.RECONNECTING, "refused", 1001.0, attempt=2, retry_in=1.0)
    assert monitor.on_source_event(again) == []  # same state: not republished
    black = np.zeros_like(car_frames[0][1])
    events: list[HealthEvent] = []
    for i in range(6):
        events += monitor.on_frame(2000.0 + i * 0.5, black)  # 2 fps in, analysed once a second
    assert _kinds(events) == [("blocked", "alert")]
    status = monitor.status()
    assert status[HealthKind.STREAM].state == "reconnecting"
    assert status[HealthKind.BLOCKED].state == "alert"


def test_monitor_reports_back_online(car_frames: list) -> None:
    clock = FakeClock()
    monitor = CameraHealthMonitor("cam-1", offline_after_s=10, clock=clock)
    clock.now += 11
    assert _kinds(monitor.check()) == [("offline", "alert")]
    assert _kinds(monitor.on_frame(clock.now, car_frames[0][1])) == [("offline", "ok")]


def test_a_change_of_resolution_relearns_instead_of_failing(car_frames: list) -> None:
    """Pushed frames may change size (device modes, different uploads): never a crash, never a tamper."""
    detector = _learned(car_frames)
    assert detector.learned
    smaller = [cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 3)) for f in _calm(car_frames)]
    events = _feed(detector, smaller, start=1_000.0)
    assert [e for e in events if e.state != "ok"] == []
    assert detector.learned, "the new view is learned again after a few frames"
