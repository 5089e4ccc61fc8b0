"""The camera estate's health at a glance: which health states mean a camera is down, or at risk.

Each camera keeps its latest state per health kind (the `camera.health` events ingest publishes). A
camera is *down* when it gives no usable video: its stream failed or is reconnecting, no frame has
arrived for a while (offline), or its view is blocked. It is *at risk* (a warning) when its grid
power is lost (running on its battery), its battery is low or critical, or its view is defocused or
moved. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

DOWN_STREAM_STATES = frozenset({"STREAM_STATE_FAILED", "STREAM_STATE_RECONNECTING"})
DOWN_ALARMS = frozenset({"offline", "blocked"})
WARNING_ALARMS = frozenset({"defocused", "moved"})
POWER_WARNINGS = frozenset({"low", "critical", "lost"})


@dataclass(frozen=True)
class Condition:
    """A camera's latest state of one health kind, and what it means."""

    kind: str
    state: str
    detail: str
    since: datetime
    down: bool


def judge(kind: str, state: str, detail: str, since: datetime) -> Condition | None:
    """What one health state means for the estate: down, a warning, or nothing to report (None)."""
    if kind == "stream":
        return Condition(kind, state, detail, since, True) if state in DOWN_STREAM_STATES else None
    if kind in DOWN_ALARMS or kind in WARNING_ALARMS:
        if state != "alarm":
            return None
        return Condition(kind, state, detail, since, kind in DOWN_ALARMS)
    if kind == "power" and state in POWER_WARNINGS:
        return Condition(kind, state, detail, since, False)
    return None


def is_down(conditions: list[Condition]) -> bool:
    return any(c.down for c in conditions)
