from basira.v1 import common_pb2 as _common_pb2
from basira.v1 import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DetectedFace(_message.Message):
    __slots__ = ("box", "score")
    BOX_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    box: _common_pb2.Box
    score: float
    def __init__(self, box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., score: _Optional[float] = ...) -> None: ...

class DetectFacesRequest(_message.Message):
    __slots__ = ("image", "access")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    access: _common_pb2.AccessContext
    def __init__(self, image: _Optional[bytes] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ...) -> None: ...

class DetectFacesResponse(_message.Message):
    __slots__ = ("faces", "image_width", "image_height")
    FACES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    faces: _containers.RepeatedCompositeFieldContainer[DetectedFace]
    image_width: int
    image_height: int
    def __init__(self, faces: _Optional[_Iterable[_Union[DetectedFace, _Mapping]]] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ...) -> None: ...

class EmbedFaceRequest(_message.Message):
    __slots__ = ("image", "face", "access")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    face: _common_pb2.Box
    access: _common_pb2.AccessContext
    def __init__(self, image: _Optional[bytes] = ..., face: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ...) -> None: ...

class EmbedFaceResponse(_message.Message):
    __slots__ = ("embedding", "model", "face")
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    embedding: _containers.RepeatedScalarFieldContainer[float]
    model: str
    face: DetectedFace
    def __init__(self, embedding: _Optional[_Iterable[float]] = ..., model: _Optional[str] = ..., face: _Optional[_Union[DetectedFace, _Mapping]] = ...) -> None: ...

class PlateReading(_message.Message):
    __slots__ = ("text", "display", "country", "confidence", "box", "alternatives")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    text: str
    display: str
    country: str
    confidence: float
    box: _common_pb2.Box
    alternatives: _containers.RepeatedCompositeFieldContainer[PlateAlternative]
    def __init__(self, text: _Optional[str] = ..., display: _Optional[str] = ..., country: _Optional[str] = ..., confidence: _Optional[float] = ..., box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., alternatives: _Optional[_Iterable[_Union[PlateAlternative, _Mapping]]] = ...) -> None: ...

class PlateAlternative(_message.Message):
    __slots__ = ("text", "display", "country", "confidence")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    text: str
    display: str
    country: str
    confidence: float
    def __init__(self, text: _Optional[str] = ..., display: _Optional[str] = ..., country: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class ReadPlatesRequest(_message.Message):
    __slots__ = ("image", "access")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    access: _common_pb2.AccessContext
    def __init__(self, image: _Optional[bytes] = ..., access: _Optional[_Union[_common_pb2.AccessContext, _Mapping]] = ...) -> None: ...

class ReadPlatesResponse(_message.Message):
    __slots__ = ("plates", "image_width", "image_height")
    PLATES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    plates: _containers.RepeatedCompositeFieldContainer[PlateReading]
    image_width: int
    image_height: int
    def __init__(self, plates: _Optional[_Iterable[_Union[PlateReading, _Mapping]]] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ...) -> None: ...
