"""The motion gate drops still scenes (but keeps a keep-alive frame) and passes moving content."""

from __future__ import annotations

import numpy as np
import pytest

from basira.common.errors import ConfigError
from basira.ingest.motion import GateReason, MotionConfig, MotionGate


def _noisy(frame: np.ndarray, rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    noise = rng.normal(0.0, sigma, frame.shape)
    return np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def test_still_scene_is_gated_except_keepalive(car_frames: list) -> None:
    still = car_frames[0][1]  # an empty road
    rng = np.random.default_rng(1)
    gate = MotionGate(MotionConfig(keepalive_s=10.0))
    decisions = [gate.check(float(t), _noisy(still, rng)) for t in range(30)]  # 30 s at 1 fps
    kept = [t for t, d in enumerate(decisions) if d.keep]
    assert kept == [0, 10, 20]
    assert decisions[0].reason is GateReason.FIRST
    assert {decisions[t].reason for t in (10, 20)} == {GateReason.KEEPALIVE}
    assert all(d.reason is GateReason.STILL for t, d in enumerate(decisions) if t not in kept)


def test_moving_cars_pass(car_frames: list) -> None:
    # Frames 60–108 of the clip (every 4th): a white car drives through the view.
    moving = [(t, f) for t, f in car_frames if 4.8 <= t <= 8.7]
    gate = MotionGate()
    decisions = [gate.check(t, f) for t, f in moving]
    assert len(decisions) >= 10
    assert all(d.keep for d in decisions)
    assert sum(d.reason is GateReason.MOTION for d in decisions) == len(decisions) - 1


def test_whole_clip_is_mostly_kept_only_while_cars_move(car_frames: list) -> None:
    gate = MotionGate(MotionConfig(keepalive_s=5.0))
    decisions = [gate.check(t, f) for t, f in car_frames]
    motion = sum(d.reason is GateReason.MOTION for d in decisions)
    still = sum(d.reason is GateReason.STILL for d in decisions)
    assert motion >= 15 and still >= 30  # the clip alternates between cars and an empty road


def test_small_moving_object_on_a_still_scene_is_motion(car_frames: list) -> None:
    base = car_frames[0][1].copy()
    gate = MotionGate()
    gate.check(0.0, base)
    moved = base.copy()
    moved[200:240, 300:340] = 255  # a 40×40 bright object appears (~0.5% of the frame)
    decision = gate.check(1.0, moved)
    assert decision.keep and decision.reason is GateReason.MOTION


def test_resolution_change_restarts(car_frames: list) -> None:
    gate = MotionGate()
    frame = car_frames[0][1]
    gate.check(0.0, frame)
    assert not gate.check(1.0, frame).keep
    assert gate.check(2.0, frame[:, :400]).reason is GateReason.FIRST


def test_reset_keeps_next_frame(car_frames: list) -> None:
    gate = MotionGate()
    frame = car_frames[0][1]
    gate.check(0.0, frame)
    gate.reset()
    assert gate.check(0.5, frame).keep


@pytest.mark.parametrize(
    "kwargs",
    [{"blur_kernel": 4}, {"pixel_threshold": 300}, {"min_changed_fraction": 2}, {"keepalive_s": 0}],
)
def test_bad_config(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        MotionConfig(**kwargs)
