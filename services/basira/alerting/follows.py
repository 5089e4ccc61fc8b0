"""Live follows as plain data: what a follow watches, when it ends, and what a sighting of it becomes.

A follow is an agency's standing order to be told each time a target is seen anywhere it may look.
It exists only under an authorization (court order, prosecutor): it ends when the authorization
expires, or when someone stops it. Starting one is a logged, policy-decided act (`follow.start`);
every sighting it delivers is another (`follow.sighting`), so an expired or out-of-scope
authorization delivers nothing even if the follow's own record were stale. No I/O here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from basira.alerting.alerts import KIND_FOLLOW, OPEN, AlertRecord
from basira.common.errors import FailedPrecondition, InvalidInput

ACTIVE = 1
STOPPED = 2
EXPIRED = 3

TARGET_PLATE = "plate"


@dataclass(frozen=True)
class FollowRecord:
    """One follow of one agency. `zones`/`cameras` None means policy set no limit."""

    id: str
    agency: str
    target_kind: str
    target: str
    started_by: str
    context: dict[str, Any]
    expires: datetime
    started: datetime
    zones: tuple[str, ...] | None = None
    cameras: tuple[str, ...] | None = None
    state: int = ACTIVE
    stopped: datetime | None = None
    stopped_by: str = ""
    stop_reason: str = ""
    sightings: int = 0
    last_seen: datetime | None = None
    last_camera_id: str = ""
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def authorization_id(self) -> str:
        return str((self.context.get("authorization") or {}).get("id", ""))


def new_follow(*, agency: str, target: str, started_by: str, context: dict[str, Any],
               expires: datetime | None, now: datetime, zones: Iterable[str] | None,
               cameras: Iterable[str] | None, note: str = "") -> FollowRecord:
    """A follow starting now; InvalidInput without a future authorization expiry.

    `context` is the policy context of the StartFollow call (purpose, case id, authorization); it is
    kept, without its time and source address, to authorise each sighting.
    """
    if expires is None:
        raise InvalidInput("access.authorization.expires is required: a follow ends when its "
                           "authorization does", field="access.authorization.expires")
    if expires <= now:
        raise InvalidInput(f"the authorization expired at {expires.isoformat()}; a follow needs one in "
                           "force", field="access.authorization.expires")
    kept = {k: v for k, v in context.items() if k in ("purpose", "case_id", "authorization")}
    return FollowRecord(id=uuid.uuid4().hex, agency=agency, target_kind=TARGET_PLATE, target=target,
                        started_by=started_by, context=kept, expires=expires, started=now,
                        zones=tuple(zones) if zones is not None else None,
                        cameras=tuple(cameras) if cameras is not None else None, note=note)


def effective_state(follow: FollowRecord, now: datetime) -> int:
    """STOPPED if someone stopped it, EXPIRED once its authorization has expired, else ACTIVE."""
    if follow.state == STOPPED:
        return STOPPED
    if follow.state == EXPIRED or follow.expires <= now:
        return EXPIRED
    return ACTIVE


def watches(follow: FollowRecord, zone: str, camera_id: str) -> bool:
    """True if a sighting at `camera_id` in `zone` is within what the follow may look at."""
    if follow.zones is None and follow.cameras is None:
        return True
    return zone in (follow.zones or ()) or camera_id in (follow.cameras or ())


def stop(follow: FollowRecord, user: str, reason: str, now: datetime) -> FollowRecord:
    """Stop an active follow; FailedPrecondition if it already ended."""
    state = effective_state(follow, now)
    if state != ACTIVE:
        raise FailedPrecondition(f"follow {follow.id} has already ended ({STATE_NAMES[state]})")
    return FollowRecord(**{**follow.__dict__, "state": STOPPED, "stopped": now, "stopped_by": user,
                           "stop_reason": reason.strip()[:500]})


STATE_NAMES = {ACTIVE: "active", STOPPED: "stopped", EXPIRED: "expired"}


def sighting_context(follow: FollowRecord, now_iso: str) -> dict[str, Any]:
    """The policy context of one delivery: the follow's purpose, case and authorization, at `now`."""
    return {**follow.context, "time": now_iso}


def follow_alert(follow: FollowRecord, *, alert_id: str, zone: str, camera_id: str, seen: datetime,
                 plate_pb: bytes, snapshot_id: str, display: str) -> AlertRecord:
    """What one sighting of a followed target becomes in the agency's alert stream."""
    where = camera_id + (f" ({zone})" if zone else "")
    return AlertRecord(id=alert_id, kind=KIND_FOLLOW, state=OPEN, agency=follow.agency, zone=zone,
                       camera_id=camera_id, target=f"follow:{follow.id}", raised=seen, last_seen=seen,
                       summary=f"Followed plate {display} seen at {where}", plate_pb=plate_pb,
                       snapshot_id=snapshot_id, follow_id=follow.id)
