"""Analytics settings (env `BASIRA_*` or the `[analytics]` table of BASIRA_CONFIG_FILE).

Engine settings are tables whose `type` picks the plugin, e.g.
`BASIRA_PLATE_ENGINE='{"type": "rapidocr", "det_max_side": 960}'`; each engine validates its own table.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from basira.common.config import ServiceSettings
from basira.ingest.frames import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS


class AnalyticsSettings(ServiceSettings):
    service_name_default: ClassVar[str] = "analytics"

    plate_engine: dict[str, Any] = Field(default_factory=lambda: {"type": "rapidocr"},
                                         description="Plate engine table; `type` is one of "
                                         "basira.analytics.plates.engine.plate_engine_types().")
    face_engine: dict[str, Any] = Field(default_factory=lambda: {"type": "yunet-sface"},
                                        description="Face engine table; `type` 'yunet-sface' (default), "
                                        "'dlib' or 'insightface' (needs `model_dir`).")
    face_detection: bool = Field(default=True, description="Detect, gate, embed and publish the faces of "
                                 "analysed frames (detections.face.<camera>).")
    face_quality: dict[str, Any] = Field(default_factory=dict, description="Face quality gates "
                                         "(basira.analytics.face_quality.FaceQualityConfig).")
    face_track_gap_s: float = Field(default=4.0, gt=0, description="A face track unseen this long ends: "
                                    "the next sighting is a new passage (a new candidate).")
    face_matcher: bool = Field(default=True, description="Match face detections against the watchlists.")
    counting: dict[str, Any] = Field(default_factory=lambda: {"type": "detector"},
                                     description="People/vehicle counter table; `type` 'detector' (a "
                                     "person/vehicle detector with tracking) or 'mog2-line' (motion only, "
                                     "every moving object is a vehicle).")
    engine_threads: int = Field(
        default=2, ge=1, le=64, description="Threads running plate/face engines at once.")
    frame_workers: bool = Field(
        default=True, description="Consume frames.> (off: RPCs and hotlist matching only).")
    frames_in_flight: int = Field(default=4, ge=1, le=256, description="Frames one copy handles at once.")
    max_image_bytes: int = Field(
        default=DEFAULT_MAX_BYTES, ge=1024, description="Largest image or frame accepted (bytes).")
    max_image_pixels: int = Field(
        default=DEFAULT_MAX_PIXELS, ge=1024, description="Most pixels in an image or frame.")
    count_idle_close_s: float = Field(
        default=90.0, gt=0,
        description="A camera silent this long has its open minute bucket closed and published.")
    preview_interval_s: float = Field(
        default=2.0, ge=0, description="At most one camera-wall preview per camera this often (0: none).")
    hotlist_matcher: bool = Field(default=True, description="Match plate detections against the hotlist.")
    hotlist_refresh_s: float = Field(
        default=30.0, gt=0, description="Reload the hotlist at least this often (seconds).")
    hotlist_max_distance: float = Field(
        default=0.6, ge=0, le=3,
        description="Look-alike edit distance accepted for confusable-tolerant entries (0.3 per look-alike).")
