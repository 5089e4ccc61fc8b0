import datetime

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

class HotlistReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOTLIST_REASON_UNSPECIFIED: _ClassVar[HotlistReason]
    HOTLIST_REASON_STOLEN: _ClassVar[HotlistReason]
    HOTLIST_REASON_WANTED: _ClassVar[HotlistReason]
    HOTLIST_REASON_AMBER_ALERT: _ClassVar[HotlistReason]
    HOTLIST_REASON_UNINSURED: _ClassVar[HotlistReason]
    HOTLIST_REASON_OTHER: _ClassVar[HotlistReason]
HOTLIST_REASON_UNSPECIFIED: HotlistReason
HOTLIST_REASON_STOLEN: HotlistReason
HOTLIST_REASON_WANTED: HotlistReason
HOTLIST_REASON_AMBER_ALERT: HotlistReason
HOTLIST_REASON_UNINSURED: HotlistReason
HOTLIST_REASON_OTHER: HotlistReason

class LegalBasis(_message.Message):
    __slots__ = ("kind", "reference", "issued_by")
    KIND_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ISSUED_BY_FIELD_NUMBER: _ClassVar[int]
    kind: str
    reference: str
    issued_by: str
    def __init__(self, kind: _Optional[str] = ..., reference: _Optional[str] = ..., issued_by: _Optional[str] = ...) -> None: ...

class Watchlist(_message.Message):
    __slots__ = ("id", "name", "owner_agency", "description", "subject_count", "created", "subjects_not_matching", "not_matching_reason", "subjects_to_reenrol")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_AGENCY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_NOT_MATCHING_FIELD_NUMBER: _ClassVar[int]
    NOT_MATCHING_REASON_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_TO_REENROL_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    owner_agency: str
    description: str
    subject_count: int
    created: _timestamp_pb2.Timestamp
    subjects_not_matching: int
    not_matching_reason: str
    subjects_to_reenrol: _containers.RepeatedCompositeFieldContainer[WatchlistSubject]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., owner_agency: _Optional[str] = ..., description: _Optional[str] = ..., subject_count: _Optional[int] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., subjects_not_matching: _Optional[int] = ..., not_matching_reason: _Optional[str] = ..., subjects_to_reenrol: _Optional[_Iterable[_Union[WatchlistSubject, _Mapping]]] = ...) -> None: ...

class WatchlistSubject(_message.Message):
    __slots__ = ("id", "watchlist_id", "label", "legal_basis", "expires", "enrolled_images", "models")
    ID_FIELD_NUMBER: _ClassVar[int]
    WATCHLIST_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_IMAGES_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    id: str
    watchlist_id: str
    label: str
    legal_basis: LegalBasis
    expires: _timestamp_pb2.Timestamp
    enrolled_images: int
    models: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., watchlist_id: _Optional[str] = ..., label: _Optional[str] = ..., legal_basis: _Optional[_Union[LegalBasis, _Mapping]] = ..., expires: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., enrolled_images: _Optional[int] = ..., models: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateWatchlistRequest(_message.Message):
    __slots__ = ("watchlist", "access")
    WATCHLIST_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    watchlist: Watchlist
    access: _common_pb2.AccessContext
    def __init__(self, watchlist: _Optional[_Union[Watchlist, _Mapping]] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ...) -> None: ...

class CreateWatchlistResponse(_message.Message):
    __slots__ = ("watchlist",)
    WATCHLIST_FIELD_NUMBER: _ClassVar[int]
    watchlist: Watchlist
    def __init__(self, watchlist: _Optional[_Union[Watchlist, _Mapping]] = ...) -> None: ...

class ListWatchlistsRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListWatchlistsResponse(_message.Message):
    __slots__ = ("watchlists", "page")
    WATCHLISTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    watchlists: _containers.RepeatedCompositeFieldContainer[Watchlist]
    page: _common_pb2.PageResponse
    def __init__(self, watchlists: _Optional[_Iterable[_Union[Watchlist, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class EnrolSubjectRequest(_message.Message):
    __slots__ = ("watchlist_id", "label", "legal_basis", "expires", "images", "access")
    WATCHLIST_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    watchlist_id: str
    label: str
    legal_basis: LegalBasis
    expires: _timestamp_pb2.Timestamp
    images: _containers.RepeatedScalarFieldContainer[bytes]
    access: _common_pb2.AccessContext
    def __init__(self, watchlist_id: _Optional[str] = ..., label: _Optional[str] = ..., legal_basis: _Optional[_Union[LegalBasis, _Mapping]] = ..., expires: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., images: _Optional[_Iterable[bytes]] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ...) -> None: ...

class EnrolSubjectResponse(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: WatchlistSubject
    def __init__(self, subject: _Optional[_Union[WatchlistSubject, _Mapping]] = ...) -> None: ...

class RemoveSubjectRequest(_message.Message):
    __slots__ = ("watchlist_id", "subject_id", "reason", "access")
    WATCHLIST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    watchlist_id: str
    subject_id: str
    reason: str
    access: _common_pb2.AccessContext
    def __init__(self, watchlist_id: _Optional[str] = ..., subject_id: _Optional[str] = ..., reason: _Optional[str] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ...) -> None: ...

class RemoveSubjectResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HotlistEntry(_message.Message):
    __slots__ = ("id", "plate", "country", "reason", "legal_basis", "owner_agency", "expires", "confusable_tolerant", "note", "created")
    ID_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    OWNER_AGENCY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    CONFUSABLE_TOLERANT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    plate: str
    country: str
    reason: HotlistReason
    legal_basis: LegalBasis
    owner_agency: str
    expires: _timestamp_pb2.Timestamp
    confusable_tolerant: bool
    note: str
    created: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., plate: _Optional[str] = ..., country: _Optional[str] = ..., reason: _Optional[_Union[HotlistReason, str]] = ..., legal_basis: _Optional[_Union[LegalBasis, _Mapping]] = ..., owner_agency: _Optional[str] = ..., expires: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., confusable_tolerant: bool = ..., note: _Optional[str] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AddHotlistPlateRequest(_message.Message):
    __slots__ = ("entry", "access")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    entry: HotlistEntry
    access: _common_pb2.AccessContext
    def __init__(self, entry: _Optional[_Union[HotlistEntry, _Mapping]] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ...) -> None: ...

class AddHotlistPlateResponse(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: HotlistEntry
    def __init__(self, entry: _Optional[_Union[HotlistEntry, _Mapping]] = ...) -> None: ...

class RemoveHotlistPlateRequest(_message.Message):
    __slots__ = ("entry_id", "reason", "access")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    reason: str
    access: _common_pb2.AccessContext
    def __init__(self, entry_id: _Optional[str] = ..., reason: _Optional[str] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ...) -> None: ...

class RemoveHotlistPlateResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListHotlistRequest(_message.Message):
    __slots__ = ("include_expired", "page")
    INCLUDE_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    include_expired: bool
    page: _common_pb2.PageRequest
    def __init__(self, include_expired: bool = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListHotlistResponse(_message.Message):
    __slots__ = ("entries", "page")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[HotlistEntry]
    page: _common_pb2.PageResponse
    def __init__(self, entries: _Optional[_Iterable[_Union[HotlistEntry, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...
