"""Search against real PostgreSQL and NATS: indexing, plate search, filters, trajectories, evidence."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from basira.common.auth import Subject
from basira.common.errors import InvalidInput, NotFound, PermissionDenied
from basira.common.gate import Gate
from basira.common.nats import connect, ensure_streams, publish
from basira.search.config import SearchSettings
from basira.search.events import Indexer, consumers, plate_sighting_from_event
from basira.search.masking import decode_jpeg
from basira.search.servicer import SearchServicer, evidence_resolver
from basira.search.store import SearchStore
from basira.v1 import analytics_pb2, common_pb2, events_pb2, search_pb2

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
INVESTIGATOR = Subject(user="amina", agency="police", roles=("investigator",), clearance=2)
OPERATOR = Subject(user="omar", agency="police", roles=("operator",), clearance=1)


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def plate_event(text: str, camera: str, zone: str, seen: datetime, *, snapshot_id: str = "",
                jpeg: bytes = b"", box: tuple[int, int, int, int] = (10, 10, 100, 25),
                event_id: str = "") -> events_pb2.PlateDetectionEvent:
    event = events_pb2.PlateDetectionEvent(
        id=event_id or uuid.uuid4().hex, frame_id=uuid.uuid4().hex, camera_id=camera, zone=zone,
        owner_agency="police", snapshot_id=snapshot_id, snapshot_jpeg=jpeg,
        plate=analytics_pb2.PlateReading(text=text, display=text, country="FR", confidence=0.9,
                                         box=common_pb2.Box(x=box[0], y=box[1], width=box[2], height=box[3])))
    event.captured.FromDatetime(seen)
    return event


async def index(store: SearchStore, *events: events_pb2.PlateDetectionEvent) -> None:
    for event in events:
        await store.add_plate_sighting(plate_sighting_from_event(event))


def scope(zone: str, *, cameras: tuple[str, ...] = (), start: datetime | None = None,
          end: datetime | None = None) -> search_pb2.SearchScope:
    s = search_pb2.SearchScope(zone=zone, camera_ids=list(cameras))
    if start:
        s.time.start.FromDatetime(start)
    if end:
        s.time.end.FromDatetime(end)
    return s


@pytest.fixture
def store(search_pool: Any) -> SearchStore:
    return SearchStore(search_pool)


@pytest.fixture
def servicer(store: SearchStore, gate: Gate) -> SearchServicer:
    return SearchServicer(store, gate, SearchSettings())


async def test_indexer_is_idempotent_on_event_id(store: SearchStore, search_pool: Any) -> None:
    zone = f"z-{_uid()}"
    event = plate_event("AB123CD", "cam-1", zone, T0, snapshot_id=f"snap-{_uid()}", jpeg=b"\xff\xd8jpeg")
    sighting = plate_sighting_from_event(event)
    assert await store.add_plate_sighting(sighting) is True
    assert await store.add_plate_sighting(sighting) is False
    async with search_pool.connection() as conn:
        rows = await (await conn.execute("SELECT count(*) FROM search_sightings WHERE zone = %s",
                                         (zone,))).fetchone()
        snaps = await (await conn.execute("SELECT count(*) FROM search_snapshots WHERE snapshot_id = %s",
                                          (event.snapshot_id,))).fetchone()
    assert rows[0] == 1 and snaps[0] == 1


async def test_indexer_consumes_plates_and_counts_from_jetstream(store: SearchStore, nats_url: str,
                                                                 search_pool: Any) -> None:
    nc, js = await connect(nats_url, "search-test")
    await ensure_streams(js)
    suffix = _uid()
    stop = asyncio.Event()
    loops = consumers(js, Indexer(store), plate_durable=f"t-idx-{suffix}", counts_durable=f"t-cnt-{suffix}",
                      deliver_new_only=True)
    tasks = [asyncio.create_task(c.run(stop)) for c in loops]
    try:
        for _ in range(50):  # the consumers exist once run() has subscribed
            try:
                await js.consumer_info("DETECTIONS", f"t-idx-{suffix}")
                await js.consumer_info("COUNTS", f"t-cnt-{suffix}")
                break
            except Exception:
                await asyncio.sleep(0.05)
        zone = f"z-{suffix}"
        event = plate_event("EF456GH", "cam-nats", zone, T0)
        # Same event id published twice under different message ids: both are delivered, one row.
        await publish(js, "detections.plate.cam-nats", event.SerializeToString(), f"{event.id}-a")
        await publish(js, "detections.plate.cam-nats", event.SerializeToString(), f"{event.id}-b")
        await publish(js, "detections.plate.cam-nats", b"\x00not a protobuf", uuid.uuid4().hex)
        count = events_pb2.CountEvent(id=uuid.uuid4().hex, camera_id=f"cam-{suffix}", zone=zone,
                                      vehicles=7, persons=2, frames=60)
        count.minute.FromDatetime(T0 + timedelta(seconds=17))
        await publish(js, f"counts.cam-{suffix}", count.SerializeToString(), count.id)
        for _ in range(100):
            async with search_pool.connection() as conn:
                n = (await (await conn.execute("SELECT count(*) FROM search_sightings WHERE zone = %s",
                                               (zone,))).fetchone())[0]
                c = (await (await conn.execute("SELECT count(*) FROM search_counts WHERE camera_id = %s",
                                               (f"cam-{suffix}",))).fetchone())[0]
            if n and c:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # let the duplicate be handled too
        async with search_pool.connection() as conn:
            n = (await (await conn.execute("SELECT count(*) FROM search_sightings WHERE zone = %s",
                                           (zone,))).fetchone())[0]
        assert n == 1 and c == 1
        info = await js.consumer_info("DETECTIONS", f"t-idx-{suffix}")
        assert info.num_ack_pending == 0 and info.num_pending == 0  # poison message termed, not retried
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await nc.close()


async def test_exact_and_fuzzy_plate_search(store: SearchStore, servicer: SearchServicer,
                                            calling: Any) -> None:
    zone = f"z-{_uid()}"
    plates = ["AB123CD", "A8123CD", "AB123C0", "AB124CD", "AB12CD", "XY999ZZ", "RK099AN"]
    await index(store, *(plate_event(p, f"cam-{i}", zone, T0 + timedelta(minutes=i))
                         for i, p in enumerate(plates)))

    async def found(plate: str, mode: int, max_distance: float = 0.0) -> dict[str, float]:
        with calling(OPERATOR):
            response = await servicer.SearchPlates(search_pb2.SearchPlatesRequest(
                plate=plate, mode=mode, max_distance=max_distance, scope=scope(zone)), None)
        return {s.plate.text: round(s.distance, 3) for s in response.sightings}

    assert await found("ab-123-cd", search_pb2.PLATE_MATCH_MODE_EXACT) == {"AB123CD": 0.0}
    assert await found("RKO99AN", search_pb2.PLATE_MATCH_MODE_EXACT) == {}
    assert await found("RKO99AN", search_pb2.PLATE_MATCH_MODE_FUZZY, 0.3) == {"RK099AN": 0.3}  # O/0
    assert await found("AB123CD", search_pb2.PLATE_MATCH_MODE_FUZZY, 0.5) == {
        "AB123CD": 0.0, "A8123CD": 0.3, "AB123C0": 0.3}  # B/8 and D/0 found, a real typo is not
    assert await found("AB123CD", search_pb2.PLATE_MATCH_MODE_FUZZY, 1.0) == {
        "AB123CD": 0.0, "A8123CD": 0.3, "AB123C0": 0.3, "AB124CD": 1.0, "AB12CD": 1.0}
    with pytest.raises(InvalidInput):
        await found("AB123CD", search_pb2.PLATE_MATCH_MODE_FUZZY, 9.0)
    with pytest.raises(InvalidInput):
        await found("@@", search_pb2.PLATE_MATCH_MODE_EXACT)


async def test_time_camera_zone_and_granted_scope_filters(store: SearchStore, servicer: SearchServicer,
                                                          calling: Any) -> None:
    zone, other = f"z-{_uid()}", f"y-{_uid()}"
    await index(store,
                plate_event("CD456EF", "cam-a", zone, T0),
                plate_event("CD456EF", "cam-b", zone, T0 + timedelta(hours=1)),
                plate_event("CD456EF", "cam-a", zone, T0 + timedelta(hours=2)),
                plate_event("CD456EF", "cam-c", other, T0 + timedelta(hours=3)))

    async def cameras(s: search_pb2.SearchScope, obligations: dict[str, Any] | None = None) -> list[str]:
        with calling(OPERATOR, obligations):
            response = await servicer.SearchPlates(search_pb2.SearchPlatesRequest(
                plate="CD456EF", mode=search_pb2.PLATE_MATCH_MODE_EXACT, scope=s), None)
        return [x.camera_id for x in response.sightings if x.zone in (zone, other)]

    assert await cameras(scope(zone)) == ["cam-a", "cam-b", "cam-a"]  # newest first
    window = scope(zone, start=T0 + timedelta(minutes=30), end=T0 + timedelta(hours=2))
    assert await cameras(window) == ["cam-b"]  # start inclusive, end exclusive
    assert await cameras(scope(zone, cameras=("cam-a",))) == ["cam-a", "cam-a"]
    assert await cameras(scope("", cameras=("cam-c", "cam-b"))) == ["cam-c", "cam-b"]
    assert await cameras(scope("", cameras=("cam-a", "cam-c")), {"zones": [other]}) == ["cam-c"]
    assert await cameras(scope("", cameras=("cam-a", "cam-c")), {"zones": [], "cameras": ["cam-a"]}) == [
        "cam-a", "cam-a"]
    with pytest.raises(InvalidInput):
        await cameras(scope(zone, start=T0, end=T0))


async def test_paging_walks_every_sighting_once(store: SearchStore, servicer: SearchServicer,
                                                calling: Any) -> None:
    zone = f"z-{_uid()}"
    await index(store, *(plate_event("GH789IJ", f"cam-{i % 2}", zone, T0 + timedelta(minutes=i % 3))
                         for i in range(7)))
    seen: list[str] = []
    token = ""
    pages = 0
    first_token = ""
    while True:
        with calling(OPERATOR, {"max_results": 3}):
            response = await servicer.ListSightings(search_pb2.ListSightingsRequest(
                scope=scope(zone), page=common_pb2.PageRequest(page_size=10, page_token=token)), None)
        pages += 1
        assert len(response.sightings) <= 3  # page size follows the max_results obligation
        seen.extend(s.id for s in response.sightings)
        token = response.page.next_page_token
        first_token = first_token or token
        if not token:
            break
    assert pages == 3 and len(seen) == 7 == len(set(seen))
    with calling(OPERATOR, {"max_results": 3}):  # faces are listed from their own table: no plates
        faces = await servicer.ListSightings(search_pb2.ListSightingsRequest(
            kind=search_pb2.SIGHTING_KIND_FACE, scope=scope(zone)), None)
    assert not faces.sightings and not faces.page.next_page_token
    with calling(OPERATOR, {"max_results": 3}), pytest.raises(InvalidInput):  # only for its own query
        await servicer.ListSightings(search_pb2.ListSightingsRequest(
            scope=scope(f"other-{zone}"), page=common_pb2.PageRequest(page_token=first_token)), None)


async def test_trajectory_collapses_consecutive_sightings_at_a_camera(store: SearchStore,
                                                                      servicer: SearchServicer,
                                                                      calling: Any) -> None:
    zone = f"z-{_uid()}"
    route = ["cam-a", "cam-a", "cam-b", "cam-b", "cam-b", "cam-a", "cam-c"]
    events = [plate_event("JK321LM", cam, zone, T0 + timedelta(minutes=i)) for i, cam in enumerate(route)]
    await index(store, *reversed(events))  # indexing order does not matter, time does
    with calling(INVESTIGATOR):
        by_plate = await servicer.GetTrajectory(search_pb2.GetTrajectoryRequest(plate="JK-321-LM",
                                                                                scope=scope(zone)), None)
        by_sighting = await servicer.GetTrajectory(search_pb2.GetTrajectoryRequest(
            sighting_id=events[3].id, scope=scope(zone)), None)
        with pytest.raises(NotFound):
            await servicer.GetTrajectory(search_pb2.GetTrajectoryRequest(sighting_id="nope"), None)
    assert [s.camera_id for s in by_plate.sightings] == ["cam-a", "cam-b", "cam-a", "cam-c"]
    assert [s.id for s in by_plate.sightings] == [events[0].id, events[2].id, events[5].id, events[6].id]
    assert list(by_sighting.sightings) == list(by_plate.sightings)


async def test_evidence_is_masked_by_default(store: SearchStore, servicer: SearchServicer, calling: Any,
                                             eu_plate: tuple[bytes, tuple[int, int, int, int], str]) -> None:
    jpeg, (x, y, w, h), text = eu_plate
    snapshot_id = f"snap-{_uid()}"
    await index(store, plate_event(text, "cam-medina-01", "medina", T0, snapshot_id=snapshot_id, jpeg=jpeg,
                                   box=(x, y, w, h)))
    with calling(OPERATOR):
        response = await servicer.GetEvidence(search_pb2.GetEvidenceRequest(snapshot_id=snapshot_id), None)
    assert response.plates_masked and response.faces_masked and response.camera_id == "cam-medina-01"
    original = decode_jpeg(jpeg).astype(np.int16)
    served = decode_jpeg(response.image).astype(np.int16)
    plate_diff = np.abs(original[y:y + h, x:x + w] - served[y:y + h, x:x + w]).mean()
    corner_diff = np.abs(original[:150, :200] - served[:150, :200]).mean()
    assert plate_diff > 10 and corner_diff < 3
    with calling(OPERATOR), pytest.raises(NotFound):
        await servicer.GetEvidence(search_pb2.GetEvidenceRequest(snapshot_id="missing"), None)
    with calling(OPERATOR, {"zones": ["port"]}), pytest.raises(NotFound):  # outside the granted scope
        await servicer.GetEvidence(search_pb2.GetEvidenceRequest(snapshot_id=snapshot_id), None)


async def test_unmask_is_an_authorised_and_logged_act(store: SearchStore, servicer: SearchServicer,
                                                      calling: Any, policy: Any, audit: Any,
                                                      eu_plate: tuple[bytes, tuple[int, int, int, int], str]
                                                      ) -> None:
    jpeg, box, text = eu_plate
    snapshot_id = f"snap-{_uid()}"
    await index(store, plate_event(text, "cam-medina-02", "medina", T0, snapshot_id=snapshot_id, jpeg=jpeg,
                                   box=box))
    request = search_pb2.GetEvidenceRequest(snapshot_id=snapshot_id, unmask=True)
    context = {"purpose": "theft-investigation", "case_id": "CASE-2026-0042",
               "authorization": {"id": "ORD-1"}}
    with calling(INVESTIGATOR, context=context):
        response = await servicer.GetEvidence(request, None)
    assert not response.plates_masked and not response.faces_masked
    assert response.image == jpeg  # nothing masked: the stored evidence as it was taken
    act = [i for i in policy.inputs if i["action"] == "evidence.unmask"]
    assert len(act) == 1
    assert act[0]["resource"]["snapshot_id"] == snapshot_id
    assert act[0]["resource"]["zone"] == "medina" and act[0]["resource"]["cameras"] == ["cam-medina-02"]
    assert act[0]["context"]["case_id"] == "CASE-2026-0042"
    logged = [r for r in audit.records if r.action == "evidence.unmask"]
    assert len(logged) == 1 and logged[0].allowed and logged[0].user == "amina"

    with calling(OPERATOR, context=context), pytest.raises(PermissionDenied):  # not an investigator
        await servicer.GetEvidence(request, None)
    assert [r.allowed for r in audit.records if r.action == "evidence.unmask"] == [True, False]

    policy.obligations = {"mask_plates": True}  # allowed, but the decision still obliges plate masking
    with calling(INVESTIGATOR, context=context):
        forced = await servicer.GetEvidence(request, None)
    assert forced.plates_masked and not forced.faces_masked and forced.image != jpeg


async def test_evidence_resolver_tells_policy_where_the_snapshot_was_taken(
        store: SearchStore, eu_plate: tuple[bytes, tuple[int, int, int, int], str]) -> None:
    jpeg, box, text = eu_plate
    snapshot_id = f"snap-{_uid()}"
    await index(store, plate_event(text, "cam-port-01", "port", T0, snapshot_id=snapshot_id, jpeg=jpeg,
                                   box=box))
    resolve = evidence_resolver(store)
    extra = await resolve(search_pb2.GetEvidenceRequest(snapshot_id=snapshot_id, unmask=True), OPERATOR, {})
    assert extra == {"cameras": ["cam-port-01"], "zone": "port", "owner_agency": "police",
                     "unmask_requested": True}
    assert await resolve(search_pb2.GetEvidenceRequest(snapshot_id="missing"), OPERATOR, {}) == {
        "unmask_requested": False}


async def test_counts_upsert_per_camera_minute(store: SearchStore, servicer: SearchServicer,
                                               calling: Any) -> None:
    camera = f"cam-{_uid()}"
    await store.upsert_count("e1", camera, "medina", T0, 3, 1, 30)
    await store.upsert_count("e2", camera, "medina", T0, 9, 4, 60)  # the fuller bucket replaces it
    await store.upsert_count("e1", camera, "medina", T0, 3, 1, 30)  # a late redelivery does not
    await store.upsert_count("e3", camera, "medina", T0 + timedelta(minutes=1), 5, 0, 60)
    with calling(OPERATOR):
        response = await servicer.GetCounts(search_pb2.GetCountsRequest(camera_ids=[camera]), None)
    assert [(b.vehicles, b.persons) for b in response.buckets] == [(9, 4), (5, 0)]
    with calling(OPERATOR, {"zones": ["port"]}):
        outside = await servicer.GetCounts(search_pb2.GetCountsRequest(camera_ids=[camera]), None)
    assert list(outside.buckets) == []


