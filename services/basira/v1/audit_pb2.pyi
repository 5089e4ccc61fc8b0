from basira.v1 import common_pb2 as _common_pb2
from basira.v1 import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccessDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_DECISION_UNSPECIFIED: _ClassVar[AccessDecision]
    ACCESS_DECISION_ALLOWED: _ClassVar[AccessDecision]
    ACCESS_DECISION_DENIED: _ClassVar[AccessDecision]
ACCESS_DECISION_UNSPECIFIED: AccessDecision
ACCESS_DECISION_ALLOWED: AccessDecision
ACCESS_DECISION_DENIED: AccessDecision

class LoggedAccess(_message.Message):
    __slots__ = ("index", "leaf_hash", "record_json")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    RECORD_JSON_FIELD_NUMBER: _ClassVar[int]
    index: int
    leaf_hash: bytes
    record_json: str
    def __init__(self, index: _Optional[int] = ..., leaf_hash: _Optional[bytes] = ..., record_json: _Optional[str] = ...) -> None: ...

class SignedTreeHead(_message.Message):
    __slots__ = ("tree_size", "root_hash", "timestamp_ms", "signature", "log_id")
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    signature: bytes
    log_id: str
    def __init__(self, tree_size: _Optional[int] = ..., root_hash: _Optional[bytes] = ..., timestamp_ms: _Optional[int] = ..., signature: _Optional[bytes] = ..., log_id: _Optional[str] = ...) -> None: ...

class QueryAccessLogRequest(_message.Message):
    __slots__ = ("user", "agency", "case_id", "action", "time", "page", "access", "authorization_id", "decision", "newest_first")
    USER_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    user: str
    agency: str
    case_id: str
    action: str
    time: _common_pb2.TimeRange
    page: _common_pb2.PageRequest
    access: _common_pb2.AccessContext
    authorization_id: str
    decision: AccessDecision
    newest_first: bool
    def __init__(self, user: _Optional[str] = ..., agency: _Optional[str] = ..., case_id: _Optional[str] = ..., action: _Optional[str] = ..., time: _Optional[_Union[_common_pb2.TimeRange, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ..., authorization_id: _Optional[str] = ..., decision: _Optional[_Union[AccessDecision, str]] = ..., newest_first: bool = ...) -> None: ...

class QueryAccessLogResponse(_message.Message):
    __slots__ = ("records", "page")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[LoggedAccess]
    page: _common_pb2.PageResponse
    def __init__(self, records: _Optional[_Iterable[_Union[LoggedAccess, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class GetTreeHeadRequest(_message.Message):
    __slots__ = ("tree_size",)
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    tree_size: int
    def __init__(self, tree_size: _Optional[int] = ...) -> None: ...

class GetTreeHeadResponse(_message.Message):
    __slots__ = ("tree_head", "public_key_pem")
    TREE_HEAD_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    tree_head: SignedTreeHead
    public_key_pem: str
    def __init__(self, tree_head: _Optional[_Union[SignedTreeHead, _Mapping]] = ..., public_key_pem: _Optional[str] = ...) -> None: ...

class GetInclusionProofRequest(_message.Message):
    __slots__ = ("index", "tree_size")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    index: int
    tree_size: int
    def __init__(self, index: _Optional[int] = ..., tree_size: _Optional[int] = ...) -> None: ...

class GetInclusionProofResponse(_message.Message):
    __slots__ = ("index", "tree_size", "leaf_hash", "proof")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    index: int
    tree_size: int
    leaf_hash: bytes
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, index: _Optional[int] = ..., tree_size: _Optional[int] = ..., leaf_hash: _Optional[bytes] = ..., proof: _Optional[_Iterable[bytes]] = ...) -> None: ...

class GetConsistencyProofRequest(_message.Message):
    __slots__ = ("first_size", "second_size")
    FIRST_SIZE_FIELD_NUMBER: _ClassVar[int]
    SECOND_SIZE_FIELD_NUMBER: _ClassVar[int]
    first_size: int
    second_size: int
    def __init__(self, first_size: _Optional[int] = ..., second_size: _Optional[int] = ...) -> None: ...

class GetConsistencyProofResponse(_message.Message):
    __slots__ = ("proof",)
    PROOF_FIELD_NUMBER: _ClassVar[int]
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, proof: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ExportLogRequest(_message.Message):
    __slots__ = ("recipients", "from_index", "tree_size", "access")
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    FROM_INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    recipients: _containers.RepeatedScalarFieldContainer[str]
    from_index: int
    tree_size: int
    access: _common_pb2.AccessContext
    def __init__(self, recipients: _Optional[_Iterable[str]] = ..., from_index: _Optional[int] = ..., tree_size: _Optional[int] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ...) -> None: ...

class ExportLogResponse(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    def __init__(self, chunk: _Optional[bytes] = ...) -> None: ...

class ProveAccessRequest(_message.Message):
    __slots__ = ("snapshot_ids", "recipients", "access")
    SNAPSHOT_IDS_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    snapshot_ids: _containers.RepeatedScalarFieldContainer[str]
    recipients: _containers.RepeatedScalarFieldContainer[str]
    access: _common_pb2.AccessContext
    def __init__(self, snapshot_ids: _Optional[_Iterable[str]] = ..., recipients: _Optional[_Iterable[str]] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ...) -> None: ...

class ProveAccessResponse(_message.Message):
    __slots__ = ("records", "proofs", "tree_head", "public_key_pem")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    PROOFS_FIELD_NUMBER: _ClassVar[int]
    TREE_HEAD_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[LoggedAccess]
    proofs: _containers.RepeatedCompositeFieldContainer[GetInclusionProofResponse]
    tree_head: SignedTreeHead
    public_key_pem: str
    def __init__(self, records: _Optional[_Iterable[_Union[LoggedAccess, _Mapping]]] = ..., proofs: _Optional[_Iterable[_Union[GetInclusionProofResponse, _Mapping]]] = ..., tree_head: _Optional[_Union[SignedTreeHead, _Mapping]] = ..., public_key_pem: _Optional[str] = ...) -> None: ...
