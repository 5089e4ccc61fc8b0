import datetime

from basira.v1 import common_pb2 as _common_pb2
from basira.v1 import options_pb2 as _options_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CameraKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAMERA_KIND_UNSPECIFIED: _ClassVar[CameraKind]
    CAMERA_KIND_FIXED: _ClassVar[CameraKind]
    CAMERA_KIND_PTZ: _ClassVar[CameraKind]
    CAMERA_KIND_BODY_WORN: _ClassVar[CameraKind]
    CAMERA_KIND_VEHICLE_MOUNTED: _ClassVar[CameraKind]
    CAMERA_KIND_DRONE: _ClassVar[CameraKind]

class StreamState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STREAM_STATE_UNSPECIFIED: _ClassVar[StreamState]
    STREAM_STATE_STOPPED: _ClassVar[StreamState]
    STREAM_STATE_CONNECTING: _ClassVar[StreamState]
    STREAM_STATE_RUNNING: _ClassVar[StreamState]
    STREAM_STATE_RECONNECTING: _ClassVar[StreamState]
    STREAM_STATE_ENDED: _ClassVar[StreamState]
    STREAM_STATE_FAILED: _ClassVar[StreamState]

class PowerSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POWER_SOURCE_UNSPECIFIED: _ClassVar[PowerSource]
    POWER_SOURCE_MAINS: _ClassVar[PowerSource]
    POWER_SOURCE_SOLAR: _ClassVar[PowerSource]
    POWER_SOURCE_BATTERY: _ClassVar[PowerSource]
CAMERA_KIND_UNSPECIFIED: CameraKind
CAMERA_KIND_FIXED: CameraKind
CAMERA_KIND_PTZ: CameraKind
CAMERA_KIND_BODY_WORN: CameraKind
CAMERA_KIND_VEHICLE_MOUNTED: CameraKind
CAMERA_KIND_DRONE: CameraKind
STREAM_STATE_UNSPECIFIED: StreamState
STREAM_STATE_STOPPED: StreamState
STREAM_STATE_CONNECTING: StreamState
STREAM_STATE_RUNNING: StreamState
STREAM_STATE_RECONNECTING: StreamState
STREAM_STATE_ENDED: StreamState
STREAM_STATE_FAILED: StreamState
POWER_SOURCE_UNSPECIFIED: PowerSource
POWER_SOURCE_MAINS: PowerSource
POWER_SOURCE_SOLAR: PowerSource
POWER_SOURCE_BATTERY: PowerSource

