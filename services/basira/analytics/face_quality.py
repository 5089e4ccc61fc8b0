"""Quality gates for faces: too small, too blurred or turned too far away to be compared safely.

A face that fails is not embedded or matched (live), and is refused with its reasons (enrolment):
small, blurred or profile faces are where embedders make their false matches. Pose is judged from the
detector's five landmarks (engines without landmarks skip that gate).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from basira.analytics.faces import Face


class FaceQualityConfig(BaseModel):
    """Thresholds of the gates (live faces and enrolment images use the same ones)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_size_px: int = Field(default=20, ge=8, le=1024,
                             description="Smallest face side (px) that is embedded and matched.")
    min_sharpness: float = Field(default=20.0, ge=0,
                                 description="Least variance of the Laplacian of the face, resized to "
                                 "64×64 grey (below: too blurred).")
    max_yaw: float = Field(default=0.6, gt=0, le=2,
                           description="Largest nose offset from the eyes' midpoint, in half eye "
                           "distances (0 frontal, ~1 the nose at an eye: profile).")


@dataclass(frozen=True, slots=True)
class FaceQuality:
    size_px: int
    sharpness: float
    yaw: float | None
    refusals: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.refusals


def sharpness(image_bgr: np.ndarray, face: Face) -> float:
    x, y, w, h = face.box
    crop = image_bgr[y:y + h, x:x + w]
    if crop.size == 0:
        return 0.0
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return float(cv2.Laplacian(cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA), cv2.CV_64F).var())


def yaw(face: Face) -> float | None:
    """How far the nose tip sits from the eyes' midpoint, in half eye distances; None without landmarks."""
    if len(face.landmarks) < 3:
        return None
    (rx, ry), (lx, ly), (nx, ny) = face.landmarks[:3]
    half = float(np.hypot(lx - rx, ly - ry)) / 2
    if half <= 0:
        return 2.0
    ex, ey = (lx - rx) / (2 * half), (ly - ry) / (2 * half)  # unit vector along the eye line
    return abs((nx - (rx + lx) / 2) * ex + (ny - (ry + ly) / 2) * ey) / half


def assess(image_bgr: np.ndarray, face: Face, config: FaceQualityConfig) -> FaceQuality:
    """The face's size, sharpness and yaw, and why it fails (empty when it passes)."""
    size = min(face.box[2], face.box[3])
    sharp, turned = sharpness(image_bgr, face), yaw(face)
    refusals = []
    if size < config.min_size_px:
        refusals.append(f"face too small: {size} px, at least {config.min_size_px} px needed")
    if sharp < config.min_sharpness:
        refusals.append(f"face too blurred: sharpness {sharp:.1f}, at least {config.min_sharpness:g} needed")
    if turned is not None and turned > config.max_yaw:
        refusals.append(f"face turned away (profile): yaw {turned:.2f}, at most {config.max_yaw:g} allowed")
    return FaceQuality(size, round(sharp, 2), None if turned is None else round(turned, 3), tuple(refusals))
