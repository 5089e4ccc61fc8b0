import datetime

from basira.v1 import alert_pb2 as _alert_pb2
from basira.v1 import analytics_pb2 as _analytics_pb2
from basira.v1 import camera_pb2 as _camera_pb2
from basira.v1 import common_pb2 as _common_pb2
from basira.v1 import watchlist_pb2 as _watchlist_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FrameEvent(_message.Message):
    __slots__ = ("id", "camera_id", "zone", "owner_agency", "captured", "published", "jpeg", "width", "height", "frame_number", "position")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    OWNER_AGENCY_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    JPEG_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FRAME_NUMBER_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    id: str
    camera_id: str
    zone: str
    owner_agency: str
    captured: _timestamp_pb2.Timestamp
    published: _timestamp_pb2.Timestamp
    jpeg: bytes
    width: int
    height: int
    frame_number: int
    position: _common_pb2.GeoPoint
    def __init__(self, id: _Optional[str] = ..., camera_id: _Optional[str] = ..., zone: _Optional[str] = ..., owner_agency: _Optional[str] = ..., captured: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., published: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., jpeg: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., frame_number: _Optional[int] = ..., position: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ...) -> None: ...

class PlateDetectionEvent(_message.Message):
    __slots__ = ("id", "frame_id", "camera_id", "zone", "owner_agency", "captured", "frame_published", "plate", "snapshot_jpeg", "snapshot_id", "position", "passage_id", "passage_plate", "passage_frames")
    ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    OWNER_AGENCY_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_FIELD_NUMBER: _ClassVar[int]
    FRAME_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_JPEG_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    PASSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    PASSAGE_PLATE_FIELD_NUMBER: _ClassVar[int]
    PASSAGE_FRAMES_FIELD_NUMBER: _ClassVar[int]
    id: str
    frame_id: str
    camera_id: str
    zone: str
    owner_agency: str
    captured: _timestamp_pb2.Timestamp
    frame_published: _timestamp_pb2.Timestamp
    plate: _analytics_pb2.PlateReading
    snapshot_jpeg: bytes
    snapshot_id: str
    position: _common_pb2.GeoPoint
    passage_id: str
    passage_plate: _analytics_pb2.PlateReading
    passage_frames: int
    def __init__(self, id: _Optional[str] = ..., frame_id: _Optional[str] = ..., camera_id: _Optional[str] = ..., zone: _Optional[str] = ..., owner_agency: _Optional[str] = ..., captured: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., frame_published: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., plate: _Optional[_Union[_analytics_pb2.PlateReading, _Mapping]] = ..., snapshot_jpeg: _Optional[bytes] = ..., snapshot_id: _Optional[str] = ..., position: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., passage_id: _Optional[str] = ..., passage_plate: _Optional[_Union[_analytics_pb2.PlateReading, _Mapping]] = ..., passage_frames: _Optional[int] = ...) -> None: ...

