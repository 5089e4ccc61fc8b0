"""Train the Arabic series-letter classifier (`letters.py`) on rendered letters; write its ONNX weights.

Training letters are rendered from TRAIN_FONTS with plate-camera damage (rotation, perspective,
Gaussian blur, the margins the engine's letter crops have, sometimes with a bar's edge, rendering at
7-24 px then enlarging, noise, JPEG). The test set uses TEST_FONTS, which
training never sees, and other damage (shear, motion blur, salt-and-pepper noise, 6-16 px): a
letter learnt rather than a font memorised. Fonts come from Debian packages (fonts-noto-core,
fonts-dejavu-core, fonts-dejavu-extra; licences in models/FONTS.md) found under FONT_DIRS; nothing
is downloaded. The model is a two-layer perceptron (numpy, Adam, fixed seed), exported with
onnx.helper, so training needs no deep-learning framework.

    .venv/bin/python -m basira.analytics.plates.letter_training [--out PATH] [--per-font N]
"""

from __future__ import annotations

import argparse
import io
import random
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image, ImageDraw, ImageFont

from basira.analytics.plates.letters import LETTERS, MODEL_PATH, SIDE, glyph_input

FONT_DIRS = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/truetype/dejavu"))
TRAIN_FONTS = ("NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf", "NotoKufiArabic-Regular.ttf",
               "NotoKufiArabic-Bold.ttf", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf",
               "DejaVuSansCondensed-Bold.ttf")
TEST_FONTS = ("NotoNaskhArabic-Regular.ttf", "NotoNaskhArabic-Bold.ttf", "DejaVuSansCondensed.ttf")
SEED = 12
HIDDEN = 192


def find_font(name: str) -> Path:
    for directory in FONT_DIRS:
        if (directory / name).is_file():
            return directory / name
    raise SystemExit(f"font {name} not found under {[str(d) for d in FONT_DIRS]}: "
                     "install fonts-noto-core and fonts-dejavu (Debian)")


def render(letter: str, font: Path, size: int = 64) -> np.ndarray:
    """The letter's isolated form, dark on light, on a margin, as grey uint8."""
    face = ImageFont.truetype(str(font), size)
    canvas = Image.new("L", (size * 3, size * 3), 255)
    ImageDraw.Draw(canvas).text((size, size // 2), letter, font=face, fill=0)
    grey = np.asarray(canvas)
    ys, xs = np.nonzero(grey < 128)
    if len(xs) == 0:
        raise SystemExit(f"font {font.name} has no glyph for {letter!r}")
    pad = size // 6
    return grey[max(0, ys.min() - pad) : ys.max() + pad, max(0, xs.min() - pad) : xs.max() + pad]


def _train_damage(glyph: np.ndarray, rng: random.Random) -> np.ndarray:
    h, w = glyph.shape
    angle = rng.uniform(-8, 8)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, rng.uniform(0.85, 1.1))
    out = cv2.warpAffine(glyph, matrix, (w, h), borderValue=255)
    d = 0.08 * min(h, w)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = np.array([[rng.uniform(-d, d) + x, rng.uniform(-d, d) + y] for x, y in src.tolist()], np.float32)
    out = cv2.warpPerspective(out, cv2.getPerspectiveTransform(src, dst), (w, h), borderValue=255)
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.1, 1.5))
    out = _reframe(out, rng)
    h, w = out.shape
    target = rng.randint(7, 24)
    small = cv2.resize(out, (max(4, round(w * target / h)), target), interpolation=cv2.INTER_AREA)
    return _camera(small, rng, jpeg=True)


def _reframe(glyph: np.ndarray, rng: random.Random) -> np.ndarray:
    """The margin as the engine's letter crops have it: tighter or looser, sometimes a bar's edge in it."""
    h, w = glyph.shape
    top, bottom, left, right = (round(rng.uniform(-0.06, 0.12) * side) for side in (h, h, w, w))
    framed = cv2.copyMakeBorder(glyph, max(0, top), max(0, bottom), max(0, left), max(0, right),
                                cv2.BORDER_CONSTANT, value=255)
    rows, cols = framed.shape
    framed = framed[max(0, -top) : rows - max(0, -bottom), max(0, -left) : cols - max(0, -right)]
    if rng.random() < 0.2:  # a bar's edge left at one side
        edge = max(1, framed.shape[1] // 20)
        framed = framed.copy()
        if rng.random() < 0.5:
            framed[:, :edge] = np.minimum(framed[:, :edge], 60)
        else:
            framed[:, -edge:] = np.minimum(framed[:, -edge:], 60)
    return framed


def _test_damage(glyph: np.ndarray, rng: random.Random) -> np.ndarray:
    h, w = glyph.shape
    shear = rng.uniform(-0.2, 0.2)
    skew = np.array([[1, shear, -shear * h / 2], [0, 1, 0]], np.float32)
    out = cv2.warpAffine(glyph, skew, (w, h), borderValue=255)
    length = rng.randint(1, 5)
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    out = cv2.filter2D(out, -1, kernel)
    target = rng.randint(6, 16)
    small = cv2.resize(out, (max(4, round(w * target / h)), target), interpolation=cv2.INTER_LINEAR)
    small = small.copy()
    mask = np.random.default_rng(rng.randrange(2**32)).random(small.shape)
    small[mask < 0.02] = 0
    small[mask > 0.98] = 255
    return _camera(small, rng, jpeg=False)


def _camera(small: np.ndarray, rng: random.Random, jpeg: bool) -> np.ndarray:
    paper, ink = rng.uniform(150, 250), rng.uniform(0, 90)
    img = ink + (small.astype(np.float32) / 255.0) * (paper - ink)
    img += np.random.default_rng(rng.randrange(2**32)).normal(0, rng.uniform(0, 10), img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if jpeg:
        buffer = io.BytesIO()
        Image.fromarray(img).save(buffer, format="JPEG", quality=rng.randint(40, 90))
        img = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))
    return img


