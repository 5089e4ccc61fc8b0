"""Face vectors by dimension on real PostgreSQL: ArcFace's 512-d embeddings are indexed and searched
like SFace's 128-d ones (nearest first, one model only, the filter applied, followed by sighting id, gone
with their face); a dimension search keeps no index for is refused with a reason, not stored half."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from psycopg_pool import AsyncConnectionPool

from basira.common.errors import FailedPrecondition
from basira.common.nats import Outcome
from basira.search.domain import GrantedScope, SightingFilter
from basira.search.events import Indexer
from basira.search.store import FaceSightingIn, SearchStore
from basira.v1 import events_pb2
from services.tests.search.conftest import DetectionMsg

pytestmark = pytest.mark.integration

ARCFACE = "insightface-arcface-test"


def unit(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in values / np.linalg.norm(values))


def sighting(camera: str, seen: datetime, embedding: tuple[float, ...], model: str = ARCFACE
             ) -> FaceSightingIn:
    return FaceSightingIn(id=uuid.uuid4().hex, camera_id=camera, zone="medina", owner_agency="police",
                          seen=seen, box=None, snapshot_id="", track_id="t", model=model,
                          embedding=embedding, latitude=None, longitude=None)


async def test_arcface_embeddings_are_searched_nearest_first_within_their_model(search_pool: Any) -> None:
    rng = np.random.default_rng(512)
    store = SearchStore(search_pool)
    person, stranger = rng.standard_normal(512), rng.standard_normal(512)
    camera, now = f"cam-512-{uuid.uuid4().hex[:6]}", datetime.now(UTC)
    near = sighting(camera, now - timedelta(hours=1), unit(person + 0.3 * rng.standard_normal(512)))
    nearer = sighting(camera, now - timedelta(hours=2), unit(person + 0.1 * rng.standard_normal(512)))
    other = sighting(camera, now - timedelta(hours=3), unit(stranger))
    other_model = sighting(camera, now - timedelta(hours=4), unit(person), model="another-512-model")
    too_old = sighting(camera, now - timedelta(days=40), unit(person))
    for row in (near, nearer, other, other_model, too_old):
        assert await store.add_face_sighting(row)
    assert not await store.add_face_sighting(near)  # redelivery changes nothing

    window = SightingFilter(time_from=now - timedelta(days=31), cameras=(camera,), granted=GrantedScope())
    found = await store.search_faces(ARCFACE, unit(person), window, max_distance=0.5, limit=10,
                                     ef_search=100)
    assert [s.id for s in found] == [nearer.id, near.id]  # not the stranger, the other model, the old one
    assert 0 <= found[0].distance < found[1].distance <= 0.5

    followed = await store.face_sighting(near.id)
    assert followed is not None and followed[1] == ARCFACE
    assert np.allclose(followed[2], near.embedding, atol=1e-5)  # the 512-d vector, to follow the person

    await store.purge("search_faces", now - timedelta(days=31), 100, held=False)
    async with search_pool.connection() as conn:
        kept = await (await conn.execute("SELECT count(*) FROM search_face_vectors_512 WHERE id = %s",
                                         (too_old.id,))).fetchone()
    assert kept == (0,)  # its vector went with the face


async def test_a_dimension_without_an_index_is_refused_with_its_reason(search_pool: Any) -> None:
    store = SearchStore(search_pool)
    odd = sighting(f"cam-256-{uuid.uuid4().hex[:6]}", datetime.now(UTC), (1.0,) + (0.0,) * 255)
    with pytest.raises(FailedPrecondition, match="256-d embeddings; face search indexes only 128, 512-d"):
        await store.add_face_sighting(odd)
    with pytest.raises(FailedPrecondition, match="256-d"):
        await store.search_faces(odd.model, odd.embedding, SightingFilter(granted=GrantedScope()),
                                 max_distance=0.5, limit=10, ef_search=100)
    async with search_pool.connection() as conn:
        stored = await (await conn.execute("SELECT count(*) FROM search_faces WHERE id = %s",
                                           (odd.id,))).fetchone()
    assert stored == (0,)

    event = events_pb2.FaceDetectionEvent(id=odd.id, camera_id=odd.camera_id, model=odd.model,
                                          embedding=list(odd.embedding))
    outcome = await Indexer(store).handle_face(DetectionMsg(event.SerializeToString()))  # type: ignore[arg-type]
    assert outcome == Outcome.TERM  # never searchable: not redelivered forever


async def test_a_page_larger_than_ef_search_is_filled(search_pool: Any, postgres_url: str) -> None:
    rng = np.random.default_rng(30)
    # The HNSW index as at scale: a table this small would otherwise be scanned exactly.
    index_only = AsyncConnectionPool(postgres_url, min_size=1, max_size=1, open=False,
                                     kwargs={"autocommit": True, "options": "-c enable_seqscan=off"})
    await index_only.open()
    store, person = SearchStore(index_only), rng.standard_normal(128)
    camera, now, model = f"cam-ef-{uuid.uuid4().hex[:6]}", datetime.now(UTC), f"m-ef-{uuid.uuid4().hex[:6]}"
    for n in range(40):
        assert await store.add_face_sighting(sighting(camera, now - timedelta(minutes=n),
                                                      unit(person + 0.05 * rng.standard_normal(128)), model))
    try:
        found = await store.search_faces(model, unit(person), SightingFilter(granted=GrantedScope()),
                                         max_distance=0.5, limit=30, ef_search=10)
    finally:
        await index_only.close()
    assert len(found) == 30  # the index visits at least a page's worth, not ef_search's 10


async def test_both_face_indexes_are_built_as_measured_at_1m(search_pool: Any) -> None:
    async with search_pool.connection() as conn:
        rows = await (await conn.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s) ORDER BY relname",
            (["search_face_vectors_512_hnsw", "search_faces_hnsw"],))).fetchall()
    # The graph loadtests/bench_search_faces.py confirmed at 1M faces (migration 006).
    assert rows == [(name, ["m=24", "ef_construction=100"])
                    for name in ("search_face_vectors_512_hnsw", "search_faces_hnsw")]