class PlateSightingEvent(_message.Message):
    __slots__ = ("id", "camera_id", "zone", "owner_agency", "first_seen", "last_seen", "plate", "frames", "detection_ids", "snapshot_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    OWNER_AGENCY_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    DETECTION_IDS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    camera_id: str
    zone: str
    owner_agency: str
    first_seen: _timestamp_pb2.Timestamp
    last_seen: _timestamp_pb2.Timestamp
    plate: _analytics_pb2.PlateReading
    frames: int
    detection_ids: _containers.RepeatedScalarFieldContainer[str]
    snapshot_id: str
    def __init__(self, id: _Optional[str] = ..., camera_id: _Optional[str] = ..., zone: _Optional[str] = ..., owner_agency: _Optional[str] = ..., first_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., plate: _Optional[_Union[_analytics_pb2.PlateReading, _Mapping]] = ..., frames: _Optional[int] = ..., detection_ids: _Optional[_Iterable[str]] = ..., snapshot_id: _Optional[str] = ...) -> None: ...

class FaceDetectionEvent(_message.Message):
    __slots__ = ("id", "frame_id", "camera_id", "zone", "owner_agency", "captured", "box", "score", "embedding", "model", "snapshot_jpeg", "snapshot_id", "position", "track_id", "size_px", "sharpness", "yaw")
    ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    OWNER_AGENCY_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_JPEG_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_PX_FIELD_NUMBER: _ClassVar[int]
    SHARPNESS_FIELD_NUMBER: _ClassVar[int]
    YAW_FIELD_NUMBER: _ClassVar[int]
    id: str
    frame_id: str
    camera_id: str
    zone: str
    owner_agency: str
    captured: _timestamp_pb2.Timestamp
    box: _common_pb2.Box
    score: float
    embedding: _containers.RepeatedScalarFieldContainer[float]
    model: str
    snapshot_jpeg: bytes
    snapshot_id: str
    position: _common_pb2.GeoPoint
    track_id: str
    size_px: int
    sharpness: float
    yaw: float
    def __init__(self, id: _Optional[str] = ..., frame_id: _Optional[str] = ..., camera_id: _Optional[str] = ..., zone: _Optional[str] = ..., owner_agency: _Optional[str] = ..., captured: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., score: _Optional[float] = ..., embedding: _Optional[_Iterable[float]] = ..., model: _Optional[str] = ..., snapshot_jpeg: _Optional[bytes] = ..., snapshot_id: _Optional[str] = ..., position: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., track_id: _Optional[str] = ..., size_px: _Optional[int] = ..., sharpness: _Optional[float] = ..., yaw: _Optional[float] = ...) -> None: ...

class CountEvent(_message.Message):
    __slots__ = ("id", "camera_id", "zone", "minute", "vehicles", "persons", "frames")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    MINUTE_FIELD_NUMBER: _ClassVar[int]
    VEHICLES_FIELD_NUMBER: _ClassVar[int]
    PERSONS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    id: str
    camera_id: str
    zone: str
    minute: _timestamp_pb2.Timestamp
    vehicles: int
    persons: int
    frames: int
    def __init__(self, id: _Optional[str] = ..., camera_id: _Optional[str] = ..., zone: _Optional[str] = ..., minute: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., vehicles: _Optional[int] = ..., persons: _Optional[int] = ..., frames: _Optional[int] = ...) -> None: ...

class MatchCandidateEvent(_message.Message):
    __slots__ = ("id", "camera_id", "zone", "seen", "frame_published", "plate", "hotlist_entry", "distance", "snapshot_id", "detection_id", "watchlist_id", "subject_id", "access", "entry_expires", "owner_agency", "track_id", "subject_label", "matched_text", "matched_alternative", "passage_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    SEEN_FIELD_NUMBER: _ClassVar[int]
    FRAME_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    HOTLIST_ENTRY_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    DETECTION_ID_FIELD_NUMBER: _ClassVar[int]
    WATCHLIST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_EXPIRES_FIELD_NUMBER: _ClassVar[int]
    OWNER_AGENCY_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_LABEL_FIELD_NUMBER: _ClassVar[int]
    MATCHED_TEXT_FIELD_NUMBER: _ClassVar[int]
    MATCHED_ALTERNATIVE_FIELD_NUMBER: _ClassVar[int]
    PASSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    camera_id: str
    zone: str
    seen: _timestamp_pb2.Timestamp
    frame_published: _timestamp_pb2.Timestamp
    plate: _analytics_pb2.PlateReading
    hotlist_entry: _watchlist_pb2.HotlistEntry
    distance: float
    snapshot_id: str
    detection_id: str
    watchlist_id: str
    subject_id: str
    access: _common_pb2.AccessContext
    entry_expires: _timestamp_pb2.Timestamp
    owner_agency: str
    track_id: str
    subject_label: str
    matched_text: str
    matched_alternative: bool
    passage_id: str
    def __init__(self, id: _Optional[str] = ..., camera_id: _Optional[str] = ..., zone: _Optional[str] = ..., seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., frame_published: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., plate: _Optional[_Union[_analytics_pb2.PlateReading, _Mapping]] = ..., hotlist_entry: _Optional[_Union[_watchlist_pb2.HotlistEntry, _Mapping]] = ..., distance: _Optional[float] = ..., snapshot_id: _Optional[str] = ..., detection_id: _Optional[str] = ..., watchlist_id: _Optional[str] = ..., subject_id: _Optional[str] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ..., entry_expires: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., owner_agency: _Optional[str] = ..., track_id: _Optional[str] = ..., subject_label: _Optional[str] = ..., matched_text: _Optional[str] = ..., matched_alternative: bool = ..., passage_id: _Optional[str] = ...) -> None: ...

class CameraHealthEvent(_message.Message):
    __slots__ = ("id", "camera_id", "zone", "time", "kind", "state", "detail", "device")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    id: str
    camera_id: str
    zone: str
    time: _timestamp_pb2.Timestamp
    kind: str
    state: str
    detail: str
    device: _camera_pb2.DeviceStatus
    def __init__(self, id: _Optional[str] = ..., camera_id: _Optional[str] = ..., zone: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[str] = ..., state: _Optional[str] = ..., detail: _Optional[str] = ..., device: _Optional[_Union[_camera_pb2.DeviceStatus, _Mapping]] = ...) -> None: ...

class AlertEvent(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: _alert_pb2.Alert
    def __init__(self, alert: _Optional[_Union[_alert_pb2.Alert, _Mapping]] = ...) -> None: ...

class WatchlistChangedEvent(_message.Message):
    __slots__ = ("id", "list", "changed")
    ID_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    id: str
    list: str
    changed: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., list: _Optional[str] = ..., changed: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CameraPreviewEvent(_message.Message):
    __slots__ = ("id", "camera_id", "zone", "owner_agency", "captured", "jpeg", "plates", "frame_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    OWNER_AGENCY_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_FIELD_NUMBER: _ClassVar[int]
    JPEG_FIELD_NUMBER: _ClassVar[int]
    PLATES_FIELD_NUMBER: _ClassVar[int]
    FRAME_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    camera_id: str
    zone: str
    owner_agency: str
    captured: _timestamp_pb2.Timestamp
    jpeg: bytes
    plates: _containers.RepeatedCompositeFieldContainer[_common_pb2.Box]
    frame_id: str
    def __init__(self, id: _Optional[str] = ..., camera_id: _Optional[str] = ..., zone: _Optional[str] = ..., owner_agency: _Optional[str] = ..., captured: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., jpeg: _Optional[bytes] = ..., plates: _Optional[_Iterable[_Union[_common_pb2.Box, _Mapping]]] = ..., frame_id: _Optional[str] = ...) -> None: ...
