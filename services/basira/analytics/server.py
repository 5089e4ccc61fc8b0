"""Wiring of the analytics process: AnalyticsService + WatchlistService, frame workers, hotlist matcher.

Watchlists is its own package with its own tables (`watchlists_*`), hosted here; analytics itself has
no tables, so this process opens the database only for the watchlists and migrates them itself.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import grpc

from basira.analytics.config import AnalyticsSettings
from basira.analytics.count_checkpoints import CheckpointStore
from basira.analytics.counting import CameraCounting, counter_factory
from basira.analytics.engines import EngineThreads, ThreadedFaceEmbedder
from basira.analytics.events import FrameWorker
from basira.analytics.face_events import FaceDetections
from basira.analytics.face_quality import FaceQualityConfig
from basira.analytics.faces import LazyFaceEngine
from basira.analytics.plates.engine import create_plate_engine
from basira.analytics.previews import PreviewPublisher
from basira.analytics.servicer import SERVICE_NAME as ANALYTICS_SERVICE
from basira.analytics.servicer import AnalyticsServicer
from basira.common.config import load_settings
from basira.common.db import migrate, open_pool
from basira.common.errors import BasiraError, ConfigError
from basira.common.service import ServiceHost, run_service
from basira.ingest.frames import FrameLimits
from basira.v1 import analytics_pb2_grpc, watchlist_pb2_grpc
from basira.watchlists.events import HotlistCache, HotlistMatcher, ListCache
from basira.watchlists.face_matching import FaceMatcher, face_cache
from basira.watchlists.servicer import SERVICE_NAME as WATCHLIST_SERVICE
from basira.watchlists.servicer import WatchlistServicer, resource_resolvers
from basira.watchlists.store import WatchlistStore

WATCHLIST_MIGRATIONS = Path(__file__).resolve().parents[1] / "watchlists" / "migrations"

log = logging.getLogger(__name__)


async def setup(host: ServiceHost) -> None:
    settings = host.settings
    assert isinstance(settings, AnalyticsSettings)
    if host.pool is None:
        if not settings.database_url:
            raise ConfigError("analytics hosts the watchlists and needs BASIRA_DATABASE_URL")
        host.pool = await open_pool(settings.database_url)
    await migrate(host.db, "watchlists", WATCHLIST_MIGRATIONS)

    limits = FrameLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
    threads = EngineThreads(settings.engine_threads, "engine")
    plates = create_plate_engine(settings.plate_engine)
    faces = LazyFaceEngine(settings.face_engine)
    thresholds: dict[str, float] = {}
    try:
        engine = faces.get()
        thresholds[engine.model] = engine.match_distance
    except BasiraError as exc:  # plates and hotlists still work; the face RPCs answer FailedPrecondition
        log.error("face engine unavailable: %s", exc.message)
    try:
        quality = FaceQualityConfig.model_validate(settings.face_quality)
    except ValueError as exc:
        raise ConfigError(f"face_quality is invalid: {exc}") from exc

    store = WatchlistStore(host.db)
    analytics = AnalyticsServicer(plates, faces, threads, limits)
    watchlists = WatchlistServicer(store, host.jetstream,
                                   ThreadedFaceEmbedder(faces, threads, limits, quality))
    for method, resolver in resource_resolvers(store).items():
        host.resolver(method, resolver)

    if settings.frame_workers:
        counting = CameraCounting(counter_factory(settings.counting),
                                  idle_close_s=settings.count_idle_close_s)
        previews = PreviewPublisher(host.jetstream, interval_s=settings.preview_interval_s)
        face_detections = (FaceDetections(host.jetstream, faces, threads, quality=quality,
                                          track_gap_s=settings.face_track_gap_s)
                           if settings.face_detection else None)
        worker = FrameWorker(host.jetstream, plates, threads, counting, limits=limits,
                             max_in_flight=settings.frames_in_flight, previews=previews,
                             faces=face_detections, checkpoints=CheckpointStore(host.jetstream))
        await worker.resume_counts()  # a killed worker's open minutes go on before any frame is taken
        host.loop(worker.consumer().run)
        host.loop(worker.close_idle_buckets)

    if settings.hotlist_matcher:
        cache = HotlistCache(store.active_hotlist, max_distance=settings.hotlist_max_distance)
        await cache.refresh()
        nc = host.nc
        assert nc is not None

        async def keep_hotlist_fresh(stop: asyncio.Event) -> None:
            await cache.run(nc, stop, refresh_interval_s=settings.hotlist_refresh_s)

        host.loop(keep_hotlist_fresh)
        host.loop(HotlistMatcher(host.jetstream, cache).consumer().run)

    if settings.face_matcher:
        await _start_face_matcher(host, settings, face_cache(store.active_faces, thresholds))

    def add(server: grpc.aio.Server) -> list[str]:
        analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(analytics, server)
        watchlist_pb2_grpc.add_WatchlistServiceServicer_to_server(watchlists, server)
        return [ANALYTICS_SERVICE, WATCHLIST_SERVICE]

    host.build_server(add)


async def _start_face_matcher(host: ServiceHost, settings: AnalyticsSettings,
                              cache: ListCache[Any, Any]) -> None:
    """Live face matching against the watchlists, its index kept fresh like the hotlist's."""
    await cache.refresh()
    nc = host.nc
    assert nc is not None

    async def keep_fresh(stop: asyncio.Event) -> None:
        await cache.run(nc, stop, refresh_interval_s=settings.hotlist_refresh_s)

    host.loop(keep_fresh)
    host.loop(FaceMatcher(host.jetstream, cache).consumer().run)


def main() -> int:
    try:
        settings = load_settings(AnalyticsSettings)
    except ConfigError as exc:
        log.error("cannot start: %s", exc)
        return 2
    return run_service("analytics", settings, setup)
