import datetime

from basira.v1 import analytics_pb2 as _analytics_pb2
from basira.v1 import common_pb2 as _common_pb2
from basira.v1 import options_pb2 as _options_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SightingKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGHTING_KIND_UNSPECIFIED: _ClassVar[SightingKind]
    SIGHTING_KIND_PLATE: _ClassVar[SightingKind]
    SIGHTING_KIND_FACE: _ClassVar[SightingKind]

class PlateMatchMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLATE_MATCH_MODE_UNSPECIFIED: _ClassVar[PlateMatchMode]
    PLATE_MATCH_MODE_EXACT: _ClassVar[PlateMatchMode]
    PLATE_MATCH_MODE_FUZZY: _ClassVar[PlateMatchMode]
SIGHTING_KIND_UNSPECIFIED: SightingKind
SIGHTING_KIND_PLATE: SightingKind
SIGHTING_KIND_FACE: SightingKind
PLATE_MATCH_MODE_UNSPECIFIED: PlateMatchMode
PLATE_MATCH_MODE_EXACT: PlateMatchMode
PLATE_MATCH_MODE_FUZZY: PlateMatchMode

class Sighting(_message.Message):
    __slots__ = ("id", "kind", "camera_id", "zone", "position", "seen", "plate", "face", "distance", "snapshot_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    SEEN_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: SightingKind
    camera_id: str
    zone: str
    position: _common_pb2.GeoPoint
    seen: _timestamp_pb2.Timestamp
    plate: _analytics_pb2.PlateReading
    face: _common_pb2.Box
    distance: float
    snapshot_id: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[SightingKind, str]] = ..., camera_id: _Optional[str] = ..., zone: _Optional[str] = ..., position: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., plate: _Optional[_Union[_analytics_pb2.PlateReading, _Mapping]] = ..., face: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., distance: _Optional[float] = ..., snapshot_id: _Optional[str] = ...) -> None: ...

class SearchScope(_message.Message):
    __slots__ = ("time", "camera_ids", "zone")
    TIME_FIELD_NUMBER: _ClassVar[int]
    CAMERA_IDS_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    time: _common_pb2.TimeRange
    camera_ids: _containers.RepeatedScalarFieldContainer[str]
    zone: str
    def __init__(self, time: _Optional[_Union[_common_pb2.TimeRange, _Mapping]] = ..., camera_ids: _Optional[_Iterable[str]] = ..., zone: _Optional[str] = ...) -> None: ...

