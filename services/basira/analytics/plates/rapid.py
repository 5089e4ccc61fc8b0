"""The default plate engine: PP-OCR text detection and recognition (rapidocr's ONNX weights) + layout repair.

Pipeline, per image: the PP-OCRv4 text detector runs once on a frame scaled down to `det_max_side`;
its text boxes, and runs of neighbouring boxes on one line, become plate candidates; each candidate is
cut from the full-resolution frame and read by the PP-OCRv4 recogniser; the recogniser's per-frame
character probabilities are folded onto A-Z/0-9 (lower case onto upper case, everything else is a
separator) before CTC decoding; the text is fitted to the configured countries' layouts
(`formats.repair`), and overlapping candidates keep only the most confident read.

The models are the ones inside the `rapidocr-onnxruntime` wheel (no download); an operator can
point `model_dir` at a directory holding `det.onnx` and/or `rec.onnx` (PP-OCR-compatible in- and
outputs) to replace either, with `rec_keys.txt` beside `rec.onnx` when the model has no `character`
metadata.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import onnxruntime as ort
from pydantic import BaseModel, ConfigDict, Field, field_validator

from basira.analytics.plates.engine import PlateRead, register_plate_engine
from basira.analytics.plates.formats import COUNTRIES, best_fit
from basira.common.errors import ConfigError

_REC_HEIGHT = 48
_MIN_IMAGE_SIDE = 16
_MIN_CROP_HEIGHT = 6
_FLAT_STDDEV = 2.0


def _wheel_model_dir() -> Path:
    import rapidocr_onnxruntime

    return Path(rapidocr_onnxruntime.__file__).resolve().parent / "models"


WHEEL_DET_MODEL = "ch_PP-OCRv4_det_infer.onnx"
WHEEL_REC_MODEL = "ch_PP-OCRv4_rec_infer.onnx"


class RapidPlateEngineConfig(BaseModel):
    """Settings of the rapidocr (PP-OCR on onnxruntime) plate engine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["rapidocr"] = Field("rapidocr", description="Engine selector; this engine is 'rapidocr'.")
    model_dir: Path | None = Field(
        None,
        description="Operator model directory with det.onnx and/or rec.onnx (+ rec_keys.txt) replacing the "
        "wheel's PP-OCRv4 models; unset = the wheel's models.",
    )
    intra_op_threads: int = Field(1, ge=1, le=64, description="onnxruntime threads per model run.")
    det_max_side: int = Field(
        640, ge=160, le=2048, description="Longest side (px) of the frame the text detector sees; larger "
        "finds smaller plates, at quadratic cost."
    )
    det_threshold: float = Field(0.3, gt=0, lt=1, description="Detector pixel probability that counts as text.")
    box_threshold: float = Field(0.5, gt=0, lt=1, description="Mean probability a text box needs to be kept.")
    max_candidates: int = Field(10, ge=1, le=100, description="Most regions read per image (the recogniser "
                                "dominates the cost beyond the detector).")
    min_confidence: float = Field(0.3, ge=0, le=1, description="Reads below this confidence are dropped.")
    countries: tuple[str, ...] | None = Field(
        None, description="Plate layouts to try, in preference order (ISO 3166-1 alpha-2); unset = all known."
    )

    @field_validator("countries")
    @classmethod
    def _known_countries(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        upper = tuple(c.upper() for c in value)
        unknown = sorted(set(upper) - set(COUNTRIES))
        if unknown:
            raise ValueError(f"no plate layouts for {unknown}; known: {list(COUNTRIES)}")
        return upper


@dataclass(frozen=True, slots=True)
class _Region:
    """A candidate plate region in full-image pixels, with the detector's mean probability."""

    x: int
    y: int
    w: int
    h: int
    score: float


@dataclass(frozen=True, slots=True)
class _Decoded:
    """Greedy CTC text and, per character, the plate-character probabilities at its most certain frame."""

    text: str
    probabilities: tuple[dict[str, float], ...]

    @property
    def char_confidences(self) -> list[float]:
        return [p[ch] for ch, p in zip(self.text, self.probabilities, strict=True)]

    @property
    def confidence(self) -> float:
        return float(np.mean(self.char_confidences)) if self.text else 0.0


def _session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several unrelated types for unreadable models
        raise ConfigError(f"cannot load ONNX model {path}: {exc}") from exc


PLATE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True, slots=True)
class _Fold:
    """Where each plate character's probability lives among the recogniser's output classes.

    `sources[k]` are the class indices (upper and lower case) summed into PLATE_ALPHABET[k]; class 0 is
    the CTC blank; whatever probability is left is 'other' (punctuation, ideographs …): a separator.
    """

    sources: tuple[tuple[int, ...], ...]

    @classmethod
    def for_characters(cls, characters: Sequence[str]) -> _Fold:
        """`characters`: the recogniser's output classes in order (index 0 = CTC blank)."""
        sources: list[list[int]] = [[] for _ in PLATE_ALPHABET]
        for index, ch in enumerate(characters[1:], start=1):
            if len(ch) == 1 and ch.isascii() and ch.upper() in PLATE_ALPHABET:
                sources[PLATE_ALPHABET.index(ch.upper())].append(index)
        missing = [PLATE_ALPHABET[k] for k, found in enumerate(sources) if not found]
        if missing:
            raise ConfigError(f"recogniser cannot output plate characters {''.join(missing)}")
        return cls(tuple(tuple(found) for found in sources))

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """(T, classes) softmax → (T, 38): blank, the 36 plate characters, other."""
        folded = np.empty((probs.shape[0], len(PLATE_ALPHABET) + 2), dtype=np.float32)
        folded[:, 0] = probs[:, 0]
        for k, source in enumerate(self.sources, start=1):
            folded[:, k] = probs[:, source].sum(axis=1)
        folded[:, -1] = np.clip(1.0 - folded[:, :-1].sum(axis=1), 0.0, 1.0)
        return folded


