import datetime

from basira.v1 import analytics_pb2 as _analytics_pb2
from basira.v1 import common_pb2 as _common_pb2
from basira.v1 import options_pb2 as _options_pb2
from basira.v1 import watchlist_pb2 as _watchlist_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AlertKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_KIND_UNSPECIFIED: _ClassVar[AlertKind]
    ALERT_KIND_PLATE_HIT: _ClassVar[AlertKind]
    ALERT_KIND_FACE_MATCH: _ClassVar[AlertKind]
    ALERT_KIND_CAMERA_HEALTH: _ClassVar[AlertKind]
    ALERT_KIND_CROWD: _ClassVar[AlertKind]
    ALERT_KIND_CONGESTION: _ClassVar[AlertKind]
    ALERT_KIND_FOLLOW: _ClassVar[AlertKind]

class AlertState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_STATE_UNSPECIFIED: _ClassVar[AlertState]
    ALERT_STATE_OPEN: _ClassVar[AlertState]
    ALERT_STATE_ACKNOWLEDGED: _ClassVar[AlertState]
    ALERT_STATE_PENDING_CONFIRMATION: _ClassVar[AlertState]
    ALERT_STATE_CONFIRMED: _ClassVar[AlertState]
    ALERT_STATE_REJECTED: _ClassVar[AlertState]
    ALERT_STATE_ESCALATED: _ClassVar[AlertState]

class FollowState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FOLLOW_STATE_UNSPECIFIED: _ClassVar[FollowState]
    FOLLOW_STATE_ACTIVE: _ClassVar[FollowState]
    FOLLOW_STATE_STOPPED: _ClassVar[FollowState]
    FOLLOW_STATE_EXPIRED: _ClassVar[FollowState]
ALERT_KIND_UNSPECIFIED: AlertKind
ALERT_KIND_PLATE_HIT: AlertKind
ALERT_KIND_FACE_MATCH: AlertKind
ALERT_KIND_CAMERA_HEALTH: AlertKind
ALERT_KIND_CROWD: AlertKind
ALERT_KIND_CONGESTION: AlertKind
ALERT_KIND_FOLLOW: AlertKind
ALERT_STATE_UNSPECIFIED: AlertState
ALERT_STATE_OPEN: AlertState
ALERT_STATE_ACKNOWLEDGED: AlertState
ALERT_STATE_PENDING_CONFIRMATION: AlertState
ALERT_STATE_CONFIRMED: AlertState
ALERT_STATE_REJECTED: AlertState
ALERT_STATE_ESCALATED: AlertState
FOLLOW_STATE_UNSPECIFIED: FollowState
FOLLOW_STATE_ACTIVE: FollowState
FOLLOW_STATE_STOPPED: FollowState
FOLLOW_STATE_EXPIRED: FollowState

