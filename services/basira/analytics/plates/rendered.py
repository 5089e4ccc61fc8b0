"""Synthetic plates for tests and benchmarks: Moroccan, Iraqi and two-line plates rendered from fonts.

No labelled photo of a Moroccan or Iraqi plate with a public licence is on this machine, so the read
path of their Arabic series letter is measured on plates drawn here, in scenes a camera sees
(perspective, blur, low resolution, noise, JPEG, some on a car-like background). The fonts are
those of Debian packages (licences in models/FONTS.md) that the letter classifier was NOT trained on
(PLATE_LETTER_FONTS), with damage it was not trained with, so the rendered set is unseen by it.
Layouts are drawn after public descriptions, not measured from real plates:
- Morocco: serial digits | series letter | region number, vertical bars between, black on white;
- Iraq: governorate code, series letter, five digits, on one line (`iq`) or stacked (`iq2`: code and
  letter above, the digits below);
- two-line Latin (`eu2`): letters above, digits below, as on square EU and US plates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from basira.common.plate_text import LATIN_TO_MOROCCAN, SERIES_LETTERS

FONT_DIRS = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/truetype/dejavu"),
             Path("/usr/share/fonts/truetype/liberation"))
PLATE_LETTER_FONTS = ("NotoNaskhArabic-Bold.ttf", "NotoNaskhArabic-Regular.ttf", "DejaVuSansMono-Bold.ttf",
                      "DejaVuSansCondensed.ttf")
"""Arabic fonts for the series letter: none of them is among the letter classifier's TRAIN_FONTS."""
PLATE_DIGIT_FONTS = ("LiberationSans-Bold.ttf", "LiberationSansNarrow-Bold.ttf", "DejaVuSansMono-Bold.ttf")
"""Fonts for digits and Latin letters (fonts-liberation, fonts-dejavu-core)."""

IRAQI_LETTERS = "أبجدهوزحطيكلمنسعفصقر"
MOROCCAN_SERIES = "".join(LATIN_TO_MOROCCAN.values()).replace("\u0640", "")


def find_font(name: str) -> Path:
    """The installed file of font `name`; raises FileNotFoundError naming the Debian packages."""
    for directory in FONT_DIRS:
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"font {name} not found under {[str(d) for d in FONT_DIRS]}: install "
                            "fonts-noto-core, fonts-dejavu-core, fonts-dejavu-extra and fonts-liberation")


@dataclass(frozen=True, slots=True)
class RenderedPlate:
    """A plate image (BGR uint8, the plate filling it) and its canonical key."""

    image: np.ndarray
    key: str


@dataclass(frozen=True, slots=True)
class Scene:
    """A frame holding one rendered plate: BGR uint8, the plate's box (x, y, w, h) and its key."""

    image: np.ndarray
    box: tuple[int, int, int, int]
    key: str


def _glyph(text: str, font: Path, height: int) -> Image.Image:
    """`text` in `font`, black on white, cropped to its ink and scaled to `height` px (grey PIL image)."""
    face = ImageFont.truetype(str(font), 3 * height)
    canvas = Image.new("L", (3 * height * (len(text) + 2), 6 * height), 255)
    ImageDraw.Draw(canvas).text((3 * height, 1 * height), text, font=face, fill=0)
    ink = np.asarray(canvas) < 128
    ys, xs = np.nonzero(ink)
    cropped = canvas.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    width = max(1, round(cropped.width * height / cropped.height))
    return cropped.resize((width, height), Image.Resampling.LANCZOS)


