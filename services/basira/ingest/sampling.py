"""Frame-rate sampling by timestamps: keep just enough frames to hold a configured analysis rate."""

from __future__ import annotations

from basira.common.errors import ConfigError

# Timestamps within this much of a due time count as due (float error, jittery capture clocks).
_TOLERANCE_S = 1e-3


class FrameRateSampler:
    """Decide, frame by frame, which frames to keep so the kept rate is at most `fps`.

    Due times sit on a fixed grid (`interval` apart), so over a long run the kept rate is `fps` even
    when the source rate is not a multiple of it (12.5 fps in → 5 fps out keeps 2 of every 5). After
    a gap, or if time goes backwards (a file loops, a camera clock is reset), the grid restarts at the
    next frame instead of bursting to catch up. `fps=None` or 0 keeps every frame.
    Not thread-safe: one sampler per stream, used by one reader.
    """

    def __init__(self, fps: float | None) -> None:
        if fps is not None and fps < 0:
            raise ConfigError(f"analysis frame rate must be >= 0, got {fps}")
        self.fps = fps or None
        self.interval = 1.0 / fps if fps else 0.0
        self._next_due: float | None = None
        self._last_seen: float | None = None
        self.seen = 0
        self.kept = 0

    def accept(self, timestamp: float) -> bool:
        """Return True if the frame captured at `timestamp` (seconds) should be kept; records it."""
        self.seen += 1
        last, self._last_seen = self._last_seen, timestamp
        if self.fps is None:
            self.kept += 1
            return True
        went_back = last is not None and timestamp < last - _TOLERANCE_S
        if self._next_due is None or went_back or timestamp >= self._next_due + self.interval:
            self._next_due = timestamp  # start (or restart) the grid here
        if timestamp + _TOLERANCE_S < self._next_due:
            return False
        self._next_due += self.interval
        self.kept += 1
        return True

    def reset(self) -> None:
        """Forget the grid (a new stream or a reconnect): the next frame is kept."""
        self._next_due = None
        self._last_seen = None
