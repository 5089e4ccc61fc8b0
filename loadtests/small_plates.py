"""A labelled set of small plates in 1080p street frames, made from a labelled set of close-up photos.

The shared sets are close-ups (eu median plate 26 px high, br 84 px); a 1080p or 4K street camera
sees plates 12-24 px high in a cluttered frame. Each frame here is another photo of the source set
stretched to 1920×1080 (clutter: roads, cars, signs), with one source photo's plate and its
surroundings scaled down so the plate is 12-24 px high and pasted at a random place, then lightly
blurred and JPEG-compressed like a camera stream. Same label format as the shared sets, so
`bench_plates.py --data` reads it like any other. Deterministic for a given seed.

It is made from `br` by default, not from `eu`, which is the set the engine's reading is tuned on;
`bench_plates.py` also makes one from `eu`, on which the small-plate finder (tuned on the `br` one) is
not tuned.
"""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np

FRAME = (1920, 1080)
HEIGHTS = (12, 24)
CONTEXT = (1.5, 2.5)  # the plate's surroundings kept, in plate widths / plate heights on each side


def _labels(source: Path) -> list[tuple[Path, tuple[int, int, int, int], str]]:
    out = []
    for txt in sorted(source.glob("*.txt")):
        name, x, y, w, h, plate = txt.read_text(encoding="utf-8").strip().split("\t")
        if (source / name).is_file():
            out.append((source / name, (int(x), int(y), int(w), int(h)), plate.upper()))
    return out


def _image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot decode {path}")
    return image


def make_small_plate_set(source: Path, out: Path, seed: int = 12) -> Path:
    """Write `small-N.jpg` / `small-N.txt` for every labelled photo of `source` into `out`; return `out`.

    Skips the work when `out` already holds a complete set made with the same seed.
    """
    stamp = out / "SEED"
    labels = _labels(source)
    if stamp.is_file() and stamp.read_text() == f"{seed} {len(labels)}\n":
        return out
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for index, (image_path, (x, y, w, h), plate) in enumerate(labels):
        photo = _image(image_path)
        background_path = labels[(index + 1 + rng.randrange(len(labels) - 1)) % len(labels)][0]
        background = cv2.resize(_image(background_path), FRAME, interpolation=cv2.INTER_LINEAR)
        cx0, cy0 = max(0, int(x - CONTEXT[0] * w)), max(0, int(y - CONTEXT[1] * h))
        cx1 = min(photo.shape[1], int(x + w + CONTEXT[0] * w))
        cy1 = min(photo.shape[0], int(y + h + CONTEXT[1] * h))
        target_h = rng.uniform(*HEIGHTS)
        scale = target_h / h
        patch = cv2.resize(photo[cy0:cy1, cx0:cx1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ph, pw = patch.shape[:2]
        px = rng.randrange(0, FRAME[0] - pw)
        py = rng.randrange(FRAME[1] // 3, FRAME[1] - ph)  # plates are on the road, not in the sky
        frame = background.copy()
        frame[py : py + ph, px : px + pw] = patch
        frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.3, 0.7))
        noise = np.random.default_rng(seed + index).normal(0, 3, frame.shape)
        frame = np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        name = f"small-{index:03d}.jpg"
        cv2.imwrite(str(out / name), frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
        box = (px + round((x - cx0) * scale), py + round((y - cy0) * scale),
               round(w * scale), round(h * scale))
        (out / f"small-{index:03d}.txt").write_text(f"{name}\t" + "\t".join(map(str, box)) + f"\t{plate}\n")
    stamp.write_text(f"{seed} {len(labels)}\n")
    return out
