"""Face search by image against real PostgreSQL (pgvector HNSW): nearest first, within the threshold,
the granted zones and a bounded time window; bad input says what is wrong."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from basira.analytics.face_path import FacePath
from basira.common.auth import Subject
from basira.common.errors import InvalidInput
from basira.common.gate import Gate
from basira.search.config import SearchSettings
from basira.search.events import Indexer
from basira.search.servicer import SearchServicer, trajectory_resolver
from basira.search.store import SearchStore
from basira.v1 import search_pb2
from services.tests.search.conftest import DetectionMsg, face_event

pytestmark = pytest.mark.integration

INVESTIGATOR = Subject(user="amina", agency="police", roles=("investigator",), clearance=2)


async def test_search_by_image_finds_the_person_where_and_when_allowed(
        search_pool: Any, gate: Gate, calling: Any, path: FacePath, shared_data: Path) -> None:
    pairs = shared_data / "faces" / "pairs"
    store = SearchStore(search_pool)
    servicer = SearchServicer(store, gate, SearchSettings())
    indexer = Indexer(store)
    zone, elsewhere = f"z-{uuid.uuid4().hex[:8]}", f"y-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    same, other = (pairs / "img21.jpg").read_bytes(), (pairs / "img16.jpg").read_bytes()
    for event in (face_event(path, same, "cam-a", zone, now - timedelta(hours=1)),
                  face_event(path, other, "cam-b", zone, now - timedelta(hours=2)),
                  face_event(path, same, "cam-c", elsewhere, now - timedelta(hours=3)),
                  face_event(path, same, "cam-d", zone, now - timedelta(days=60))):
        await indexer.handle_face(DetectionMsg(event.SerializeToString()))  # type: ignore[arg-type]

    query = search_pb2.SearchFacesRequest(image=(pairs / "img20.jpg").read_bytes())
    with calling(INVESTIGATOR, {"zones": [zone], "max_results": 20}):
        found = (await servicer.SearchFaces(query, None)).sightings
    assert [s.camera_id for s in found] == ["cam-a"]  # not the other person, zone or the old sighting
    assert found[0].kind == search_pb2.SIGHTING_KIND_FACE and 0 < found[0].distance <= 0.55
    assert found[0].face.width > 0 and not found[0].HasField("plate")

    with calling(INVESTIGATOR, {"zones": [zone, elsewhere]}):
        wider = (await servicer.SearchFaces(query, None)).sightings
    assert [s.camera_id for s in wider] == ["cam-a", "cam-c"]

    # Follow that person across cameras: biometric for the policy, their sightings in time order.
    follow = search_pb2.GetTrajectoryRequest(sighting_id=wider[0].id)
    assert await trajectory_resolver(store)(follow, INVESTIGATOR, {}) == {"data_class": "biometric"}
    with calling(INVESTIGATOR, {"zones": [zone, elsewhere]}):
        trajectory = await servicer.GetTrajectory(follow, None)
    assert [s.camera_id for s in trajectory.sightings] == ["cam-c", "cam-a"]
    assert len(trajectory.legs) == 1 and trajectory.max_speed_kmh == SearchSettings().max_person_speed_kmh

    with calling(INVESTIGATOR, {"zones": [zone]}), pytest.raises(InvalidInput, match="image is required"):
        await servicer.SearchFaces(search_pb2.SearchFacesRequest(), None)
    with calling(INVESTIGATOR, {"zones": [zone]}), pytest.raises(InvalidInput, match="2 faces"):
        await servicer.SearchFaces(search_pb2.SearchFacesRequest(image=(pairs / "couple.jpg").read_bytes()),
                                   None)
    too_wide = search_pb2.SearchFacesRequest(image=query.image)
    too_wide.scope.time.start.FromDatetime(now - timedelta(days=90))
    with calling(INVESTIGATOR, {"zones": [zone]}), pytest.raises(InvalidInput, match="at most 31 days"):
        await servicer.SearchFaces(too_wide, None)


async def test_the_policys_window_bounds_a_face_search_below_the_services_ceiling(
        search_pool: Any, gate: Gate, calling: Any, path: FacePath, shared_data: Path) -> None:
    pairs = shared_data / "faces" / "pairs"
    store = SearchStore(search_pool)
    servicer = SearchServicer(store, gate, SearchSettings())
    zone, now = f"w-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    same = (pairs / "img21.jpg").read_bytes()
    for camera, age in (("cam-today", timedelta(hours=1)), ("cam-3-days", timedelta(days=3)),
                        ("cam-40-days", timedelta(days=40))):
        event = face_event(path, same, camera, zone, now - age)
        await Indexer(store).handle_face(DetectionMsg(event.SerializeToString()))  # type: ignore[arg-type]
    query = search_pb2.SearchFacesRequest(image=(pairs / "img20.jpg").read_bytes())

    async def cameras(obligations: dict[str, Any]) -> list[str]:
        with calling(INVESTIGATOR, {"zones": [zone], **obligations}):
            return sorted(s.camera_id for s in (await servicer.SearchFaces(query, None)).sightings)

    assert await cameras({"max_window_days": 2}) == ["cam-today"]
    assert await cameras({}) == ["cam-3-days", "cam-today"]  # no limit from policy: the 31-day ceiling
    assert await cameras({"max_window_days": 90}) == ["cam-3-days", "cam-today"]  # never past the ceiling
    asked = search_pb2.SearchFacesRequest(image=query.image)
    asked.scope.time.start.FromDatetime(now - timedelta(days=5))
    with calling(INVESTIGATOR, {"zones": [zone], "max_window_days": 2}), \
            pytest.raises(InvalidInput, match="at most 2 days"):
        await servicer.SearchFaces(asked, None)