class RapidPlateEngine:
    """PlateEngine on PP-OCR det + rec ONNX models (see module docstring)."""

    def __init__(self, config: RapidPlateEngineConfig | None = None) -> None:
        self.config = config or RapidPlateEngineConfig()
        det_path, rec_path, keys_path = self._model_paths(self.config.model_dir)
        self._det = _session(det_path, self.config.intra_op_threads)
        self._rec = _session(rec_path, self.config.intra_op_threads)
        self._det_input = self._det.get_inputs()[0].name
        self._rec_input = self._rec.get_inputs()[0].name
        characters = self._rec_characters(self._rec, keys_path)
        self._fold = _Fold.for_characters(characters)
        classes = self._rec.get_outputs()[0].shape[-1]
        if isinstance(classes, int) and classes != len(characters):
            raise ConfigError(f"recogniser {rec_path} has {classes} classes but its character list has "
                              f"{len(characters)} (blank + keys + space expected)")

    @staticmethod
    def _model_paths(model_dir: Path | None) -> tuple[Path, Path, Path | None]:
        wheel = _wheel_model_dir()
        det, rec, keys = wheel / WHEEL_DET_MODEL, wheel / WHEEL_REC_MODEL, None
        if model_dir is not None:
            if not model_dir.is_dir():
                raise ConfigError(f"plate model_dir {model_dir} is not a directory")
            if (model_dir / "det.onnx").is_file():
                det = model_dir / "det.onnx"
            if (model_dir / "rec.onnx").is_file():
                rec = model_dir / "rec.onnx"
                keys = model_dir / "rec_keys.txt" if (model_dir / "rec_keys.txt").is_file() else None
            if det.parent == wheel and rec.parent == wheel:
                raise ConfigError(f"plate model_dir {model_dir} has neither det.onnx nor rec.onnx")
        for path in (det, rec):
            if not path.is_file():
                raise ConfigError(f"plate model {path} is missing")
        return det, rec, keys

    @staticmethod
    def _rec_characters(session: ort.InferenceSession, keys_path: Path | None) -> list[str]:
        if keys_path is not None:
            keys = keys_path.read_text(encoding="utf-8").splitlines()
        else:
            metadata = session.get_modelmeta().custom_metadata_map
            if "character" not in metadata:
                raise ConfigError("recogniser model has no 'character' metadata; put rec_keys.txt beside it")
            keys = metadata["character"].splitlines()
        return ["<blank>", *keys, " "]

    # -- the pipeline -------------------------------------------------------------------------

    def read(self, image_bgr: np.ndarray) -> list[PlateRead]:
        image = self._as_bgr(image_bgr)
        if image is None:
            return []
        regions = self._detect(image)
        candidates = self._candidates(regions, image.shape[1], image.shape[0])
        reads: list[PlateRead] = []
        for region in candidates:
            crop = self._crop(image, region)
            if crop is None:
                continue
            decoded = self._recognise(crop)
            fit = best_fit(decoded.text, self.config.countries, decoded.probabilities) if decoded.text else None
            if fit is None:
                continue
            confidence = decoded.confidence * fit.score
            if confidence < self.config.min_confidence:
                continue
            reads.append(PlateRead(text=fit.text, display=fit.display, country=fit.country,
                                   confidence=round(confidence, 4),
                                   box=(region.x, region.y, region.w, region.h)))
        return _suppress_overlaps(reads)

    @staticmethod
    def _as_bgr(image: np.ndarray) -> np.ndarray | None:
        """The image as contiguous uint8 BGR, or None if it cannot hold a plate."""
        if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
            return None
        if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
            return None
        if min(image.shape[:2]) < _MIN_IMAGE_SIDE:
            return None
        if image.dtype != np.uint8:
            if not np.issubdtype(image.dtype, np.number):
                return None
            image = np.clip(np.nan_to_num(image.astype(np.float32)), 0, 255).astype(np.uint8)
        if image.ndim == 2 or image.shape[2] == 1:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        return np.ascontiguousarray(image)

    def _detect(self, image: np.ndarray) -> list[_Region]:
        height, width = image.shape[:2]
        scale = min(1.0, self.config.det_max_side / max(height, width))
        det_w = max(32, int(round(width * scale / 32)) * 32)
        det_h = max(32, int(round(height * scale / 32)) * 32)
        resized = cv2.resize(image, (det_w, det_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        if float(cv2.meanStdDev(resized)[1].max()) < _FLAT_STDDEV:  # a featureless frame holds no text
            return []
        blob = (resized.astype(np.float32) * (2.0 / 255.0) - 1.0).transpose(2, 0, 1)[np.newaxis]
        prob = self._det.run(None, {self._det_input: blob})[0][0, 0]
        bitmap = (prob > self.config.det_threshold).astype(np.uint8)
        bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(bitmap, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        sx, sy = width / det_w, height / det_h
        regions = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if min(w, h) < 3:
                continue
            mask = np.zeros((h, w), np.uint8)
            cv2.drawContours(mask, [contour - [x, y]], -1, 1, thickness=-1)
            score = float(cv2.mean(prob[y : y + h, x : x + w], mask)[0])
            if score < self.config.box_threshold:
                continue
            # DB shrinks text kernels; grow them back by area * ratio / perimeter (ratio 1.6 as trained).
            grow = w * h * 1.6 / (2 * (w + h))
            x0, y0 = max(0.0, (x - grow) * sx), max(0.0, (y - grow) * sy)
            x1, y1 = min(float(width), (x + w + grow) * sx), min(float(height), (y + h + grow) * sy)
            regions.append(_Region(int(x0), int(y0), int(math.ceil(x1 - x0)), int(math.ceil(y1 - y0)), score))
        return regions

    def _candidates(self, regions: list[_Region], width: int, height: int) -> list[_Region]:
        """Single text boxes and runs of neighbouring boxes on one line, most plate-like first."""
        plausible = [r for r in regions if r.h >= _MIN_CROP_HEIGHT]
        plausible.sort(key=lambda r: r.x)
        merged: list[_Region] = []
        for i, first in enumerate(plausible):
            run = first
            for other in plausible[i + 1 :]:
                if not _same_line(run, other):
                    continue
                run = _union(run, other)
                merged.append(run)
        candidates = plausible + merged
        candidates = [c for c in candidates if 1.3 <= c.w / c.h <= 12]
        candidates.sort(key=_plate_likeness, reverse=True)
        unique: list[_Region] = []
        for candidate in candidates:
            if all(_iou(candidate, kept) < 0.9 for kept in unique):
                unique.append(candidate)
            if len(unique) == self.config.max_candidates:
                break
        return unique

    @staticmethod
    def _crop(image: np.ndarray, region: _Region) -> np.ndarray | None:
        pad_y = max(1, int(region.h * 0.08))
        pad_x = max(1, int(region.h * 0.5))
        y0, y1 = max(0, region.y - pad_y), min(image.shape[0], region.y + region.h + pad_y)
        x0, x1 = max(0, region.x - pad_x), min(image.shape[1], region.x + region.w + pad_x)
        if y1 - y0 < _MIN_CROP_HEIGHT or x1 - x0 < _MIN_CROP_HEIGHT:
            return None
        return image[y0:y1, x0:x1]

    def _recognise(self, crop: np.ndarray) -> _Decoded:
        h, w = crop.shape[:2]
        target_w = max(_REC_HEIGHT, min(int(math.ceil(_REC_HEIGHT * w / h)), 16 * _REC_HEIGHT))
        resized = cv2.resize(crop, (target_w, _REC_HEIGHT), interpolation=cv2.INTER_LINEAR)
        blob = (resized.astype(np.float32) * (2.0 / 255.0) - 1.0).transpose(2, 0, 1)[np.newaxis]
        probs = self._rec.run(None, {self._rec_input: blob})[0][0]
        return self._decode(probs)

    def _decode(self, probs: np.ndarray) -> _Decoded:
        """Greedy CTC decoding over blank, A-Z0-9 and 'other' (probabilities summed per folded class)."""
        folded = self._fold.apply(probs)
        best = folded.argmax(axis=1).tolist()
        other = folded.shape[1] - 1
        chars: list[str] = []
        peaks: list[int] = []
        previous = -1
        for frame, cls in enumerate(best):
            if cls == previous:
                if 0 < cls < other and folded[frame, cls] > folded[peaks[-1], cls]:
                    peaks[-1] = frame
                continue
            previous = cls
            if 0 < cls < other:
                chars.append(PLATE_ALPHABET[cls - 1])
                peaks.append(frame)
        probabilities = tuple(
            {ch: float(p) for ch, p in zip(PLATE_ALPHABET, folded[frame, 1:-1].tolist(), strict=True) if p >= 1e-4}
            for frame in peaks
        )
        return _Decoded("".join(chars), probabilities)


def _same_line(a: _Region, b: _Region) -> bool:
    overlap = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if overlap < 0.6 * min(a.h, b.h) or max(a.h, b.h) > 1.6 * min(a.h, b.h):
        return False
    gap = b.x - (a.x + a.w)
    return gap < 1.2 * max(a.h, b.h)


def _union(a: _Region, b: _Region) -> _Region:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.w, b.x + b.w), max(a.y + a.h, b.y + b.h)
    return _Region(x0, y0, x1 - x0, y1 - y0, min(a.score, b.score))


def _plate_likeness(r: _Region) -> float:
    """Prefer boxes shaped like a one-line plate (width ≈ 2-6 × height) that the detector is sure of."""
    aspect = r.w / r.h
    shape = 1.0 if 2.0 <= aspect <= 6.5 else 0.6
    return shape * r.score * math.log1p(r.w * r.h)


def _iou(a: _Region | tuple[int, int, int, int], b: _Region | tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = (a.x, a.y, a.w, a.h) if isinstance(a, _Region) else a
    bx, by, bw, bh = (b.x, b.y, b.w, b.h) if isinstance(b, _Region) else b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Same plate: boxes overlap well, or one lies mostly inside the other (a sub-run of a line)."""
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    smaller = min(a[2] * a[3], b[2] * b[3])
    return _iou(a, b) > 0.3 or (smaller > 0 and inter / smaller > 0.6)


def _suppress_overlaps(reads: list[PlateRead]) -> list[PlateRead]:
    kept: list[PlateRead] = []
    for read in sorted(reads, key=lambda r: r.confidence, reverse=True):
        if all(not _overlaps(read.box, other.box) for other in kept):
            kept.append(read)
    return kept


register_plate_engine("rapidocr", RapidPlateEngineConfig, RapidPlateEngine)