def _compose(rows: list[list[Image.Image | int]], height: int, border: int) -> np.ndarray:
    """Rows of glyph images and gaps (int px), centred on a white plate with a black border."""
    row_widths = [sum(item if isinstance(item, int) else item.width for item in row) for row in rows]
    width = max(row_widths) + 2 * height // 2
    plate_h = len(rows) * height + (len(rows) + 1) * height // 4
    plate = Image.new("L", (width, plate_h), 255)
    y = height // 4
    for row, row_width in zip(rows, row_widths, strict=True):
        x = (width - row_width) // 2
        for item in row:
            if isinstance(item, int):
                x += item
                continue
            plate.paste(item, (x, y + (height - item.height) // 2))
            x += item.width
        y += height + height // 4
    out = np.asarray(plate).copy()
    cv2.rectangle(out, (0, 0), (width - 1, plate_h - 1), 0, border)
    return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)


def _bar(height: int) -> Image.Image:
    return Image.new("L", (max(2, height // 12), int(height * 1.15)), 0)  # bars span more than the digits


def moroccan_plate(serial: str, letter: str, region: str, letter_font: str, digit_font: str,
                   height: int = 80) -> RenderedPlate:
    """`serial | letter | region` (the letter Arabic, one of the Moroccan series)."""
    digits, arabic = find_font(digit_font), find_font(letter_font)
    gap = height // 3
    row: list[Image.Image | int] = [_glyph(serial, digits, height), gap, _bar(height), gap,
                                    _glyph(letter, arabic, int(height * 0.8)), gap, _bar(height), gap,
                                    _glyph(region, digits, height)]
    key = f"{serial}{SERIES_LETTERS[letter]}{region}"
    return RenderedPlate(_compose([row], height, max(2, height // 16)), key)


def iraqi_plate(code: str, letter: str, number: str, letter_font: str, digit_font: str, stacked: bool,
                height: int = 80) -> RenderedPlate:
    """Governorate `code`, Arabic series `letter`, five-digit `number`; stacked puts the number below."""
    digits, arabic = find_font(digit_font), find_font(letter_font)
    gap = height // 3
    head: list[Image.Image | int] = [_glyph(code, digits, height), gap,
                                     _glyph(letter, arabic, int(height * 0.8))]
    tail: list[Image.Image | int] = [_glyph(number, digits, height)]
    rows = [head, tail] if stacked else [[*head, gap, *tail]]
    key = f"{code}{SERIES_LETTERS[letter]}{number}"
    return RenderedPlate(_compose(rows, height, max(2, height // 16)), key)


def two_line_plate(top: str, bottom: str, font: str, height: int = 80) -> RenderedPlate:
    """A square plate: `top` above `bottom` (Latin letters and digits)."""
    face = find_font(font)
    rows: list[list[Image.Image | int]] = [[_glyph(top, face, height)], [_glyph(bottom, face, height)]]
    return RenderedPlate(_compose(rows, height, max(2, height // 16)), f"{top}{bottom}")


def _background(rng: random.Random, size: tuple[int, int], car: bool) -> np.ndarray:
    """A street-grey or car-like (painted body, grille, bumper) background, BGR uint8."""
    height, width = size
    nprng = np.random.default_rng(rng.randrange(2**32))
    base = nprng.normal(rng.uniform(70, 170), 12, (height, width, 1)).repeat(3, axis=2)
    if car:
        paint = np.array([rng.uniform(20, 230) for _ in range(3)])
        base = np.clip(base * 0.2 + paint * 0.8, 0, 255)
        for y in range(height // 5, height // 2, max(3, height // 25)):  # grille slats
            cv2.line(base, (width // 5, y), (4 * width // 5, y), (25, 25, 25), max(1, height // 80))
        cv2.rectangle(base, (0, 3 * height // 4), (width, height), (40, 40, 45), -1)  # bumper
        cv2.circle(base, (width // 8, height // 3), height // 10, (230, 230, 210), -1)  # headlamp
    return np.clip(base, 0, 255).astype(np.uint8)


def in_scene(plate: RenderedPlate, rng: random.Random, plate_height: int, car: bool,
             frame: tuple[int, int] = (360, 640)) -> Scene:
    """`plate` at `plate_height` px high in a frame, with perspective, blur, noise and JPEG damage."""
    ph, pw = plate.image.shape[:2]
    scale = plate_height / ph
    w, h = max(8, round(pw * scale)), max(4, round(ph * scale))
    small = cv2.resize(plate.image, (w, h), interpolation=cv2.INTER_AREA)
    frame_h, frame_w = frame
    image = _background(rng, frame, car)
    x0, y0 = rng.randint(w // 4, max(w // 4, frame_w - w - w // 4)), rng.randint(h, max(h, frame_h - 2 * h))
    d = 0.06 * h
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    tilt = rng.uniform(-0.12, 0.12) * h
    dst = np.array([[x + x0 + rng.uniform(-d, d), y + y0 + rng.uniform(-d, d) + (tilt if x else 0)]
                    for x, y in src.tolist()], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(small, matrix, (frame_w, frame_h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, (frame_w, frame_h))
    image[mask > 127] = warped[mask > 127]
    sigma = rng.uniform(0.3, 1.2) * max(1.0, plate_height / 30)
    image = cv2.GaussianBlur(image, (0, 0), sigma)
    shade = rng.uniform(0.65, 1.05)
    noisy = image.astype(np.float32) * shade + np.random.default_rng(rng.randrange(2**32)).normal(
        0, rng.uniform(2, 8), image.shape)
    image = np.clip(noisy, 0, 255).astype(np.uint8)
    _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(50, 90)])
    decoded = np.asarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR), dtype=np.uint8)
    xs, ys = dst[:, 0], dst[:, 1]
    box = (int(xs.min()), int(ys.min()), int(np.ceil(xs.max() - xs.min())), int(np.ceil(ys.max() - ys.min())))
    return Scene(decoded, box, plate.key)


def random_plate(rng: random.Random, kind: str) -> RenderedPlate:
    """One random plate of `kind` ('ma', 'iq' or 'iq2') in random fonts of this module's lists."""
    letter_font, digit_font = rng.choice(PLATE_LETTER_FONTS), rng.choice(PLATE_DIGIT_FONTS)
    if kind == "ma":
        serial = str(rng.randint(1, 99999))
        return moroccan_plate(serial, rng.choice(MOROCCAN_SERIES), str(rng.randint(1, 89)), letter_font,
                              digit_font)
    code, number = f"{rng.randint(10, 99)}", f"{rng.randint(10000, 99999)}"
    letter = rng.choice(IRAQI_LETTERS)
    return iraqi_plate(code, letter, number, letter_font, digit_font, stacked=kind == "iq2")


def write_set(out: Path, count: int, seed: int) -> Path:
    """Write `count` labelled scenes (`NAME.jpg` + `NAME.txt`, the bench's label format) into `out`.

    Kinds cycle ma, ma, iq, iq2; plates 18-60 px high a line in a 640×360 frame, every third on a car.
    Skips the work if `out` already holds `count` labels made with `seed` (recorded in `seed.cfg`).
    """
    marker = out / "seed.cfg"
    if marker.is_file() and marker.read_text() == f"{seed} {count}" and len(list(out.glob("*.txt"))) == count:
        return out
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    kinds = ("ma", "ma", "iq", "iq2")
    for i in range(count):
        kind = kinds[i % len(kinds)]
        lines = 2 if kind == "iq2" else 1
        scene = in_scene(random_plate(rng, kind), rng, lines * rng.randint(18, 60), car=i % 3 == 0)
        name = f"{kind}-{i:03d}.jpg"
        cv2.imwrite(str(out / name), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        (out / f"{kind}-{i:03d}.txt").write_text("\t".join([name, *map(str, scene.box), scene.key]) + "\n",
                                                  encoding="utf-8")
    marker.write_text(f"{seed} {count}")
    return out