def rendered_set(fonts: Sequence[str], per_font: int, seed: int, test: bool) -> tuple[np.ndarray, np.ndarray]:
    """(N×SIDE² inputs, N labels) for every letter × font × `per_font` damaged copies."""
    rng = random.Random(seed)
    inputs, labels = [], []
    for font_name in fonts:
        font = find_font(font_name)
        for label, letter in enumerate(LETTERS):
            glyph = render(letter, font)
            for _ in range(per_font):
                damaged = _test_damage(glyph, rng) if test else _train_damage(glyph, rng)
                inputs.append(glyph_input(damaged)[0])
                labels.append(label)
    return np.stack(inputs).astype(np.float32), np.asarray(labels)


def train(x: np.ndarray, y: np.ndarray, seed: int = SEED, epochs: int = 40) -> list[np.ndarray]:
    """Two-layer perceptron (ReLU, softmax) by Adam on cross-entropy; returns [W1, b1, W2, b2]."""
    rng = np.random.default_rng(seed)
    classes = len(LETTERS)
    params = [rng.normal(0, np.sqrt(2 / x.shape[1]), (x.shape[1], HIDDEN)).astype(np.float32),
              np.zeros(HIDDEN, np.float32),
              rng.normal(0, np.sqrt(2 / HIDDEN), (HIDDEN, classes)).astype(np.float32),
              np.zeros(classes, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step, rate, batch = 0, 2e-3, 128
    onehot = np.eye(classes, dtype=np.float32)[y]
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            xb, yb = x[idx], onehot[idx]
            hidden = np.maximum(0, xb @ params[0] + params[1])
            logits = hidden @ params[2] + params[3]
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            dlogits = (probs - yb) / len(idx)
            dhidden = (dlogits @ params[2].T) * (hidden > 0)
            grads = [xb.T @ dhidden + 1e-4 * params[0], dhidden.sum(0), hidden.T @ dlogits + 1e-4 * params[2],
                     dlogits.sum(0)]
            step += 1
            lr = rate * (0.5 if epoch >= epochs * 0.6 else 1.0) * (0.5 if epoch >= epochs * 0.85 else 1.0)
            for i, g in enumerate(grads):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                params[i] -= lr * (m[i] / (1 - 0.9**step)) / (np.sqrt(v[i] / (1 - 0.999**step)) + 1e-8)
    return params


def export(params: list[np.ndarray], path: Path) -> None:
    """Write the perceptron as ONNX (opset 13) with input `glyph` (N×SIDE²) and output `probabilities`."""
    names = ["w1", "b1", "w2", "b2"]
    nodes = [helper.make_node("MatMul", ["glyph", "w1"], ["h0"]),
             helper.make_node("Add", ["h0", "b1"], ["h1"]),
             helper.make_node("Relu", ["h1"], ["h2"]), helper.make_node("MatMul", ["h2", "w2"], ["l0"]),
             helper.make_node("Add", ["l0", "b2"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    graph = helper.make_graph(
        nodes, "arabic_letters",
        [helper.make_tensor_value_info("glyph", TensorProto.FLOAT, ["n", SIDE * SIDE])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", len(LETTERS)])],
        [numpy_helper.from_array(p.astype(np.float32), name) for p, name in zip(params, names, strict=True)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="basira")
    model.ir_version = 8
    helper.set_model_props(model, {"letters": LETTERS, "seed": str(SEED),
                                   "trained_on": ",".join(TRAIN_FONTS)})
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float((probabilities.argmax(axis=1) == labels).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_PATH, help="ONNX file to write (%(default)s)")
    parser.add_argument("--per-font", type=int, default=150, help="damaged copies per letter and font")
    args = parser.parse_args(argv)
    x, y = rendered_set(TRAIN_FONTS, args.per_font, SEED, test=False)
    params = train(x, y)
    export(params, args.out)
    from basira.analytics.plates.letters import ArabicLetterClassifier

    classifier = ArabicLetterClassifier(args.out)
    tx, ty = rendered_set(TEST_FONTS, 40, SEED + 1, test=True)
    print(f"train {accuracy(classifier.scores(x), y):.3f} on {len(y)}; "
          f"rendered test (other fonts and damage) {accuracy(classifier.scores(tx), ty):.3f} on {len(ty)}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
