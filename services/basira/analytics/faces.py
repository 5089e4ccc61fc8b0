"""Face engines behind one interface: find faces in an image, and embed one face as a vector.

Engines are plugins chosen by a config whose `type` names them (DESIGN §8):
- `yunet-sface` (default, `sface.py`): OpenCV's YuNet detector and SFace embedder, weights carried here.
- `dlib`: dlib's 5-point landmarks and ResNet 128-d embedding (CC0 weights inside the
  `face_recognition_models` wheel; its 68-point predictor, non-commercial, is never loaded), on faces
  found by YuNet (`detector: yunet`, CCTV-sized faces) or dlib's own HOG detector.
- `insightface` (`scrfd_arcface.py`: SCRFD + ArcFace on onnxruntime): from an operator's model directory,
  because the public weights are non-commercial.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from basira.common.errors import ConfigError, FailedPrecondition
from basira.common.plugins import resolve_plugin


@dataclass(frozen=True, slots=True)
class Face:
    """A face in image pixels: box (x, y, width, height), the detector's score (engine-specific scale) and,
    when the detector gives them, five landmarks (right eye, left eye, nose tip, mouth corners)."""

    box: tuple[int, int, int, int]
    score: float
    landmarks: tuple[tuple[float, float], ...] = ()

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]


@dataclass(frozen=True, slots=True)
class FaceEmbedding:
    """One face as a vector; `model` names engine and weights (vectors of different models never compare)."""

    vector: tuple[float, ...]
    model: str
    face: Face


class FaceEngine(Protocol):
    """Finds and embeds faces. Implementations must be safe to call from several threads."""

    model: str
    match_distance: float
    """Cosine distance (between unit vectors) at or below which two faces are the same person."""

    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        """Faces in `image_bgr` (H×W×3 uint8 BGR), most confident first; [] if none."""
        ...

    def embed(self, image_bgr: np.ndarray, face: Face | None = None) -> FaceEmbedding | None:
        """Embed `face` (a box in this image), or the largest face found; None if there is no face."""
        ...


class DlibFaceConfig(BaseModel):
    """dlib HOG + 5-point landmarks + ResNet (weights from the `face_recognition_models` wheel)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["dlib"] = Field(default="dlib", description="Engine selector; this engine is 'dlib'.")
    detect_max_side: int = Field(
        default=800, ge=160, le=4096,
        description="Longest side (px) the HOG detector sees; larger images are shrunk first.")
    upsample: int = Field(
        default=1, ge=0, le=3, description="Times the detector upsamples: smaller faces, 4x cost each.")
    min_score: float = Field(
        default=0.0, description="HOG threshold adjustment (higher = fewer, surer faces).")
    jitters: int = Field(
        default=0, ge=0, le=100, description="Re-sampled embeddings averaged per face (slower, steadier).")
    detector: Literal["yunet", "hog"] = Field(
        default="yunet", description="Who finds the faces: YuNet (CCTV-sized faces) or dlib's HOG.")
    match_distance: float = Field(
        default=0.075, gt=0, lt=2, description="Cosine distance at or below which two faces match "
        "(calibrated on the shared pairs, `make bench-faces`).")

