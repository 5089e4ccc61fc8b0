"""The default plate engine: PP-OCRv4 text detection and recognition (rapidocr's ONNX) + layout repair.

Per image: the text detector runs once on the frame scaled to `det_max_side`; its boxes, and runs
of neighbouring boxes on one line, become candidates (`regions.plate_candidates`); each is cut from
the full-resolution frame with a margin (a plate's last character often stands apart from the rest)
and read by the recogniser alone; the recogniser's per-frame probabilities are folded onto A-Z/0-9
(lower case onto upper case, Arabic letters and digits of Moroccan plates onto their Latin keys,
everything else onto a separator) before greedy CTC decoding; the text is fitted to the configured
countries' layouts (`formats.repair`, which may drop characters read with little confidence);
a read that may be a Moroccan or Iraqi plate also gets reads with its Arabic series letter, found in
the image and classified (`series`); two lines stacked one above the other make one more candidate,
read top line first (`regions.stacked_candidates`); overlapping candidates keep the most confident
read, the others' texts (and runner-up layout fits) becoming its alternatives. Frames the detector
sees much shrunk (1080p, 4K) also get a second, enlarged look at plate-like places (`small`), for
plates too small for the first pass.

Measured CPU on one core (eu set, 640 px detector input, ~100 ms an image): detector ~2/3, recogniser
~3/10 (1.6 candidates an image), layout repair ~4 %.

Models come from the `rapidocr-onnxruntime` wheel (no download). An operator can point `model_dir`
at a directory holding `det.onnx` and/or `rec.onnx` (PP-OCR in- and outputs) to replace either;
`rec_keys.txt` beside `rec.onnx` lists its characters when the model has no `character` metadata.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import onnxruntime as ort
from pydantic import BaseModel, ConfigDict, Field, field_validator

from basira.analytics.plates.engine import (
    MAX_ALTERNATIVES,
    PlateAlternative,
    PlateRead,
    register_plate_engine,
)
from basira.analytics.plates.formats import COUNTRIES, readings
from basira.analytics.plates.letters import ArabicLetterClassifier
from basira.analytics.plates.regions import Region, group_per_plate, iou, plate_candidates, stacked_candidates
from basira.analytics.plates.series import SERIES_COUNTRIES, Glyph, series_reads
from basira.analytics.plates.small import from_mosaic, mosaic, plate_like_boxes, zoom_windows
from basira.common.errors import ConfigError
from basira.common.plate_text import ARABIC_INDIC_DIGITS, MOROCCAN_LETTERS

WHEEL_DET_MODEL = "ch_PP-OCRv4_det_infer.onnx"
WHEEL_REC_MODEL = "ch_PP-OCRv4_rec_infer.onnx"
PLATE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

_REC_HEIGHT = 48  # PP-OCR recogniser input height
_REC_MAX_WIDTH = 16 * _REC_HEIGHT
_MIN_IMAGE_SIDE = 16  # below this no plate is legible
_MIN_TEXT_HEIGHT = 6  # px in the full image
_FLAT_STDDEV = 2.0  # grey levels: a frame this uniform holds no text
SMALL_PASS_SCALE = 0.75  # frames shrunk more than this for the detector get the small-plate pass
_DB_UNCLIP_RATIO = 1.6  # the detector (DB) was trained to predict text kernels shrunk by this ratio


class RapidPlateEngineConfig(BaseModel):
    """Settings of the rapidocr (PP-OCR on onnxruntime) plate engine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["rapidocr"] = Field(default="rapidocr", description="Engine selector: 'rapidocr'.")
    model_dir: Path | None = Field(
        default=None,
        description="Operator model directory with det.onnx and/or rec.onnx (+ rec_keys.txt) replacing "
        "the wheel's PP-OCRv4 models; unset: the wheel's models.",
    )
    intra_op_threads: int = Field(
        default=1, ge=1, le=64, description="onnxruntime threads per model run (1 = one core)."
    )
    det_max_side: int = Field(
        default=640, ge=160, le=4096,
        description="Longest side (px) of the frame the text detector sees; larger finds smaller plates "
        "at quadratic cost. Frames are never enlarged.",
    )
    det_threshold: float = Field(
        default=0.3, gt=0, lt=1, description="Detector pixel probability that counts as text."
    )
    box_threshold: float = Field(
        default=0.5, gt=0, lt=1, description="Mean detector probability a text box needs."
    )
    max_candidates: int = Field(
        default=10, ge=1, le=100,
        description="Most regions read per image (each costs one recogniser run, ~10-30 ms on one core).",
    )
    min_confidence: float = Field(
        default=0.3, ge=0, le=1, description="Reads below this confidence (0..1) are dropped."
    )
    small_plate_windows: int = Field(
        default=12, ge=0, le=32,
        description="Plate-like places of a large frame (one the detector sees shrunk below "
        f"{SMALL_PASS_SCALE:g}×) looked at again enlarged, for plates 8-48 px high; 0 turns the pass off. "
        "All are looked at in one detector run over a mosaic of them (~40-60 ms for 12 on one core).",
    )
    countries: tuple[str, ...] | None = Field(
        default=None,
        description="Plate layouts to try, home country first (ISO 3166-1 alpha-2); the order only "
        f"breaks exact ties. Unset: all known ({', '.join(COUNTRIES)}).",
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
class DecodedText:
    """Greedy CTC text and, per character, the plate-character probabilities at its most certain frame.

    positions: per character, where that frame lies: a fraction (0..1) of the recogniser's input
    width from `decode`, the x in image pixels once `recognise` has placed it in the image.
    """

    text: str
    probabilities: tuple[dict[str, float], ...]
    positions: tuple[float, ...] = ()

    @property
    def confidence(self) -> float:
        """Mean probability of the decoded characters (0 for no text)."""
        if not self.text:
            return 0.0
        return float(np.mean([p[ch] for ch, p in zip(self.text, self.probabilities, strict=True)]))


@dataclass(frozen=True, slots=True)
class CharacterFold:
    """Sums a recogniser's class probabilities into blank, the 36 plate characters and 'other'.

    `sources[k]` are the class indices summed into PLATE_ALPHABET[k]; class 0 is the CTC blank;
    the probability left over is 'other' (punctuation, ideographs …), which acts as a separator.
    """

    sources: tuple[tuple[int, ...], ...]

    @classmethod
    def for_characters(cls, characters: Sequence[str]) -> CharacterFold:
        """`characters`: the recogniser's classes in output order, index 0 being the CTC blank.

        Raises ConfigError if the recogniser cannot output some plate character.
        """
        sources: list[list[int]] = [[] for _ in PLATE_ALPHABET]
        for index, ch in enumerate(characters[1:], start=1):
            latin = ch.upper() if ch.isascii() else ""
            key = MOROCCAN_LETTERS.get(ch) or ARABIC_INDIC_DIGITS.get(ch) or latin
            if len(key) == 1 and key in PLATE_ALPHABET:
                sources[PLATE_ALPHABET.index(key)].append(index)
        missing = "".join(PLATE_ALPHABET[k] for k, found in enumerate(sources) if not found)
        if missing:
            raise ConfigError(f"the plate recogniser cannot output the plate characters {missing!r}")
        return cls(tuple(tuple(found) for found in sources))

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """(frames, classes) softmax → (frames, 38): blank, the 36 plate characters, other."""
        folded = np.empty((probs.shape[0], len(PLATE_ALPHABET) + 2), dtype=np.float32)
        folded[:, 0] = probs[:, 0]
        for k, source in enumerate(self.sources, start=1):
            folded[:, k] = probs[:, source].sum(axis=1) if len(source) > 1 else probs[:, source[0]]
        folded[:, -1] = np.clip(1.0 - folded[:, :-1].sum(axis=1), 0.0, 1.0)
        return folded

    def decode(self, probs: np.ndarray) -> DecodedText:
        """Greedy CTC decoding of one recogniser output (frames × classes) over the folded classes."""
        folded = self.apply(probs)
        best = folded.argmax(axis=1).tolist()
        other = folded.shape[1] - 1
        chars: list[str] = []
        peaks: list[int] = []  # per character, its most certain frame
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
            {ch: p for ch, p in zip(PLATE_ALPHABET, folded[frame, 1:-1].tolist(), strict=True) if p >= 1e-4}
            for frame in peaks
        )
        positions = tuple((frame + 0.5) / len(best) for frame in peaks)
        return DecodedText("".join(chars), probabilities, positions)


