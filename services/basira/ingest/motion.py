"""Motion gating: skip frames of a still scene, but still send one every `keepalive_s` seconds.

A parked car park or an empty corridor would otherwise cost the analytics tier as much as a busy
street. The test is deliberately cheap (a 160-pixel-wide blurred grey frame, compared with the
previous one) because it runs on every sampled frame of every camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from basira.common.errors import ConfigError


class GateReason(StrEnum):
    FIRST = "first"  # nothing to compare with yet (start, reset, resolution change)
    MOTION = "motion"
    KEEPALIVE = "keepalive"  # still, but nothing has been sent for `keepalive_s`
    STILL = "still"


@dataclass(frozen=True)
class MotionConfig:
    """Motion gate settings. Sizes in pixels of the analysis frame, times in seconds."""

    analysis_width: int = 160
    blur_kernel: int = 5  # odd; smooths sensor noise and compression artefacts before differencing
    pixel_threshold: int = 25  # a grey-level change (0–255) above this counts as a changed pixel
    min_changed_fraction: float = 0.002  # share of changed pixels that counts as motion
    keepalive_s: float = 10.0  # a still camera still sends one frame this often

    def __post_init__(self) -> None:
        if self.analysis_width < 16:
            raise ConfigError(f"motion analysis_width must be >= 16, got {self.analysis_width}")
        if self.blur_kernel < 1 or self.blur_kernel % 2 == 0:
            raise ConfigError(f"motion blur_kernel must be odd and >= 1, got {self.blur_kernel}")
        if not 0 <= self.pixel_threshold <= 255:
            raise ConfigError(f"motion pixel_threshold must be 0–255, got {self.pixel_threshold}")
        if not 0 <= self.min_changed_fraction <= 1:
            raise ConfigError(f"motion min_changed_fraction must be 0–1, got {self.min_changed_fraction}")
        if self.keepalive_s <= 0:
            raise ConfigError(f"motion keepalive_s must be > 0, got {self.keepalive_s}")


@dataclass(frozen=True)
class GateDecision:
    keep: bool
    reason: GateReason
    changed_fraction: float  # share of pixels that changed since the previous frame (0–1)


class MotionGate:
    """Keep a frame when it differs from the previous one, or when the keep-alive interval is up.

    Not thread-safe: one gate per stream.
    """

    def __init__(self, config: MotionConfig = MotionConfig()) -> None:
        self.config = config
        self._previous: np.ndarray | None = None
        self._last_kept: float | None = None

    def check(self, timestamp: float, frame: np.ndarray) -> GateDecision:
        """Decide whether to pass `frame` (BGR or grey uint8) captured at `timestamp` (seconds)."""
        small = self._prepare(frame)
        previous, self._previous = self._previous, small
        if previous is None or previous.shape != small.shape:
            return self._keep(timestamp, GateReason.FIRST, 1.0)
        changed = cv2.absdiff(small, previous) > self.config.pixel_threshold
        fraction = float(np.count_nonzero(changed)) / changed.size
        if fraction >= self.config.min_changed_fraction:
            return self._keep(timestamp, GateReason.MOTION, fraction)
        last = self._last_kept
        if last is None or timestamp < last or timestamp - last >= self.config.keepalive_s:
            return self._keep(timestamp, GateReason.KEEPALIVE, fraction)
        return GateDecision(False, GateReason.STILL, fraction)

    def reset(self) -> None:
        """Forget the previous frame (after a reconnect the first frame is always passed)."""
        self._previous = None
        self._last_kept = None

    def _keep(self, timestamp: float, reason: GateReason, fraction: float) -> GateDecision:
        self._last_kept = timestamp
        return GateDecision(True, reason, fraction)

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        target_w = min(width, self.config.analysis_width)
        target_h = max(1, round(height * target_w / width))
        small = cv2.resize(frame, (target_w, target_h), interpolation=cv2.INTER_AREA)
        if small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        k = self.config.blur_kernel
        return cv2.GaussianBlur(small, (k, k), 0) if k > 1 else small
