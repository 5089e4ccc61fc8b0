from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
ACCESS_FIELD_NUMBER: _ClassVar[int]
access: _descriptor.FieldDescriptor

class AccessRule(_message.Message):
    __slots__ = ("action", "data_class", "changes_state")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DATA_CLASS_FIELD_NUMBER: _ClassVar[int]
    CHANGES_STATE_FIELD_NUMBER: _ClassVar[int]
    action: str
    data_class: str
    changes_state: bool
    def __init__(self, action: _Optional[str] = ..., data_class: _Optional[str] = ..., changes_state: bool = ...) -> None: ...