def _joined(line_reads: Sequence[DecodedText]) -> DecodedText:
    """The reads of a plate's lines as one read, top line first."""
    if len(line_reads) == 1:
        return line_reads[0]
    return DecodedText("".join(r.text for r in line_reads),
                       tuple(p for r in line_reads for p in r.probabilities),
                       tuple(x for r in line_reads for x in r.positions))


def with_alternatives(group: Sequence[PlateRead]) -> PlateRead:
    """The group's best read, its alternatives being the best other texts read anywhere in the group."""
    best = group[0]
    others: dict[str, PlateAlternative] = {}
    for read in group:
        candidates = [PlateAlternative(read.text, read.display, read.country, read.confidence),
                      *read.alternatives]
        for alternative in candidates:
            known = others.get(alternative.text)
            if alternative.text != best.text and (known is None or alternative.confidence > known.confidence):
                others[alternative.text] = alternative
    ranked = sorted(others.values(), key=lambda a: a.confidence, reverse=True)[:MAX_ALTERNATIVES]
    return replace(best, alternatives=tuple(ranked))


def _wheel_model_dir() -> Path:
    import rapidocr_onnxruntime

    return Path(rapidocr_onnxruntime.__file__).resolve().parent / "models"


def _session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle workers must not burn CPU
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several unrelated types for unreadable models
        raise ConfigError(f"cannot load the ONNX model {path}: {exc}") from exc


