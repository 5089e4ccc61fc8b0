"""Search settings (env `BASIRA_*` or the `[search]` table of BASIRA_CONFIG_FILE)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from basira.common.config import ServiceSettings

DEFAULT_RETENTION_FILE = Path(__file__).resolve().parents[3] / "policy" / "basira" / "retention" / "data.json"


class SearchSettings(ServiceSettings):
    service_name_default = "search"

    default_page_size: int = Field(50, ge=1, le=1000, description="Sightings per page when none asked.")
    max_page_size: int = Field(500, ge=1, le=5000, description="Largest page a caller may ask for.")
    max_fuzzy_distance: float = Field(3.0, ge=0, le=8,
                                      description="Largest max_distance a fuzzy plate search may use.")
    default_fuzzy_distance: float = Field(1.0, ge=0, le=8,
                                          description="max_distance of a fuzzy search that sets none.")
    max_fuzzy_candidates: int = Field(5000, ge=10, description="Distinct plates ranked per fuzzy search.")
    trajectory_max_sightings: int = Field(10000, ge=10,
                                          description="Sightings read to build one trajectory.")
    max_count_buckets: int = Field(10000, ge=1, description="Largest number of count buckets returned.")
    evidence_jpeg_quality: int = Field(90, ge=30, le=100, description="JPEG quality of served evidence.")
    face_min_size_px: int = Field(24, ge=8, description="Smallest face the masking detector looks for.")
    indexer_batch: int = Field(32, ge=1, le=512, description="Messages fetched per indexer pull.")
    max_vehicle_speed_kmh: float = Field(
        250.0, gt=0, le=2000, description="A plate seen at two cameras faster than this (straight line) "
        "is flagged as an implausible jump (misread, cloned plate, wrong clock).")
    max_person_speed_kmh: float = Field(
        45.0, gt=0, le=2000, description="The same for a person followed by face (a sprint is ~35 km/h).")
    trajectory_min_distance_m: float = Field(
        50.0, ge=0, description="Cameras closer than this are one place: no speed is judged between them.")
    passage_gap_s: float = Field(
        900.0, gt=0, description="Sightings further apart in time than this start a new passage.")
    face_engine: dict[str, Any] = Field(
        default_factory=lambda: {"type": "yunet-sface"},
        description="Face engine embedding the image of a face search: the analytics engine's table.")
    face_quality: dict[str, Any] = Field(default_factory=dict, description="Quality gates the searched face "
                                         "must pass (basira.analytics.face_quality.FaceQualityConfig).")
    face_search_ef: int = Field(100, ge=10, le=1000, description=(
        "HNSW candidates visited per face search (pgvector hnsw.ef_search; at least the page size): "
        "recall against speed. At 1M faces (m 24 graph) 100 finds 0.987 of the exact matches within "
        "the threshold at p95 20 ms, 200 finds 0.995 at 34 ms; `make bench-search` measures both."))
    face_search_max_window_days: float = Field(31.0, gt=0, description=(
        "Ceiling of the time window one face search may cover (the policy's max_window_days obligation "
        "applies below it); a search without a start looks that far back."))
    retention_interval_s: float = Field(3600.0, ge=0, description=(
        "How often expired face embeddings, plate reads and snapshots are purged (0: never)."))
    retention_file: Path = Field(DEFAULT_RETENTION_FILE, description=(
        "The agreement's retention data (days per class); policy re-checks every purge against its own."))
    retention_batch: int = Field(1000, ge=1, le=100_000, description="Rows erased per purge statement.")
    retention_user: str = Field("service:retention", description="User the purge acts as in policy.")
    retention_agency: str = Field("platform", description="Agency the purge acts for in policy.")
