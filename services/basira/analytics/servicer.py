"""AnalyticsService: protobuf ⇄ engines for on-demand face detection, face embedding and plate reading.

Engines run on the engine threads (never on the event loop); uploads are decoded by ingest's
header-checked decoder, so a hostile image is refused before any pixel buffer is allocated.
"""

from __future__ import annotations

import grpc
import numpy as np

from basira.analytics.engines import EngineThreads
from basira.analytics.faces import Face, FaceEmbedding, LazyFaceEngine
from basira.analytics.images import decode_upload
from basira.analytics.pipeline import plate_reading
from basira.analytics.plates.engine import PlateEngine, PlateRead
from basira.common.errors import InvalidInput
from basira.ingest.frames import FrameLimits
from basira.v1 import analytics_pb2, analytics_pb2_grpc, common_pb2

SERVICE_NAME = analytics_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name


def _box(face: Face) -> common_pb2.Box:
    x, y, w, h = face.box
    return common_pb2.Box(x=x, y=y, width=w, height=h)


def requested_face(box: common_pb2.Box, width: int, height: int) -> Face:
    """The caller's face box, checked to be non-empty and inside the image; raises InvalidInput."""
    if box.width <= 0 or box.height <= 0:
        raise InvalidInput("face box must have a positive width and height", field="face")
    if box.x < 0 or box.y < 0 or box.x + box.width > width or box.y + box.height > height:
        raise InvalidInput(f"face box ({box.x}, {box.y}, {box.width}×{box.height}) is not inside the "
                           f"{width}×{height} image", field="face")
    return Face((box.x, box.y, box.width, box.height), 0.0)


class AnalyticsServicer(analytics_pb2_grpc.AnalyticsServiceServicer):
    def __init__(self, plates: PlateEngine, faces: LazyFaceEngine, threads: EngineThreads,
                 limits: FrameLimits | None = None) -> None:
        self.plates, self.faces, self.threads = plates, faces, threads
        self.limits = limits or FrameLimits()

    def _read_plates(self, data: bytes) -> tuple[list[PlateRead], int, int]:
        image = decode_upload(data, self.limits)
        return self.plates.read(image), image.shape[1], image.shape[0]

    def _detect_faces(self, data: bytes) -> tuple[list[Face], int, int]:
        engine = self.faces.get()
        image = decode_upload(data, self.limits)
        return engine.detect(image), image.shape[1], image.shape[0]

    def _embed_face(self, data: bytes, box: common_pb2.Box | None) -> FaceEmbedding:
        engine = self.faces.get()
        image: np.ndarray = decode_upload(data, self.limits)
        face = None if box is None else requested_face(box, image.shape[1], image.shape[0])
        embedding = engine.embed(image, face)
        if embedding is None:
            raise InvalidInput("no face found in the image", field="image")
        return embedding

    async def ReadPlates(self, request: analytics_pb2.ReadPlatesRequest,
                         context: grpc.aio.ServicerContext) -> analytics_pb2.ReadPlatesResponse:
        reads, width, height = await self.threads.run(self._read_plates, request.image)
        return analytics_pb2.ReadPlatesResponse(plates=[plate_reading(r) for r in reads], image_width=width,
                                                image_height=height)

    async def DetectFaces(self, request: analytics_pb2.DetectFacesRequest,
                          context: grpc.aio.ServicerContext) -> analytics_pb2.DetectFacesResponse:
        faces, width, height = await self.threads.run(self._detect_faces, request.image)
        return analytics_pb2.DetectFacesResponse(
            faces=[analytics_pb2.DetectedFace(box=_box(f), score=f.score) for f in faces],
            image_width=width, image_height=height)

    async def EmbedFace(self, request: analytics_pb2.EmbedFaceRequest,
                        context: grpc.aio.ServicerContext) -> analytics_pb2.EmbedFaceResponse:
        box = request.face if request.HasField("face") else None
        embedding = await self.threads.run(self._embed_face, request.image, box)
        return analytics_pb2.EmbedFaceResponse(
            embedding=list(embedding.vector), model=embedding.model,
            face=analytics_pb2.DetectedFace(box=_box(embedding.face), score=embedding.face.score))
