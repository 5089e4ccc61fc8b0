"""Masking on real photos: plate boxes from the ground truth and faces found by the Haar cascade."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from basira.search.domain import Rect
from basira.search.masking import decode_jpeg, find_faces_in_jpeg, pixelate, render_evidence


def plate_sample(shared_data: Path, name: str = "eu1") -> tuple[bytes, Rect]:
    """A real road photo and its plate box from the benchmark's .txt (x, y, width, height)."""
    fields = (shared_data / "plates" / "eu" / f"{name}.txt").read_text().split("\t")
    x, y, w, h = (int(v) for v in fields[1:5])
    return (shared_data / "plates" / "eu" / f"{name}.jpg").read_bytes(), Rect(x, y, w, h)


def _region(image: np.ndarray, r: Rect) -> np.ndarray:
    return image[r.y:r.y + r.height, r.x:r.x + r.width].astype(np.int16)


def _detail(region: np.ndarray) -> float:
    """Fine structure (what makes characters legible): variance of the Laplacian."""
    gray = cv2.cvtColor(region.astype(np.uint8), cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def test_plate_box_is_pixelated_and_the_rest_is_kept(shared_data: Path) -> None:
    jpeg, box = plate_sample(shared_data)
    original = decode_jpeg(jpeg)
    result = render_evidence(jpeg, [box], [], mask_faces=False, mask_plates=True, quality=95)
    masked = decode_jpeg(result.jpeg)
    assert result.plates_masked and not result.faces_masked
    before, after = _region(original, box), _region(masked, box)
    assert np.abs(before - after).mean() > 10  # the plate pixels really changed
    assert _detail(after) < _detail(before) / 5  # and lost the strokes of the characters
    far = Rect(0, 0, 200, 150)  # a corner far from the plate: only JPEG noise
    assert np.abs(_region(original, far) - _region(masked, far)).mean() < 3


def test_nothing_to_mask_returns_the_stored_bytes(shared_data: Path) -> None:
    jpeg, box = plate_sample(shared_data, "eu2")
    assert render_evidence(jpeg, [box], [], mask_faces=False, mask_plates=False).jpeg == jpeg


def test_faces_are_found_and_masked(shared_data: Path) -> None:
    jpeg = (shared_data / "faces" / "pairs" / "selfie-many-people.jpg").read_bytes()
    faces = find_faces_in_jpeg(jpeg)
    assert len(faces) >= 3
    original = decode_jpeg(jpeg)
    masked = decode_jpeg(render_evidence(jpeg, [], faces, mask_faces=True, mask_plates=False).jpeg)
    for face in faces:
        assert np.abs(_region(original, face) - _region(masked, face)).mean() > 8


def test_faces_are_found_alike_from_many_threads_at_once(shared_data: Path) -> None:
    """Evidence requests mask faces concurrently; a cascade shared between threads crashed search."""
    jpeg = (shared_data / "faces" / "pairs" / "selfie-many-people.jpg").read_bytes()
    alone = find_faces_in_jpeg(jpeg)
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(lambda _: find_faces_in_jpeg(jpeg), range(24)))
    assert all(set(found) == set(alone) for found in together)  # the order may differ


def test_pixelate_clips_boxes_at_the_border() -> None:
    image = np.random.default_rng(1).integers(0, 255, (100, 120, 3), dtype=np.uint8)
    assert pixelate(image, [Rect(100, 80, 50, 50), Rect(500, 500, 10, 10)]) == 1
