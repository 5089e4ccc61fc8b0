"""The third face engine: SCRFD detector + ArcFace embedder (the insightface model formats) on onnxruntime.

Their public weights are non-commercial, so nothing is shipped: an operator puts their own licensed
ONNX files in `model_dir` and gives their SHA-256 (checked before loading, as for every engine). The
detector is an SCRFD export with key points (9 outputs: scores, box distances and 5-point distances
at strides 8, 16, 32, two anchors per cell); the embedder takes a 112×112 face aligned on ArcFace's
five-point template and gives one vector (512-d for the usual models).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from basira.analytics.faces import Face, FaceEmbedding
from basira.analytics.sface import as_bgr, checked_model, inside, unit
from basira.common.errors import FailedPrecondition

STRIDES = (8, 16, 32)
ANCHORS = 2
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)


class InsightFaceConfig(BaseModel):
    """SCRFD + ArcFace ONNX files of the operator, with their digests; thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["insightface"] = Field(default="insightface", description="Engine selector.")
    model_dir: Path | None = Field(default=None, description="Directory holding the operator's SCRFD and "
                                   "ArcFace ONNX models.")
    detector_file: str = Field(default="det_10g.onnx", description="SCRFD model (with key points).")
    recognizer_file: str = Field(default="w600k_r50.onnx", description="ArcFace model.")
    detector_sha256: str = Field(default="", description="SHA-256 of the detector file (required).")
    recognizer_sha256: str = Field(default="", description="SHA-256 of the recognizer file (required).")
    input_size: int = Field(default=640, ge=64, le=2048,
                            description="Square side SCRFD sees (multiple of 32).")
    score_threshold: float = Field(default=0.5, gt=0, lt=1, description="SCRFD face score cut-off.")
    nms_threshold: float = Field(default=0.4, gt=0, lt=1, description="Non-maximum suppression overlap.")
    match_distance: float = Field(default=0.6, gt=0, lt=2, description="Cosine distance at or below which "
                                  "two faces match; calibrate with `make bench-faces` on your models.")


def _session(path: Path) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class ScrfdArcFaceEngine:
    """FaceEngine on SCRFD + ArcFace ONNX models (onnxruntime sessions are thread-safe; a lock keeps
    one inference at a time per engine, like the others)."""

    def __init__(self, config: InsightFaceConfig) -> None:
        self.config = c = config
        if c.model_dir is None or not c.model_dir.is_dir():
            where = "no model_dir is set" if c.model_dir is None else f"{c.model_dir} is not a directory"
            raise FailedPrecondition(
                f"the insightface face engine needs the operator's model directory (SCRFD + ArcFace ONNX "
                f"models), but {where}; set face_engine.model_dir, or use the default 'yunet-sface' engine")
        if c.input_size % 32:
            raise FailedPrecondition(f"face_engine.input_size {c.input_size} is not a multiple of 32")
        digests = (("detector_sha256", c.detector_sha256), ("recognizer_sha256", c.recognizer_sha256))
        for name, digest in digests:
            if len(digest) != 64:
                raise FailedPrecondition(f"face_engine.{name} must be the 64-hex-digit SHA-256 of your model "
                                         "file: models are checked before they are loaded")
        self._detector = _session(checked_model(c.model_dir, c.detector_file, c.detector_sha256))
        self._recognizer = _session(checked_model(c.model_dir, c.recognizer_file, c.recognizer_sha256))
        outputs = self._detector.get_outputs()
        if len(outputs) != 9:
            raise FailedPrecondition(f"{c.detector_file} has {len(outputs)} outputs; an SCRFD model with key "
                                     "points has 9 (scores, boxes, key points at strides 8, 16, 32)")
        self.model = f"arcface-{c.recognizer_sha256[:12]}"
        self.match_distance = c.match_distance
        self._lock = threading.Lock()

    def _detect(self, image: np.ndarray) -> list[Face]:
        side, c = self.config.input_size, self.config
        height, width = image.shape[:2]
        scale = side / max(height, width)
        canvas = np.zeros((side, side, 3), np.uint8)
        canvas[:round(height * scale), :round(width * scale)] = cv2.resize(
            image, (round(width * scale), round(height * scale)))
        blob = cv2.dnn.blobFromImage(canvas, 1 / 128, (side, side), (127.5, 127.5, 127.5), swapRB=True)
        outs = self._detector.run(None, {self._detector.get_inputs()[0].name: blob})
        boxes, scores, points = [], [], []
        for level, stride in enumerate(STRIDES):
            cells = side // stride
            ys, xs = np.mgrid[:cells, :cells]
            grid = np.stack([xs, ys], axis=-1).reshape(-1, 2) * stride
            centres = np.repeat(grid, ANCHORS, axis=0).astype(np.float32)
            score = outs[level].reshape(-1)
            keep = np.flatnonzero(score >= c.score_threshold)
            distance = outs[level + 3].reshape(-1, 4)[keep] * stride
            kps = outs[level + 6].reshape(-1, 10)[keep] * stride
            at = centres[keep]
            boxes.append(np.hstack([at - distance[:, :2], at + distance[:, 2:]]))
            points.append((np.tile(at, 5) + kps).reshape(-1, 5, 2))
            scores.append(score[keep])
        box, score, point = np.vstack(boxes) / scale, np.concatenate(scores), np.vstack(points) / scale
        rects = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in box]
        chosen = cv2.dnn.NMSBoxes(rects, score.tolist(), c.score_threshold, c.nms_threshold) if rects else []
        faces = []
        for i in np.asarray(chosen, int).reshape(-1):
            x0, y0 = max(0, int(box[i][0])), max(0, int(box[i][1]))
            x1, y1 = min(width, int(box[i][2])), min(height, int(box[i][3]))
            if x1 > x0 and y1 > y0:
                faces.append(Face((x0, y0, x1 - x0, y1 - y0), round(float(score[i]), 4),
                                  tuple((float(x), float(y)) for x, y in point[i])))
        faces.sort(key=lambda f: f.score, reverse=True)
        return faces

    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        with self._lock:
            return self._detect(as_bgr(image_bgr))

    def embed(self, image_bgr: np.ndarray, face: Face | None = None) -> FaceEmbedding | None:
        image = as_bgr(image_bgr)
        with self._lock:
            if face is None or not face.landmarks:
                found = self._detect(image) if face is None else inside(self._detect(image), face)
                if not found:
                    return None
                face = max(found, key=lambda f: f.area)
            matrix, _ = cv2.estimateAffinePartial2D(np.asarray(face.landmarks, np.float32), ARCFACE_TEMPLATE)
            if matrix is None:
                return None
            aligned = cv2.warpAffine(image, matrix, (112, 112), borderValue=0.0)
            blob = cv2.dnn.blobFromImage(aligned, 1 / 127.5, (112, 112), (127.5, 127.5, 127.5), swapRB=True)
            vector = self._recognizer.run(None, {self._recognizer.get_inputs()[0].name: blob})[0].reshape(-1)
        return FaceEmbedding(tuple(float(v) for v in unit(vector)), self.model, face)