class DlibFaceEngine:
    """The default face engine (see module docstring); a lock makes it thread-safe."""

    model = "dlib-resnet-v1"

    def __init__(self, config: DlibFaceConfig | None = None) -> None:
        self.config = config or DlibFaceConfig()
        self.match_distance = self.config.match_distance
        self._yunet: FaceEngine | None = None
        if self.config.detector == "yunet":
            from basira.analytics.sface import YuNetSFaceEngine

            self._yunet = YuNetSFaceEngine()
        import dlib

        with warnings.catch_warnings():  # the wheel still imports pkg_resources
            warnings.simplefilter("ignore")
            import face_recognition_models as weights

        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(weights.pose_predictor_five_point_model_location())
        self._encoder = dlib.face_recognition_model_v1(weights.face_recognition_model_location())
        self._lock = threading.Lock()

    @staticmethod
    def _rgb(image_bgr: np.ndarray) -> np.ndarray:
        if image_bgr.ndim == 2:
            return np.ascontiguousarray(cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2RGB))
        return np.ascontiguousarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))

    def _detect_rgb(self, rgb: np.ndarray) -> list[Face]:
        if self._yunet is not None:
            return self._yunet.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))  # with landmarks: pose gate
        height, width = rgb.shape[:2]
        scale = min(1.0, self.config.detect_max_side / max(height, width))
        small = rgb if scale == 1.0 else cv2.resize(rgb, (max(1, round(width * scale)),
                                                          max(1, round(height * scale))),
                                                    interpolation=cv2.INTER_AREA)
        rects, scores, _ = self._detector.run(small, self.config.upsample, self.config.min_score)
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            x0, y0 = max(0, int(rect.left() / scale)), max(0, int(rect.top() / scale))
            x1, y1 = min(width, int(rect.right() / scale)), min(height, int(rect.bottom() / scale))
            if x1 > x0 and y1 > y0:
                faces.append(Face((x0, y0, x1 - x0, y1 - y0), round(float(score), 4)))
        faces.sort(key=lambda f: f.score, reverse=True)
        return faces

    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        rgb = self._rgb(image_bgr)
        with self._lock:
            return self._detect_rgb(rgb)

    def embed(self, image_bgr: np.ndarray, face: Face | None = None) -> FaceEmbedding | None:
        rgb = self._rgb(image_bgr)
        with self._lock:
            if face is None:
                faces = self._detect_rgb(rgb)
                if not faces:
                    return None
                face = max(faces, key=lambda f: f.area)
            x, y, w, h = face.box
            rect = self._dlib.rectangle(x, y, x + w, y + h)
            shape = self._landmarks(rgb, rect)
            vector = np.array(self._encoder.compute_face_descriptor(rgb, shape, self.config.jitters))
        vector /= max(float(np.linalg.norm(vector)), 1e-12)
        return FaceEmbedding(tuple(float(v) for v in vector), self.model, face)


def _yunet_sface(config: BaseModel) -> FaceEngine:
    from basira.analytics.sface import YuNetSFaceEngine

    return YuNetSFaceEngine(config)  # type: ignore[arg-type]


def _scrfd_arcface(config: BaseModel) -> FaceEngine:
    from basira.analytics.scrfd_arcface import ScrfdArcFaceEngine

    return ScrfdArcFaceEngine(config)  # type: ignore[arg-type]


def _engines() -> dict[str, tuple[type[BaseModel], Callable[[Any], FaceEngine]]]:
    from basira.analytics.scrfd_arcface import InsightFaceConfig
    from basira.analytics.sface import YuNetSFaceConfig

    return {"yunet-sface": (YuNetSFaceConfig, _yunet_sface),
            "insightface": (InsightFaceConfig, _scrfd_arcface), **_ENGINES}


_ENGINES: dict[str, tuple[type[BaseModel], Callable[[Any], FaceEngine]]] = {
    "dlib": (DlibFaceConfig, DlibFaceEngine),
}


def create_face_engine(config: BaseModel | Mapping[str, Any]) -> FaceEngine:
    """Build the engine named by `config.type` (a config model or a plain mapping).

    Raises ConfigError for an unknown type or invalid settings, FailedPrecondition when the engine's
    models are not where the config says.
    """
    validated, factory = resolve_plugin(_engines(), config, "face engine")
    return factory(validated)


class LazyFaceEngine:
    """Builds the configured engine on first use, so a missing model only fails the face RPCs.

    `get()` raises FailedPrecondition (with the factory's reason) until the engine can be built.
    """

    def __init__(self, config: BaseModel | Mapping[str, Any]) -> None:
        self._config = config
        self._engine: FaceEngine | None = None
        self._lock = threading.Lock()

    def get(self) -> FaceEngine:
        with self._lock:
            if self._engine is None:
                try:
                    self._engine = create_face_engine(self._config)
                except ConfigError as exc:
                    raise FailedPrecondition(f"the face engine cannot be built: {exc}") from exc
            return self._engine
