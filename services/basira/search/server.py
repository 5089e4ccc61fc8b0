"""Wiring of the search service: indexer consumers, SearchService, its resource resolvers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc

from basira.common.auth import Subject
from basira.common.config import load_settings
from basira.common.service import ServiceHost, run_service
from basira.search.config import SearchSettings
from basira.search.events import Indexer, consumers
from basira.search.previews import preview_resolver
from basira.search.retention import RetentionPurger, retention_days
from basira.search.servicer import (
    SearchServicer,
    evidence_resolver,
    sightings_resolver,
    trajectory_resolver,
)
from basira.search.store import SearchStore
from basira.v1 import search_pb2, search_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations"
GET_EVIDENCE = "/basira.v1.SearchService/GetEvidence"
LIST_SIGHTINGS = "/basira.v1.SearchService/ListSightings"
GET_CAMERA_PREVIEW = "/basira.v1.SearchService/GetCameraPreview"
GET_TRAJECTORY = "/basira.v1.SearchService/GetTrajectory"


async def setup(host: ServiceHost) -> None:
    settings = host.settings
    assert isinstance(settings, SearchSettings)
    assert host.gate is not None
    store = SearchStore(host.db)
    for consumer in consumers(host.jetstream, Indexer(store), batch=settings.indexer_batch):
        host.loop(consumer.run)
    host.resolver(GET_EVIDENCE, evidence_resolver(store))
    host.resolver(LIST_SIGHTINGS, sightings_resolver)
    host.resolver(GET_TRAJECTORY, trajectory_resolver(store))
    host.resolver(GET_CAMERA_PREVIEW, preview_resolver(host.jetstream))
    servicer = SearchServicer(store, host.gate, settings, host.jetstream)
    if settings.retention_interval_s > 0:
        purger = RetentionPurger(store, host.gate, Subject(user=settings.retention_user,
                                                           agency=settings.retention_agency,
                                                           roles=("service",), clearance=0),
                                 retention_days(settings.retention_file), batch=settings.retention_batch)

        async def purge(stop: asyncio.Event) -> None:
            await purger.run(stop, settings.retention_interval_s)

        host.loop(purge)

    def add(server: grpc.aio.Server) -> list[str]:
        search_pb2_grpc.add_SearchServiceServicer_to_server(servicer, server)
        return [search_pb2.DESCRIPTOR.services_by_name["SearchService"].full_name]

    host.build_server(add)


def main() -> int:
    return run_service("search", load_settings(SearchSettings), setup, migrations=MIGRATIONS)