class Camera(_message.Message):
    __slots__ = ("id", "name", "kind", "position", "zone", "owner_agency", "source_url", "analysis_fps", "loop", "decommissioned", "stream_state", "created", "updated", "site", "power_source", "battery_percent", "power_state", "power_reported")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    OWNER_AGENCY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URL_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FPS_FIELD_NUMBER: _ClassVar[int]
    LOOP_FIELD_NUMBER: _ClassVar[int]
    DECOMMISSIONED_FIELD_NUMBER: _ClassVar[int]
    STREAM_STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    SITE_FIELD_NUMBER: _ClassVar[int]
    POWER_SOURCE_FIELD_NUMBER: _ClassVar[int]
    BATTERY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    POWER_STATE_FIELD_NUMBER: _ClassVar[int]
    POWER_REPORTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    kind: CameraKind
    position: _common_pb2.GeoPoint
    zone: str
    owner_agency: str
    source_url: str
    analysis_fps: float
    loop: bool
    decommissioned: bool
    stream_state: StreamState
    created: _timestamp_pb2.Timestamp
    updated: _timestamp_pb2.Timestamp
    site: str
    power_source: PowerSource
    battery_percent: int
    power_state: str
    power_reported: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[CameraKind, str]] = ..., position: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., zone: _Optional[str] = ..., owner_agency: _Optional[str] = ..., source_url: _Optional[str] = ..., analysis_fps: _Optional[float] = ..., loop: bool = ..., decommissioned: bool = ..., stream_state: _Optional[_Union[StreamState, str]] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., site: _Optional[str] = ..., power_source: _Optional[_Union[PowerSource, str]] = ..., battery_percent: _Optional[int] = ..., power_state: _Optional[str] = ..., power_reported: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterCameraRequest(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class RegisterCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class UpdateCameraRequest(_message.Message):
    __slots__ = ("camera", "update_mask")
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class GetCameraRequest(_message.Message):
    __slots__ = ("camera_id",)
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    def __init__(self, camera_id: _Optional[str] = ...) -> None: ...

class GetCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class ListCamerasRequest(_message.Message):
    __slots__ = ("zone", "owner_agency", "include_decommissioned", "page")
    ZONE_FIELD_NUMBER: _ClassVar[int]
    OWNER_AGENCY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DECOMMISSIONED_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    zone: str
    owner_agency: str
    include_decommissioned: bool
    page: _common_pb2.PageRequest
    def __init__(self, zone: _Optional[str] = ..., owner_agency: _Optional[str] = ..., include_decommissioned: bool = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListCamerasResponse(_message.Message):
    __slots__ = ("cameras", "page")
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    cameras: _containers.RepeatedCompositeFieldContainer[Camera]
    page: _common_pb2.PageResponse
    def __init__(self, cameras: _Optional[_Iterable[_Union[Camera, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class DecommissionCameraRequest(_message.Message):
    __slots__ = ("camera_id", "reason")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    reason: str
    def __init__(self, camera_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DecommissionCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class StartStreamRequest(_message.Message):
    __slots__ = ("camera_id",)
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    def __init__(self, camera_id: _Optional[str] = ...) -> None: ...

class StartStreamResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class StopStreamRequest(_message.Message):
    __slots__ = ("camera_id",)
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    def __init__(self, camera_id: _Optional[str] = ...) -> None: ...

class StopStreamResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class CameraHealth(_message.Message):
    __slots__ = ("camera_id", "zone", "online", "conditions", "stream_state", "power_source", "battery_percent", "power_level", "updated", "sequence")
    class ConditionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    STREAM_STATE_FIELD_NUMBER: _ClassVar[int]
    POWER_SOURCE_FIELD_NUMBER: _ClassVar[int]
    BATTERY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    POWER_LEVEL_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    zone: str
    online: bool
    conditions: _containers.ScalarMap[str, str]
    stream_state: str
    power_source: PowerSource
    battery_percent: int
    power_level: str
    updated: _timestamp_pb2.Timestamp
    sequence: int
    def __init__(self, camera_id: _Optional[str] = ..., zone: _Optional[str] = ..., online: bool = ..., conditions: _Optional[_Mapping[str, str]] = ..., stream_state: _Optional[str] = ..., power_source: _Optional[_Union[PowerSource, str]] = ..., battery_percent: _Optional[int] = ..., power_level: _Optional[str] = ..., updated: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sequence: _Optional[int] = ...) -> None: ...

class ListCameraHealthRequest(_message.Message):
    __slots__ = ("camera_ids", "zone")
    CAMERA_IDS_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    camera_ids: _containers.RepeatedScalarFieldContainer[str]
    zone: str
    def __init__(self, camera_ids: _Optional[_Iterable[str]] = ..., zone: _Optional[str] = ...) -> None: ...

class ListCameraHealthResponse(_message.Message):
    __slots__ = ("cameras", "watermark")
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    cameras: _containers.RepeatedCompositeFieldContainer[CameraHealth]
    watermark: int
    def __init__(self, cameras: _Optional[_Iterable[_Union[CameraHealth, _Mapping]]] = ..., watermark: _Optional[int] = ...) -> None: ...

class StreamCameraHealthRequest(_message.Message):
    __slots__ = ("camera_ids", "zones", "after_sequence")
    CAMERA_IDS_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    camera_ids: _containers.RepeatedScalarFieldContainer[str]
    zones: _containers.RepeatedScalarFieldContainer[str]
    after_sequence: int
    def __init__(self, camera_ids: _Optional[_Iterable[str]] = ..., zones: _Optional[_Iterable[str]] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class CameraHealthUpdate(_message.Message):
    __slots__ = ("sequence", "camera_id", "zone", "time", "kind", "state", "detail", "device")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    camera_id: str
    zone: str
    time: _timestamp_pb2.Timestamp
    kind: str
    state: str
    detail: str
    device: DeviceStatus
    def __init__(self, sequence: _Optional[int] = ..., camera_id: _Optional[str] = ..., zone: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[str] = ..., state: _Optional[str] = ..., detail: _Optional[str] = ..., device: _Optional[_Union[DeviceStatus, _Mapping]] = ...) -> None: ...

class StreamCameraHealthResponse(_message.Message):
    __slots__ = ("update",)
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    update: CameraHealthUpdate
    def __init__(self, update: _Optional[_Union[CameraHealthUpdate, _Mapping]] = ...) -> None: ...

class ReportCameraStatusRequest(_message.Message):
    __slots__ = ("camera_id", "status")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    status: DeviceStatus
    def __init__(self, camera_id: _Optional[str] = ..., status: _Optional[_Union[DeviceStatus, _Mapping]] = ...) -> None: ...

class ReportCameraStatusResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class CameraCondition(_message.Message):
    __slots__ = ("kind", "state", "detail", "since", "down")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    DOWN_FIELD_NUMBER: _ClassVar[int]
    kind: str
    state: str
    detail: str
    since: _timestamp_pb2.Timestamp
    down: bool
    def __init__(self, kind: _Optional[str] = ..., state: _Optional[str] = ..., detail: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., down: bool = ...) -> None: ...

class CameraDown(_message.Message):
    __slots__ = ("camera", "conditions")
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    conditions: _containers.RepeatedCompositeFieldContainer[CameraCondition]
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ..., conditions: _Optional[_Iterable[_Union[CameraCondition, _Mapping]]] = ...) -> None: ...

class ListCamerasDownRequest(_message.Message):
    __slots__ = ("zone", "include_warnings", "page")
    ZONE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_WARNINGS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    zone: str
    include_warnings: bool
    page: _common_pb2.PageRequest
    def __init__(self, zone: _Optional[str] = ..., include_warnings: bool = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListCamerasDownResponse(_message.Message):
    __slots__ = ("cameras", "page")
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    cameras: _containers.RepeatedCompositeFieldContainer[CameraDown]
    page: _common_pb2.PageResponse
    def __init__(self, cameras: _Optional[_Iterable[_Union[CameraDown, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class DeviceStatus(_message.Message):
    __slots__ = ("power_source", "battery_percent", "position")
    POWER_SOURCE_FIELD_NUMBER: _ClassVar[int]
    BATTERY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    power_source: PowerSource
    battery_percent: int
    position: _common_pb2.GeoPoint
    def __init__(self, power_source: _Optional[_Union[PowerSource, str]] = ..., battery_percent: _Optional[int] = ..., position: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ...) -> None: ...

class PushFramesRequest(_message.Message):
    __slots__ = ("camera_id", "captured", "image", "status")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    captured: _timestamp_pb2.Timestamp
    image: bytes
    status: DeviceStatus
    def __init__(self, camera_id: _Optional[str] = ..., captured: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., image: _Optional[bytes] = ..., status: _Optional[_Union[DeviceStatus, _Mapping]] = ...) -> None: ...

class PushFramesResponse(_message.Message):
    __slots__ = ("frames_received", "frames_published", "frames_rejected", "rejections")
    FRAMES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_REJECTED_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    frames_received: int
    frames_published: int
    frames_rejected: int
    rejections: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, frames_received: _Optional[int] = ..., frames_published: _Optional[int] = ..., frames_rejected: _Optional[int] = ..., rejections: _Optional[_Iterable[str]] = ...) -> None: ...
