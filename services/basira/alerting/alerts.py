"""Alert state as plain data: what a candidate becomes, how repeats fold in, and the allowed transitions.

No I/O. The store persists these records; the servicer and consumers only call these functions.
Face matches follow the two-person rule (DESIGN §5): the first confirmation moves the alert to
PENDING_CONFIRMATION, a second, different person's confirmation to CONFIRMED.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from basira.common.errors import FailedPrecondition, InvalidInput, PermissionDenied

# AlertKind / AlertState numbers of basira/v1/alert.proto (kept equal; tests check it).
KIND_PLATE_HIT = 1
KIND_FACE_MATCH = 2
KIND_CAMERA_HEALTH = 3
KIND_CROWD = 4
KIND_CONGESTION = 5
KIND_FOLLOW = 6

OPEN = 1
ACKNOWLEDGED = 2
PENDING_CONFIRMATION = 3
CONFIRMED = 4
REJECTED = 5
ESCALATED = 6

STILL_OPEN = (OPEN, ACKNOWLEDGED, PENDING_CONFIRMATION, ESCALATED)
"""States a command room still has to act on; StreamAlerts(after_sequence=0) replays these."""

MATCH_KINDS = (KIND_PLATE_HIT, KIND_FACE_MATCH)
FINAL_STATES = (CONFIRMED, REJECTED)

_SUBJECT_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Hotlist reason (basira.v1.HotlistReason) → the purpose a plate hit is shared for.
PLATE_PURPOSES: dict[int, str] = {
    1: "stolen-vehicle",       # STOLEN
    2: "serious-crime",        # WANTED
    3: "missing-person",       # AMBER_ALERT
    4: "traffic-enforcement",  # UNINSURED
}
DEFAULT_PLATE_PURPOSE = "stolen-vehicle"


def plate_purpose(reason: int) -> str:
    """The policy purpose of sharing a hit on a hotlist entry listed for `reason`."""
    return PLATE_PURPOSES.get(reason, DEFAULT_PLATE_PURPOSE)


def agency_subject(agency: str) -> str:
    """The NATS subject of an agency's alerts; raises InvalidInput if the name cannot be a token."""
    if not _SUBJECT_TOKEN.fullmatch(agency):
        raise InvalidInput(f"agency {agency!r} cannot name an alert subject (letters, digits, - and _)",
                           field="agency")
    return f"alerts.{agency}"


def recipient_candidates(owner_agency: str, others: Iterable[str]) -> list[str]:
    """Agencies to ask policy about, owner first, each once; policy decides who actually receives."""
    seen: list[str] = []
    for agency in (owner_agency, *others):
        if agency and agency not in seen and _SUBJECT_TOKEN.fullmatch(agency):
            seen.append(agency)
    return seen


@dataclass(frozen=True)
class AlertRecord:
    """One alert held by one agency. `target` identifies what was seen (dedupe key with the camera)."""

    id: str
    kind: int
    state: int
    agency: str
    zone: str
    camera_id: str
    target: str
    raised: datetime
    last_seen: datetime
    sightings: int = 1
    summary: str = ""
    plate_pb: bytes = b""
    entry_pb: bytes = b""
    snapshot_id: str = ""
    acknowledged_by: tuple[str, ...] = ()
    confirmed_by: tuple[str, ...] = ()
    escalated_to: str = ""
    rejected_by: str = ""
    actor: str = ""
    version: int = 1
    sequence: int = 0
    details: dict[str, str] = field(default_factory=dict)
    escalated_from: str = ""  # on a copy received by escalation: the sending agency ...
    escalated_alert_id: str = ""  # ... and its alert
    follow_id: str = ""
    count: int = 0
    threshold: int = 0
    face_pb: bytes = b""  # basira.v1.FaceMatch, for face matches



def escalated_copy(alert: AlertRecord, receiving_agency: str, new_id: str) -> AlertRecord:
    """The receiving agency's own alert for an escalated one: open, naming where it came from."""
    return replace(alert, id=new_id, state=OPEN, agency=receiving_agency,
                   summary=f"Escalated by {alert.agency}: {alert.summary}", acknowledged_by=(),
                   confirmed_by=(), escalated_to="", rejected_by="", actor="", version=1, sequence=0,
                   escalated_from=alert.agency, escalated_alert_id=alert.id, follow_id="")


KIND_DATA_CLASS = {KIND_PLATE_HIT: "plate", KIND_FACE_MATCH: "biometric", KIND_CAMERA_HEALTH: "camera_meta",
                   KIND_CROWD: "counts", KIND_CONGESTION: "counts", KIND_FOLLOW: "plate"}
"""The data class an alert of each kind carries (what a receiving agency must be granted)."""


def within_window(last_seen: datetime, seen: datetime, window: timedelta) -> bool:
    """True if a sighting at `seen` belongs to an alert last seen at `last_seen` (either order)."""
    return abs(seen - last_seen) <= window