def _to_blob(image_bgr: np.ndarray) -> np.ndarray:
    """uint8 H×W×3 → float32 1×3×H×W scaled to [-1, 1], as both PP-OCR models expect."""
    return (image_bgr.astype(np.float32) * (2.0 / 255.0) - 1.0).transpose(2, 0, 1)[np.newaxis]


def as_bgr(image: object) -> np.ndarray | None:
    """The image as contiguous uint8 H×W×3 BGR, or None if it cannot hold a plate.

    Accepts grey (H×W or H×W×1), BGR and BGRA arrays of any numeric dtype (values clipped to 0..255).
    """
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        return None
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        return None
    if min(image.shape[:2]) < _MIN_IMAGE_SIDE or not np.issubdtype(image.dtype, np.number):
        return None
    if image.dtype != np.uint8:
        image = np.clip(np.nan_to_num(image.astype(np.float32)), 0, 255).astype(np.uint8)
    image = np.ascontiguousarray(image)  # OpenCV refuses some strided views (flips, channel slices)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class RapidPlateEngine:
    """PlateEngine on the PP-OCRv4 detector and recogniser (see module docstring).

    Thread-safe: `read` keeps no per-call state on the engine and onnxruntime sessions accept
    concurrent runs, so one engine can serve a pool of worker threads.
    """

    def __init__(self, config: RapidPlateEngineConfig | None = None) -> None:
        """Load both models; raises ConfigError if a model is missing, unreadable or unsuitable."""
        self.config = config or RapidPlateEngineConfig()
        det_path, rec_path, keys_path = self._model_paths(self.config.model_dir)
        self._det = _session(det_path, self.config.intra_op_threads)
        self._rec = _session(rec_path, self.config.intra_op_threads)
        self._det_input = self._det.get_inputs()[0].name
        self._rec_input = self._rec.get_inputs()[0].name
        characters = self._rec_characters(self._rec, keys_path)
        classes = self._rec.get_outputs()[0].shape[-1]
        if isinstance(classes, int) and classes != len(characters):
            raise ConfigError(f"recogniser {rec_path} has {classes} classes but {len(characters)} characters "
                              "(CTC blank + keys + space)")
        self._fold = CharacterFold.for_characters(characters)
        enabled = self.config.countries or COUNTRIES
        self._letter_countries = tuple(c for c in enabled if c in SERIES_COUNTRIES)
        self._letters = ArabicLetterClassifier() if self._letter_countries else None

    @staticmethod
    def _model_paths(model_dir: Path | None) -> tuple[Path, Path, Path | None]:
        wheel = _wheel_model_dir()
        det, rec, keys = wheel / WHEEL_DET_MODEL, wheel / WHEEL_REC_MODEL, None
        if model_dir is not None:
            if not model_dir.is_dir():
                raise ConfigError(f"plate model_dir {model_dir} is not a directory")
            if not (model_dir / "det.onnx").is_file() and not (model_dir / "rec.onnx").is_file():
                raise ConfigError(f"plate model_dir {model_dir} holds neither det.onnx nor rec.onnx")
            if (model_dir / "det.onnx").is_file():
                det = model_dir / "det.onnx"
            if (model_dir / "rec.onnx").is_file():
                rec = model_dir / "rec.onnx"
                if (model_dir / "rec_keys.txt").is_file():
                    keys = model_dir / "rec_keys.txt"
        for path in (det, rec):
            if not path.is_file():
                raise ConfigError(f"plate model {path} is missing (is rapidocr-onnxruntime installed?)")
        return det, rec, keys

    @staticmethod
    def _rec_characters(session: ort.InferenceSession, keys_path: Path | None) -> list[str]:
        if keys_path is not None:
            keys = keys_path.read_text(encoding="utf-8").splitlines()
        else:
            metadata = session.get_modelmeta().custom_metadata_map
            if "character" not in metadata:
                raise ConfigError("the plate recogniser has no 'character' metadata: add rec_keys.txt")
            keys = metadata["character"].splitlines()
        return ["<blank>", *keys, " "]

    def read(self, image_bgr: np.ndarray) -> list[PlateRead]:
        """Plates in `image_bgr`, most confident first (see PlateEngine.read)."""
        image = as_bgr(image_bgr)
        if image is None:
            return []
        found = self.detect_text(image)
        candidates = plate_candidates(found, self.config.max_candidates, _MIN_TEXT_HEIGHT)
        small = self.detect_small(image, found)
        small_candidates = plate_candidates(small, self.config.small_plate_windows, _MIN_TEXT_HEIGHT)
        candidates += [c for c in small_candidates if all(iou(c.box, kept.box) < 0.9 for kept in candidates)]
        lines = [r for r in (*found, *small) if r.h >= _MIN_TEXT_HEIGHT]
        candidates += stacked_candidates([*lines, *candidates])
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if self._letters is not None else None
        reads: list[PlateRead] = []
        seen: dict[tuple[int, int, int, int], DecodedText] = {}  # a stacked plate's lines are candidates too
        for region in candidates:
            line_reads = [seen.get(line.box) or seen.setdefault(line.box, self.recognise(image, line))
                          for line in (region.lines or (region,))]
            decoded = _joined(line_reads)
            if not decoded.text:
                continue
            reads += self._fitted(decoded, region)
            if grey is not None and self._digit_like(decoded.text):
                glyphs = [Glyph(ch, x, index, p) for index, line in enumerate(line_reads)
                          for ch, x, p in zip(line.text, line.positions, line.probabilities, strict=True)]
                line_boxes = [line.box for line in (region.lines or (region,))]
                reads += self._with_letter(grey, line_boxes, glyphs, region)
        return [with_alternatives(group) for group in
                group_per_plate(reads, box=lambda r: r.box, confidence=lambda r: r.confidence)]

    def _fitted(self, decoded: DecodedText, region: Region) -> list[PlateRead]:
        """The recogniser's read of `region` fitted to the layouts: [] or one read with its runners-up."""
        fits = readings(decoded.text, self.config.countries, decoded.probabilities)
        if not fits:
            return []
        confidence = decoded.confidence * fits[0].score
        if confidence < self.config.min_confidence:
            return []
        alternatives = tuple(
            PlateAlternative(f.text, f.display, f.country, round(decoded.confidence * f.score, 4))
            for f in fits[1 : 1 + MAX_ALTERNATIVES])
        return [PlateRead(fits[0].text, fits[0].display, fits[0].country, round(confidence, 4), region.box,
                          alternatives)]

    @staticmethod
    def _digit_like(text: str) -> bool:
        """A read that may be a Moroccan or Iraqi plate: three digits or more, at most two others."""
        digits = sum(ch.isdigit() for ch in text)
        return digits >= 3 and len(text) - digits <= 2

    def _with_letter(self, grey: np.ndarray, lines: list[tuple[int, int, int, int]], glyphs: list[Glyph],
                     region: Region) -> list[PlateRead]:
        """Reads of `region` with an Arabic series letter found and classified (see `series`)."""
        assert self._letters is not None
        found = series_reads(grey, lines, glyphs, self._letter_countries, self._letters)
        return [PlateRead(r.fit.text, r.fit.display, r.fit.country, r.confidence, region.box)
                for r in found if r.confidence >= self.config.min_confidence]

    def detect_small(self, image: np.ndarray, found: list[Region]) -> list[Region]:
        """Text boxes from a second, enlarged look at plate-like places the downscaled pass left empty.

        Only for frames the first pass shrank below SMALL_PASS_SCALE, and at most
        `small_plate_windows` windows (see `small`), so the extra cost is bounded for any frame size.
        """
        height, width = image.shape[:2]
        shrunk = self.config.det_max_side / max(height, width) <= SMALL_PASS_SCALE
        if self.config.small_plate_windows == 0 or not shrunk:
            return []
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        boxes = plate_like_boxes(grey, 3 * self.config.small_plate_windows)
        windows = zoom_windows(boxes, image.shape, found)[: self.config.small_plate_windows]
        if not windows:
            return []
        canvas, tiles = mosaic(image, windows)
        return from_mosaic(self.detect_text(canvas, zoom=1.0), tiles)

    def detect_text(self, image: np.ndarray, zoom: float | None = None) -> list[Region]:
        """Text boxes in a BGR uint8 image (full-image pixels), from one detector run.

        The detector sees the image scaled to `det_max_side` (never enlarged), or by `zoom` if given.
        """
        height, width = image.shape[:2]
        scale = min(1.0, self.config.det_max_side / max(height, width)) if zoom is None else zoom
        det_w = max(32, round(width * scale / 32) * 32)
        det_h = max(32, round(height * scale / 32) * 32)
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(image, (det_w, det_h), interpolation=interpolation)
        if float(cv2.meanStdDev(resized)[1].max()) < _FLAT_STDDEV:
            return []
        prob = self._det.run(None, {self._det_input: _to_blob(resized)})[0][0, 0]
        bitmap = cv2.dilate((prob > self.config.det_threshold).astype(np.uint8), np.ones((2, 2), np.uint8))
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
            grow = w * h * _DB_UNCLIP_RATIO / (2 * (w + h))  # undo DB's kernel shrinking
            x0, y0 = max(0.0, (x - grow) * sx), max(0.0, (y - grow) * sy)
            x1, y1 = min(float(width), (x + w + grow) * sx), min(float(height), (y + h + grow) * sy)
            regions.append(Region(int(x0), int(y0), math.ceil(x1 - x0), math.ceil(y1 - y0), score))
        return regions

    def recognise(self, image: np.ndarray, region: Region) -> DecodedText:
        """Read the text in `region` of a BGR uint8 image, with a margin of half its height on each side."""
        pad_x, pad_y = max(1, region.h // 2), max(1, int(region.h * 0.08))
        y0, y1 = max(0, region.y - pad_y), min(image.shape[0], region.y + region.h + pad_y)
        x0, x1 = max(0, region.x - pad_x), min(image.shape[1], region.x + region.w + pad_x)
        if y1 - y0 < _MIN_TEXT_HEIGHT or x1 - x0 < _MIN_TEXT_HEIGHT:
            return DecodedText("", ())
        crop = image[y0:y1, x0:x1]
        width = max(_REC_HEIGHT, min(math.ceil(_REC_HEIGHT * (x1 - x0) / (y1 - y0)), _REC_MAX_WIDTH))
        resized = cv2.resize(crop, (width, _REC_HEIGHT), interpolation=cv2.INTER_LINEAR)
        probs = self._rec.run(None, {self._rec_input: _to_blob(resized)})[0][0]
        decoded = self._fold.decode(probs)
        return replace(decoded, positions=tuple(x0 + f * (x1 - x0) for f in decoded.positions))


register_plate_engine("rapidocr", RapidPlateEngineConfig, RapidPlateEngine)
