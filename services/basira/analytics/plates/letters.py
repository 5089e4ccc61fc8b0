"""The Arabic series letter of Moroccan (and older Iraqi) plates: a small classifier of our own.

The shipped PP-OCR recogniser has no Arabic characters, so the letter between a Moroccan plate's
serial and region numbers cannot be read by it. This classifier takes a crop holding one letter and
says which of LETTERS it is. Its ONNX weights (`models/arabic_letters.onnx`, a two-layer perceptron
on a 32×32 grey glyph) are trained by `letter_training.py` in this package, with a fixed seed, on
letters rendered from fonts of Debian packages (licences in `models/FONTS.md`); it is measured on
letters rendered from other fonts with other distortions (`make bench-plates` reports it).
The engine calls it on the place `series.letter_places` finds for the letter in a plate read.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from basira.common.errors import ConfigError

LETTERS = "أبجدهوزحطيكلمنسعفصقر"
"""Series letters: Morocco's أ ب د هـ و ط ي ج and the other letters of Iraq's older series."""

SIDE = 32
MODEL_PATH = Path(__file__).resolve().parent / "models" / "arabic_letters.onnx"


def glyph_input(crop: np.ndarray) -> np.ndarray:
    """A crop (BGR or grey, uint8) → 1×SIDE² float32: dark-on-light, contrast-stretched, centred, square."""
    grey = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    grey = grey.astype(np.float32)
    low, high = np.percentile(grey, 2), np.percentile(grey, 98)
    grey = np.clip((grey - low) / max(high - low, 1.0), 0.0, 1.0)
    if grey.mean() < 0.5:  # light letter on a dark plate: make it dark on light like the training set
        grey = 1.0 - grey
    h, w = grey.shape
    side = max(h, w)
    square = np.ones((side, side), np.float32)
    square[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = grey
    small = cv2.resize(square, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    return (1.0 - small).reshape(1, SIDE * SIDE)  # ink = 1


class ArabicLetterClassifier:
    """Scores a one-letter crop against LETTERS with the committed (or an operator's) ONNX model."""

    def __init__(self, model: Path = MODEL_PATH) -> None:
        if not model.is_file():
            raise ConfigError(f"Arabic letter model {model} is missing")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self._session = ort.InferenceSession(str(model), sess_options=options,
                                             providers=["CPUExecutionProvider"])
        letters = self._session.get_modelmeta().custom_metadata_map.get("letters", LETTERS)
        self.letters = letters

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        """N×SIDE² glyph inputs (see glyph_input) → N×len(letters) probabilities."""
        return np.asarray(self._session.run(None, {"glyph": inputs.astype(np.float32)})[0])

    def classify(self, crop: np.ndarray) -> list[tuple[str, float]]:
        """The letters the crop may be, most probable first, with their probabilities."""
        probs = self.scores(glyph_input(crop))[0]
        order = np.argsort(-probs)
        return [(self.letters[i], float(probs[i])) for i in order]