def fold_sighting(alert: AlertRecord, seen: datetime, snapshot_id: str = "", *, count: int = 0
                  ) -> AlertRecord:
    """A repeat sighting of the same target at the same camera: count it, keep the latest time (and,
    for crowd/congestion, the highest minute count)."""
    latest = seen > alert.last_seen
    return replace(alert, sightings=alert.sightings + 1, last_seen=max(alert.last_seen, seen),
                   snapshot_id=snapshot_id if latest and snapshot_id else alert.snapshot_id, actor="",
                   version=alert.version + 1, count=max(alert.count, count))


def acknowledge(alert: AlertRecord, user: str) -> AlertRecord:
    """Someone in the room has seen it; only an OPEN alert changes state."""
    if alert.state == REJECTED:
        raise FailedPrecondition(f"alert {alert.id} was rejected; nothing to acknowledge")
    by = alert.acknowledged_by if user in alert.acknowledged_by else (*alert.acknowledged_by, user)
    state = ACKNOWLEDGED if alert.state == OPEN else alert.state
    return replace(alert, state=state, acknowledged_by=by, actor=user, version=alert.version + 1)


def confirm(alert: AlertRecord, user: str) -> AlertRecord:
    """Confirm a match: plates need one person, faces two different people.

    Raises FailedPrecondition for non-match alerts and closed matches, PermissionDenied when the
    person who gave the first confirmation of a face match tries to give the second.
    """
    if alert.kind not in MATCH_KINDS:
        raise FailedPrecondition(f"alert {alert.id} is not a match; only matches are confirmed")
    if alert.state in FINAL_STATES:
        raise FailedPrecondition(f"alert {alert.id} is already {state_name(alert.state)}")
    if alert.kind == KIND_PLATE_HIT:
        return replace(alert, state=CONFIRMED, confirmed_by=(*alert.confirmed_by, user), actor=user,
                       version=alert.version + 1)
    if user in alert.confirmed_by:
        raise PermissionDenied(f"two-person rule: {user} already confirmed this face match; a second, "
                               "different authorised person must confirm it")
    confirmed_by = (*alert.confirmed_by, user)
    state = CONFIRMED if len(confirmed_by) >= 2 else PENDING_CONFIRMATION
    return replace(alert, state=state, confirmed_by=confirmed_by, actor=user, version=alert.version + 1)


def reject(alert: AlertRecord, user: str) -> AlertRecord:
    """A person decides the candidate is not the target; final."""
    if alert.kind not in MATCH_KINDS:
        raise FailedPrecondition(f"alert {alert.id} is not a match; only matches are rejected")
    if alert.state in FINAL_STATES:
        raise FailedPrecondition(f"alert {alert.id} is already {state_name(alert.state)}")
    return replace(alert, state=REJECTED, rejected_by=user, actor=user, version=alert.version + 1)


def escalate(alert: AlertRecord, user: str, escalate_to: str) -> AlertRecord:
    """Hand the alert up to another unit or agency (named in `escalate_to`)."""
    if not escalate_to.strip():
        raise InvalidInput("escalate_to names the agency or unit to escalate to", field="escalate_to")
    if alert.state == REJECTED:
        raise FailedPrecondition(f"alert {alert.id} was rejected; it cannot be escalated")
    return replace(alert, state=ESCALATED, escalated_to=escalate_to.strip(), actor=user,
                   version=alert.version + 1)


_STATE_NAMES = {OPEN: "open", ACKNOWLEDGED: "acknowledged", PENDING_CONFIRMATION: "pending confirmation",
                CONFIRMED: "confirmed", REJECTED: "rejected", ESCALATED: "escalated"}


def state_name(state: int) -> str:
    return _STATE_NAMES.get(state, f"state {state}")


@dataclass(frozen=True)
class StreamFilter:
    """What one StreamAlerts caller receives.

    An alert passes if its kind was asked for (empty = all kinds), its zone was asked for (None = any),
    and policy granted it: its zone is in `granted_zones` or its camera in `granted_cameras` (both None
    = no limit from policy).
    """

    zones: frozenset[str] | None = None
    kinds: frozenset[int] = frozenset()
    granted_zones: frozenset[str] | None = None
    granted_cameras: frozenset[str] | None = None

    def granted(self, zone: str, camera_id: str) -> bool:
        if self.granted_zones is None and self.granted_cameras is None:
            return True
        return zone in (self.granted_zones or ()) or camera_id in (self.granted_cameras or ())

    def passes(self, kind: int, zone: str, camera_id: str) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        if self.zones is not None and zone not in self.zones:
            return False
        return self.granted(zone, camera_id)


def stream_filter(requested_zones: Iterable[str], kinds: Iterable[int],
                  granted_zones: Iterable[str] | None = None,
                  granted_cameras: Iterable[str] | None = None) -> StreamFilter:
    """The caller's zones and kinds, limited by what policy granted (obligations `zones`/`cameras`)."""
    requested = frozenset(z for z in requested_zones if z)
    return StreamFilter(
        zones=requested or None, kinds=frozenset(k for k in kinds if k),
        granted_zones=frozenset(granted_zones) if granted_zones is not None else None,
        granted_cameras=frozenset(granted_cameras) if granted_cameras is not None else None,
    )
