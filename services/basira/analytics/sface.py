"""The default face engine: YuNet detector + SFace embedder (cv2.FaceDetectorYN, cv2.FaceRecognizerSF).

Why this one: on CCTV-sized faces (12–30 px) YuNet finds what dlib's HOG misses, and SFace stays free of
false matches where dlib's ResNet confuses small faces (`make bench-faces`). Weights: the int8 builds of
the OpenCV model zoo (YuNet MIT, SFace Apache-2.0), carried in `face_models/` (see its LICENSES.md) and
checked against their SHA-256 before loading; an operator points `model_dir` and the digests at their own.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from basira.analytics.faces import Face, FaceEmbedding
from basira.common.errors import FailedPrecondition

PACKAGED_MODELS = Path(__file__).resolve().parent / "face_models"
DETECTOR_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
RECOGNIZER_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
DETECTOR_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
RECOGNIZER_SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"


class YuNetSFaceConfig(BaseModel):
    """YuNet + SFace (OpenCV); model files and their digests, detector thresholds, match threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["yunet-sface"] = Field(default="yunet-sface", description="Engine selector.")
    model_dir: Path = Field(default=PACKAGED_MODELS, description="Directory holding the two ONNX files.")
    detector_file: str = Field(default=DETECTOR_FILE, description="YuNet ONNX file in model_dir.")
    recognizer_file: str = Field(default=RECOGNIZER_FILE, description="SFace ONNX file in model_dir.")
    detector_sha256: str = Field(default=DETECTOR_SHA256, description="Expected SHA-256 of the detector.")
    recognizer_sha256: str = Field(default=RECOGNIZER_SHA256,
                                   description="Expected SHA-256 of the recognizer (names the model).")
    score_threshold: float = Field(default=0.6, gt=0, lt=1, description="YuNet face score cut-off.")
    nms_threshold: float = Field(default=0.3, gt=0, lt=1, description="YuNet non-maximum suppression.")
    detect_max_side: int = Field(default=1280, ge=160, le=4096,
                                 description="Longest side (px) YuNet sees; larger images are shrunk.")
    match_distance: float = Field(default=0.55, gt=0, lt=2,
                                  description="Cosine distance at or below which two faces match "
                                  "(calibrated on the shared pairs, `make bench-faces`).")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checked_model(directory: Path, name: str, expected: str) -> Path:
    """The model file, after its SHA-256 matched; FailedPrecondition saying what is wrong otherwise."""
    path = directory / name
    if not path.is_file():
        raise FailedPrecondition(f"face model {path} is missing; set face_engine.model_dir to the directory "
                                 "that holds it")
    found = sha256_of(path)
    if found != expected.lower():
        raise FailedPrecondition(f"face model {path} has SHA-256 {found}, not the expected {expected}; "
                                 "replace the file or set the digest of your own model in the config")
    return path


class YuNetSFaceEngine:
    """FaceEngine on OpenCV's YuNet and SFace; a lock serialises the stateful OpenCV objects."""

    def __init__(self, config: YuNetSFaceConfig | None = None) -> None:
        self.config = c = config or YuNetSFaceConfig()
        detector = checked_model(c.model_dir, c.detector_file, c.detector_sha256)
        recognizer = checked_model(c.model_dir, c.recognizer_file, c.recognizer_sha256)
        self.model = f"sface-{c.recognizer_sha256[:12]}"
        self.match_distance = c.match_distance
        self._detector = cv2.FaceDetectorYN.create(str(detector), "", (320, 320), c.score_threshold,
                                                   c.nms_threshold, 5000)
        self._recognizer = cv2.FaceRecognizerSF.create(str(recognizer), "")
        self._lock = threading.Lock()

    def _detect(self, image_bgr: np.ndarray) -> list[Face]:
        image = as_bgr(image_bgr)
        height, width = image.shape[:2]
        scale = min(1.0, self.config.detect_max_side / max(height, width))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = image if scale == 1.0 else cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        self._detector.setInputSize((small.shape[1], small.shape[0]))
        _, rows = self._detector.detect(small)
        faces = []
        for row in [] if rows is None else rows:
            values = [float(v) / scale for v in row[:14]]
            x0, y0 = max(0, int(values[0])), max(0, int(values[1]))
            x1 = min(width, int(values[0] + values[2]))
            y1 = min(height, int(values[1] + values[3]))
            if x1 > x0 and y1 > y0:
                points = tuple((values[i], values[i + 1]) for i in range(4, 14, 2))
                faces.append(Face((x0, y0, x1 - x0, y1 - y0), round(float(row[14]), 4), points))
        faces.sort(key=lambda f: f.score, reverse=True)
        return faces

    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        with self._lock:
            return self._detect(image_bgr)

    def embed(self, image_bgr: np.ndarray, face: Face | None = None) -> FaceEmbedding | None:
        image = as_bgr(image_bgr)
        with self._lock:
            if face is None or not face.landmarks:
                faces = self._detect(image) if face is None else inside(self._detect(image), face)
                if not faces:
                    return None
                face = max(faces, key=lambda f: f.area) if face is None else faces[0]
            row = np.array([[*face.box, *(v for p in face.landmarks for v in p), face.score]], np.float32)
            aligned = self._recognizer.alignCrop(image, row[0])
            feature = self._recognizer.feature(aligned).reshape(-1)
        return FaceEmbedding(tuple(float(v) for v in unit(feature)), self.model, face)


def unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 − cosine similarity: 0 for the same direction, 2 for opposite."""
    return float(1.0 - np.dot(unit(a), unit(b)))


def as_bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image


def inside(faces: list[Face], box: Face) -> list[Face]:
    """Detected faces whose centre lies in `box` (a caller's box without landmarks), best first."""
    x, y, w, h = box.box
    return [f for f in faces
            if x <= f.box[0] + f.box[2] / 2 <= x + w and y <= f.box[1] + f.box[3] / 2 <= y + h]