class Alert(_message.Message):
    __slots__ = ("id", "sequence", "kind", "state", "agency", "zone", "camera_id", "raised", "last_seen", "sightings", "summary", "plate", "hotlist_entry", "snapshot_id", "acknowledged_by", "confirmed_by", "escalated_to", "actor", "escalated_from", "escalated_alert_id", "follow_id", "count", "threshold", "face_match", "rejected_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    RAISED_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    SIGHTINGS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    HOTLIST_ENTRY_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_BY_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_BY_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_TO_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_FROM_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    FACE_MATCH_FIELD_NUMBER: _ClassVar[int]
    REJECTED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    sequence: int
    kind: AlertKind
    state: AlertState
    agency: str
    zone: str
    camera_id: str
    raised: _timestamp_pb2.Timestamp
    last_seen: _timestamp_pb2.Timestamp
    sightings: int
    summary: str
    plate: _analytics_pb2.PlateReading
    hotlist_entry: _watchlist_pb2.HotlistEntry
    snapshot_id: str
    acknowledged_by: _containers.RepeatedScalarFieldContainer[str]
    confirmed_by: _containers.RepeatedScalarFieldContainer[str]
    escalated_to: str
    actor: str
    escalated_from: str
    escalated_alert_id: str
    follow_id: str
    count: int
    threshold: int
    face_match: FaceMatch
    rejected_by: str
    def __init__(self, id: _Optional[str] = ..., sequence: _Optional[int] = ..., kind: _Optional[_Union[AlertKind, str]] = ..., state: _Optional[_Union[AlertState, str]] = ..., agency: _Optional[str] = ..., zone: _Optional[str] = ..., camera_id: _Optional[str] = ..., raised: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sightings: _Optional[int] = ..., summary: _Optional[str] = ..., plate: _Optional[_Union[_analytics_pb2.PlateReading, _Mapping]] = ..., hotlist_entry: _Optional[_Union[_watchlist_pb2.HotlistEntry, _Mapping]] = ..., snapshot_id: _Optional[str] = ..., acknowledged_by: _Optional[_Iterable[str]] = ..., confirmed_by: _Optional[_Iterable[str]] = ..., escalated_to: _Optional[str] = ..., actor: _Optional[str] = ..., escalated_from: _Optional[str] = ..., escalated_alert_id: _Optional[str] = ..., follow_id: _Optional[str] = ..., count: _Optional[int] = ..., threshold: _Optional[int] = ..., face_match: _Optional[_Union[FaceMatch, _Mapping]] = ..., rejected_by: _Optional[str] = ...) -> None: ...

class FaceMatch(_message.Message):
    __slots__ = ("watchlist_id", "subject_id", "subject_label", "distance", "case_id", "authorization_id", "detection_id", "track_id")
    WATCHLIST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_LABEL_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    DETECTION_ID_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    watchlist_id: str
    subject_id: str
    subject_label: str
    distance: float
    case_id: str
    authorization_id: str
    detection_id: str
    track_id: str
    def __init__(self, watchlist_id: _Optional[str] = ..., subject_id: _Optional[str] = ..., subject_label: _Optional[str] = ..., distance: _Optional[float] = ..., case_id: _Optional[str] = ..., authorization_id: _Optional[str] = ..., detection_id: _Optional[str] = ..., track_id: _Optional[str] = ...) -> None: ...

class StreamAlertsRequest(_message.Message):
    __slots__ = ("zones", "kinds", "after_sequence")
    ZONES_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    zones: _containers.RepeatedScalarFieldContainer[str]
    kinds: _containers.RepeatedScalarFieldContainer[AlertKind]
    after_sequence: int
    def __init__(self, zones: _Optional[_Iterable[str]] = ..., kinds: _Optional[_Iterable[_Union[AlertKind, str]]] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class StreamAlertsResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("zones", "kinds")
    ZONES_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    zones: _containers.RepeatedScalarFieldContainer[str]
    kinds: _containers.RepeatedScalarFieldContainer[AlertKind]
    def __init__(self, zones: _Optional[_Iterable[str]] = ..., kinds: _Optional[_Iterable[_Union[AlertKind, str]]] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts", "last_sequence")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    last_sequence: int
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ..., last_sequence: _Optional[int] = ...) -> None: ...

class AcknowledgeAlertRequest(_message.Message):
    __slots__ = ("alert_id", "note")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    note: str
    def __init__(self, alert_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class AcknowledgeAlertResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class ConfirmMatchRequest(_message.Message):
    __slots__ = ("alert_id", "note")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    note: str
    def __init__(self, alert_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ConfirmMatchResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class RejectMatchRequest(_message.Message):
    __slots__ = ("alert_id", "reason")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    reason: str
    def __init__(self, alert_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectMatchResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class EscalateAlertRequest(_message.Message):
    __slots__ = ("alert_id", "escalate_to", "note")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    ESCALATE_TO_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    escalate_to: str
    note: str
    def __init__(self, alert_id: _Optional[str] = ..., escalate_to: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class EscalateAlertResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class Follow(_message.Message):
    __slots__ = ("id", "agency", "state", "plate", "started_by", "purpose", "case_id", "authorization_id", "started", "expires", "stopped", "stopped_by", "zones", "cameras", "sightings", "last_seen", "last_camera_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    STARTED_BY_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    STOPPED_BY_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    SIGHTINGS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    agency: str
    state: FollowState
    plate: str
    started_by: str
    purpose: str
    case_id: str
    authorization_id: str
    started: _timestamp_pb2.Timestamp
    expires: _timestamp_pb2.Timestamp
    stopped: _timestamp_pb2.Timestamp
    stopped_by: str
    zones: _containers.RepeatedScalarFieldContainer[str]
    cameras: _containers.RepeatedScalarFieldContainer[str]
    sightings: int
    last_seen: _timestamp_pb2.Timestamp
    last_camera_id: str
    def __init__(self, id: _Optional[str] = ..., agency: _Optional[str] = ..., state: _Optional[_Union[FollowState, str]] = ..., plate: _Optional[str] = ..., started_by: _Optional[str] = ..., purpose: _Optional[str] = ..., case_id: _Optional[str] = ..., authorization_id: _Optional[str] = ..., started: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stopped: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stopped_by: _Optional[str] = ..., zones: _Optional[_Iterable[str]] = ..., cameras: _Optional[_Iterable[str]] = ..., sightings: _Optional[int] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_camera_id: _Optional[str] = ...) -> None: ...

class StartFollowRequest(_message.Message):
    __slots__ = ("plate", "access", "note")
    PLATE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    plate: str
    access: _common_pb2.AccessContext
    note: str
    def __init__(self, plate: _Optional[str] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class StartFollowResponse(_message.Message):
    __slots__ = ("follow",)
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    follow: Follow
    def __init__(self, follow: _Optional[_Union[Follow, _Mapping]] = ...) -> None: ...

class StopFollowRequest(_message.Message):
    __slots__ = ("follow_id", "reason")
    FOLLOW_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    follow_id: str
    reason: str
    def __init__(self, follow_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class StopFollowResponse(_message.Message):
    __slots__ = ("follow",)
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    follow: Follow
    def __init__(self, follow: _Optional[_Union[Follow, _Mapping]] = ...) -> None: ...

class ListFollowsRequest(_message.Message):
    __slots__ = ("include_ended",)
    INCLUDE_ENDED_FIELD_NUMBER: _ClassVar[int]
    include_ended: bool
    def __init__(self, include_ended: bool = ...) -> None: ...

class ListFollowsResponse(_message.Message):
    __slots__ = ("follows",)
    FOLLOWS_FIELD_NUMBER: _ClassVar[int]
    follows: _containers.RepeatedCompositeFieldContainer[Follow]
    def __init__(self, follows: _Optional[_Iterable[_Union[Follow, _Mapping]]] = ...) -> None: ...
