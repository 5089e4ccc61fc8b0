"""The face a search looks for: the uploaded image through the platform's face path (one face, gated).

Search embeds with the same engine and gates as analytics (configuration `face_engine`), so its vector
compares with the indexed ones; the engine is built on first use and its absence only fails SearchFaces.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from basira.analytics.face_path import FacePath
from basira.analytics.face_quality import FaceQualityConfig
from basira.analytics.faces import FaceEmbedding, LazyFaceEngine
from basira.analytics.images import decode_upload
from basira.common.errors import ConfigError, InvalidInput
from basira.ingest.frames import FrameLimits
from basira.search.domain import SightingFilter


class FaceQuery:
    """Embeds search images on a private lock (one at a time: a search is rare, the engine heavy)."""

    def __init__(self, engine: Mapping[str, Any], quality: Mapping[str, Any],
                 limits: FrameLimits | None = None) -> None:
        self._engine = LazyFaceEngine(dict(engine))
        try:
            self._quality = FaceQualityConfig.model_validate(dict(quality))
        except ValueError as exc:
            raise ConfigError(f"face_quality is invalid: {exc}") from exc
        self._limits = limits or FrameLimits()
        self._lock = threading.Lock()

    def engine_model(self) -> tuple[str, float]:
        """(the configured engine's model, its match distance); FailedPrecondition if it is unavailable."""
        engine = self._engine.get()
        return engine.model, engine.match_distance

    def embed(self, image: bytes) -> tuple[FaceEmbedding, float]:
        """(the one face's embedding, the engine's match distance); InvalidInput saying why not."""
        if not image:
            raise InvalidInput("image is required: a photo showing the face to look for", field="image")
        pixels = decode_upload(image, self._limits, "image")
        with self._lock:
            path = FacePath(self._engine.get(), self._quality)
            return path.enrolment(pixels, "image"), path.match_distance


def window_days(obligations: Mapping[str, Any], ceiling: float) -> float:
    """How far one face answer may look: the policy's `max_window_days` for this call, never beyond
    the service's own ceiling (`face_search_max_window_days`)."""
    granted = obligations.get("max_window_days")
    if isinstance(granted, int | float) and not isinstance(granted, bool) and granted > 0:
        return min(float(granted), ceiling)
    return ceiling


def bounded_window(flt: SightingFilter, now: datetime, max_days: float) -> SightingFilter:
    """The filter with a time window of at most `max_days` (a missing start looks that far back)."""
    longest = timedelta(days=max_days)
    end = flt.time_to or now
    start = flt.time_from or end - longest
    if end - start > longest:
        raise InvalidInput(f"scope.time covers {(end - start).days} days; a face search may cover at most "
                           f"{max_days:g} days", field="scope.time")
    return SightingFilter(time_from=start, time_to=flt.time_to, cameras=flt.cameras, zone=flt.zone,
                          granted=flt.granted)
