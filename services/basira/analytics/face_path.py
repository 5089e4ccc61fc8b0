"""The platform's one face path: detect → quality gates → align + embed, for live frames and enrolment.

Live frames embed every face that passes the gates; an enrolment image must hold exactly one face that
passes them, else it is refused saying why (a watchlist built on a poor photo makes false matches).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from basira.analytics.face_quality import FaceQuality, FaceQualityConfig, assess
from basira.analytics.faces import Face, FaceEmbedding, FaceEngine
from basira.common.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class LiveFace:
    face: Face
    quality: FaceQuality
    embedding: FaceEmbedding | None
    """None when the face failed a gate (it is counted, never matched)."""

    @property
    def vector(self) -> np.ndarray:
        assert self.embedding is not None
        return np.asarray(self.embedding.vector, np.float32)


class FacePath:
    """An engine with its quality gates; call from engine threads (the engine is thread-safe)."""

    def __init__(self, engine: FaceEngine, quality: FaceQualityConfig | None = None) -> None:
        self.engine, self.quality = engine, quality or FaceQualityConfig()

    @property
    def model(self) -> str:
        return self.engine.model

    @property
    def match_distance(self) -> float:
        return self.engine.match_distance

    def live(self, image_bgr: np.ndarray) -> list[LiveFace]:
        """Every face found, with its quality, and an embedding for those that pass the gates."""
        found = []
        for face in self.engine.detect(image_bgr):
            quality = assess(image_bgr, face, self.quality)
            embedding = self.engine.embed(image_bgr, face) if quality.ok else None
            found.append(LiveFace(face, quality, embedding))
        return found

    def enrolment(self, image_bgr: np.ndarray, field: str) -> FaceEmbedding:
        """The one good face of an enrolment image; InvalidInput naming `field` and the reasons otherwise."""
        faces = self.engine.detect(image_bgr)
        if not faces:
            raise InvalidInput(f"{field}: no face found in the image; send a clear, frontal face photo",
                               field=field)
        if len(faces) > 1:
            raise InvalidInput(f"{field}: {len(faces)} faces found; an enrolment image must show only the "
                               "subject (crop it to one face)", field=field)
        quality = assess(image_bgr, faces[0], self.quality)
        if not quality.ok:
            raise InvalidInput(f"{field}: the face cannot be enrolled: {'; '.join(quality.refusals)}",
                               field=field)
        embedding = self.engine.embed(image_bgr, faces[0])
        if embedding is None:
            raise InvalidInput(f"{field}: the face could not be embedded; send a clearer photo", field=field)
        return embedding