class SearchPlatesRequest(_message.Message):
    __slots__ = ("plate", "mode", "max_distance", "scope", "access", "page")
    PLATE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MAX_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    plate: str
    mode: PlateMatchMode
    max_distance: float
    scope: SearchScope
    access: _common_pb2.AccessContext
    page: _common_pb2.PageRequest
    def __init__(self, plate: _Optional[str] = ..., mode: _Optional[_Union[PlateMatchMode, str]] = ..., max_distance: _Optional[float] = ..., scope: _Optional[_Union[SearchScope, _Mapping]] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class SearchPlatesResponse(_message.Message):
    __slots__ = ("sightings", "page")
    SIGHTINGS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    sightings: _containers.RepeatedCompositeFieldContainer[Sighting]
    page: _common_pb2.PageResponse
    def __init__(self, sightings: _Optional[_Iterable[_Union[Sighting, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class SearchFacesRequest(_message.Message):
    __slots__ = ("image", "max_distance", "scope", "access", "page")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MAX_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    max_distance: float
    scope: SearchScope
    access: _common_pb2.AccessContext
    page: _common_pb2.PageRequest
    def __init__(self, image: _Optional[bytes] = ..., max_distance: _Optional[float] = ..., scope: _Optional[_Union[SearchScope, _Mapping]] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class SearchFacesResponse(_message.Message):
    __slots__ = ("sightings", "page")
    SIGHTINGS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    sightings: _containers.RepeatedCompositeFieldContainer[Sighting]
    page: _common_pb2.PageResponse
    def __init__(self, sightings: _Optional[_Iterable[_Union[Sighting, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class ListSightingsRequest(_message.Message):
    __slots__ = ("kind", "scope", "access", "page")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    kind: SightingKind
    scope: SearchScope
    access: _common_pb2.AccessContext
    page: _common_pb2.PageRequest
    def __init__(self, kind: _Optional[_Union[SightingKind, str]] = ..., scope: _Optional[_Union[SearchScope, _Mapping]] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListSightingsResponse(_message.Message):
    __slots__ = ("sightings", "page")
    SIGHTINGS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    sightings: _containers.RepeatedCompositeFieldContainer[Sighting]
    page: _common_pb2.PageResponse
    def __init__(self, sightings: _Optional[_Iterable[_Union[Sighting, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class GetTrajectoryRequest(_message.Message):
    __slots__ = ("plate", "sighting_id", "scope", "access")
    PLATE_FIELD_NUMBER: _ClassVar[int]
    SIGHTING_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    plate: str
    sighting_id: str
    scope: SearchScope
    access: _common_pb2.AccessContext
    def __init__(self, plate: _Optional[str] = ..., sighting_id: _Optional[str] = ..., scope: _Optional[_Union[SearchScope, _Mapping]] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ...) -> None: ...

class TrajectoryLeg(_message.Message):
    __slots__ = ("from_index", "to_index", "distance_m", "seconds", "speed_kmh", "implausible", "reason")
    FROM_INDEX_FIELD_NUMBER: _ClassVar[int]
    TO_INDEX_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SPEED_KMH_FIELD_NUMBER: _ClassVar[int]
    IMPLAUSIBLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    from_index: int
    to_index: int
    distance_m: float
    seconds: float
    speed_kmh: float
    implausible: bool
    reason: str
    def __init__(self, from_index: _Optional[int] = ..., to_index: _Optional[int] = ..., distance_m: _Optional[float] = ..., seconds: _Optional[float] = ..., speed_kmh: _Optional[float] = ..., implausible: bool = ..., reason: _Optional[str] = ...) -> None: ...

class Passage(_message.Message):
    __slots__ = ("first_index", "last_index", "start", "end", "camera_ids")
    FIRST_INDEX_FIELD_NUMBER: _ClassVar[int]
    LAST_INDEX_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    CAMERA_IDS_FIELD_NUMBER: _ClassVar[int]
    first_index: int
    last_index: int
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    camera_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, first_index: _Optional[int] = ..., last_index: _Optional[int] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., camera_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetTrajectoryResponse(_message.Message):
    __slots__ = ("sightings", "legs", "passages", "max_speed_kmh")
    SIGHTINGS_FIELD_NUMBER: _ClassVar[int]
    LEGS_FIELD_NUMBER: _ClassVar[int]
    PASSAGES_FIELD_NUMBER: _ClassVar[int]
    MAX_SPEED_KMH_FIELD_NUMBER: _ClassVar[int]
    sightings: _containers.RepeatedCompositeFieldContainer[Sighting]
    legs: _containers.RepeatedCompositeFieldContainer[TrajectoryLeg]
    passages: _containers.RepeatedCompositeFieldContainer[Passage]
    max_speed_kmh: float
    def __init__(self, sightings: _Optional[_Iterable[_Union[Sighting, _Mapping]]] = ..., legs: _Optional[_Iterable[_Union[TrajectoryLeg, _Mapping]]] = ..., passages: _Optional[_Iterable[_Union[Passage, _Mapping]]] = ..., max_speed_kmh: _Optional[float] = ...) -> None: ...

class GetEvidenceRequest(_message.Message):
    __slots__ = ("snapshot_id", "unmask", "access", "reason")
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    UNMASK_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    unmask: bool
    access: _common_pb2.AccessContext
    reason: str
    def __init__(self, snapshot_id: _Optional[str] = ..., unmask: bool = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class GetEvidenceResponse(_message.Message):
    __slots__ = ("image", "faces_masked", "plates_masked", "camera_id", "seen")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    FACES_MASKED_FIELD_NUMBER: _ClassVar[int]
    PLATES_MASKED_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    SEEN_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    faces_masked: bool
    plates_masked: bool
    camera_id: str
    seen: _timestamp_pb2.Timestamp
    def __init__(self, image: _Optional[bytes] = ..., faces_masked: bool = ..., plates_masked: bool = ..., camera_id: _Optional[str] = ..., seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetCountsRequest(_message.Message):
    __slots__ = ("camera_ids", "time", "access")
    CAMERA_IDS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    camera_ids: _containers.RepeatedScalarFieldContainer[str]
    time: _common_pb2.TimeRange
    access: _common_pb2.AccessContext
    def __init__(self, camera_ids: _Optional[_Iterable[str]] = ..., time: _Optional[_Union[_common_pb2.TimeRange, _Mapping]] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ...) -> None: ...

class CountBucket(_message.Message):
    __slots__ = ("camera_id", "minute", "vehicles", "persons")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    MINUTE_FIELD_NUMBER: _ClassVar[int]
    VEHICLES_FIELD_NUMBER: _ClassVar[int]
    PERSONS_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    minute: _timestamp_pb2.Timestamp
    vehicles: int
    persons: int
    def __init__(self, camera_id: _Optional[str] = ..., minute: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., vehicles: _Optional[int] = ..., persons: _Optional[int] = ...) -> None: ...

class GetCountsResponse(_message.Message):
    __slots__ = ("buckets",)
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    buckets: _containers.RepeatedCompositeFieldContainer[CountBucket]
    def __init__(self, buckets: _Optional[_Iterable[_Union[CountBucket, _Mapping]]] = ...) -> None: ...

class GetCameraPreviewRequest(_message.Message):
    __slots__ = ("camera_id",)
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    def __init__(self, camera_id: _Optional[str] = ...) -> None: ...

class GetCameraPreviewResponse(_message.Message):
    __slots__ = ("image", "faces_masked", "plates_masked", "camera_id", "captured")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    FACES_MASKED_FIELD_NUMBER: _ClassVar[int]
    PLATES_MASKED_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    faces_masked: bool
    plates_masked: bool
    camera_id: str
    captured: _timestamp_pb2.Timestamp
    def __init__(self, image: _Optional[bytes] = ..., faces_masked: bool = ..., plates_masked: bool = ..., camera_id: _Optional[str] = ..., captured: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
