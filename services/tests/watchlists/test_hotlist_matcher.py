"""The hotlist matcher on real NATS + PostgreSQL: detections in, match candidates out, exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js.api import DeliverPolicy

from basira.common.nats import publish
from basira.v1 import analytics_pb2, events_pb2
from basira.watchlists.events import PLATE_CANDIDATES, HotlistCache, HotlistMatcher, publish_changed
from basira.watchlists.hotlist import HotlistEntry, HotlistReason, LegalBasis, NewHotlistEntry
from basira.watchlists.store import WatchlistStore

pytestmark = pytest.mark.integration


def unique_plate() -> str:
    return "H" + uuid.uuid4().hex[:6].upper().replace("0", "7").replace("O", "P")


async def add(
    store: WatchlistStore,
    agency: str,
    plate: str,
    *,
    expires_in: timedelta = timedelta(days=1),
    tolerant: bool = False,
) -> HotlistEntry:
    now = datetime.now(UTC)
    return await store.add_hotlist_entry(
        NewHotlistEntry(
            plate=plate,
            plate_as_reported=plate,
            country="",
            reason=HotlistReason.WANTED,
            legal_basis=LegalBasis("arrest-warrant", "W-1", "court"),
            owner_agency=agency,
            expires=now + expires_in,
            confusable_tolerant=tolerant,
            note="",
        ),
        created_by="tester",
        now=now,
    )


def detection(text: str, camera: str = "cam-hot-1") -> events_pb2.PlateDetectionEvent:
    now = Timestamp()
    now.GetCurrentTime()
    return events_pb2.PlateDetectionEvent(
        id=f"frame-{uuid.uuid4().hex}:plate:0",
        frame_id="f",
        camera_id=camera,
        zone="medina",
        owner_agency="police",
        captured=now,
        frame_published=now,
        snapshot_id="snap-1",
        plate=analytics_pb2.PlateReading(text=text, display=text, country="", confidence=0.9),
    )


@pytest.fixture
async def matcher(
    watchlist_store: WatchlistStore, nats_js: tuple[Any, Any]
) -> AsyncIterator[tuple[HotlistCache, asyncio.Queue[events_pb2.MatchCandidateEvent]]]:
    """A running matcher (cache + consumer) and a queue of the candidates stored in the MATCHES stream."""
    nc, js = nats_js
    cache = HotlistCache(watchlist_store.active_hotlist)
    await cache.refresh()
    stop = asyncio.Event()
    candidates: asyncio.Queue[events_pb2.MatchCandidateEvent] = asyncio.Queue()

    async def on_candidate(msg: Any) -> None:
        await candidates.put(events_pb2.MatchCandidateEvent.FromString(msg.data))

    # An ordered JetStream consumer sees what the stream stored (after de-duplication), not raw publishes.
    sub = await js.subscribe(
        PLATE_CANDIDATES, cb=on_candidate, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
    )
    tasks = [
        asyncio.create_task(HotlistMatcher(js, cache).consumer().run(stop)),
        asyncio.create_task(cache.run(nc, stop, refresh_interval_s=60)),
    ]
    yield cache, candidates
    stop.set()
    await asyncio.wait(tasks, timeout=5)
    for task in tasks:
        task.cancel()
    with contextlib.suppress(Exception):
        await sub.unsubscribe()


async def candidates_for(
    queue: asyncio.Queue[events_pb2.MatchCandidateEvent],
    detection_id: str,
    wait_s: float,
    settle_s: float = 0.7,
) -> list[events_pb2.MatchCandidateEvent]:
    """Candidates of one detection: waits up to `wait_s` for the first, then `settle_s` for duplicates.

    Other tests' candidates are skipped.
    """
    loop = asyncio.get_running_loop()
    found: list[events_pb2.MatchCandidateEvent] = []
    deadline = loop.time() + wait_s
    while (left := deadline - loop.time()) > 0:
        try:
            event = await asyncio.wait_for(queue.get(), timeout=left)
        except TimeoutError:
            break
        if event.detection_id == detection_id:
            found.append(event)
            deadline = min(deadline, loop.time() + settle_s)
    return found


async def test_a_hotlisted_plate_becomes_one_candidate_even_when_redelivered(
    matcher: tuple[HotlistCache, Any], watchlist_store: WatchlistStore, nats_js: tuple[Any, Any], agency: str
) -> None:
    cache, queue = matcher
    _, js = nats_js
    plate = unique_plate()
    entry = await add(watchlist_store, agency, plate)
    await cache.refresh()
    event = detection(plate)
    payload = event.SerializeToString()
    await publish(js, "detections.plate.cam-hot-1", payload, event.id)
    # The same detection delivered again (e.g. a worker crashed before acking): distinct stream messages.
    await publish(js, "detections.plate.cam-hot-1", payload, event.id + "-redelivered")

    found = await candidates_for(queue, event.id, wait_s=5.0, settle_s=1.0)
    assert len(found) == 1
    candidate = found[0]
    assert candidate.id == f"{event.id}:{entry.id}"
    assert candidate.hotlist_entry.id == entry.id and candidate.hotlist_entry.owner_agency == agency
    assert (candidate.camera_id, candidate.zone, candidate.snapshot_id) == ("cam-hot-1", "medina", "snap-1")
    assert candidate.plate.text == plate and candidate.distance == 0.0
    assert candidate.frame_published == event.frame_published and candidate.seen == event.captured


async def test_look_alikes_match_only_tolerant_entries(
    matcher: tuple[HotlistCache, Any], watchlist_store: WatchlistStore, nats_js: tuple[Any, Any], agency: str
) -> None:
    cache, queue = matcher
    _, js = nats_js
    strict, tolerant = "S" + unique_plate()[1:] + "1", "T" + unique_plate()[1:] + "1"
    await add(watchlist_store, agency, strict)
    tolerant_entry = await add(watchlist_store, agency, tolerant, tolerant=True)
    await cache.refresh()
    misread_strict, misread_tolerant = detection(strict[:-1] + "I"), detection(tolerant[:-1] + "I")
    for event in (misread_strict, misread_tolerant):
        await publish(js, "detections.plate.cam-hot-1", event.SerializeToString(), event.id)
    found = await candidates_for(queue, misread_tolerant.id, wait_s=5.0)
    assert [(c.hotlist_entry.id, round(c.distance, 2)) for c in found] == [(tolerant_entry.id, 0.3)]
    assert await candidates_for(queue, misread_strict.id, wait_s=0.5) == []


async def test_expired_entries_stop_matching_before_any_reload(
    matcher: tuple[HotlistCache, Any], watchlist_store: WatchlistStore, nats_js: tuple[Any, Any], agency: str
) -> None:
    cache, queue = matcher
    _, js = nats_js
    plate = unique_plate()
    await add(watchlist_store, agency, plate, expires_in=timedelta(seconds=1))
    await cache.refresh()
    assert any(m.entry.plate == plate for m in cache.index.match(plate, "", datetime.now(UTC)))
    await asyncio.sleep(1.2)
    event = detection(plate)
    await publish(js, "detections.plate.cam-hot-1", event.SerializeToString(), event.id)
    assert await candidates_for(queue, event.id, wait_s=1.5) == []


async def test_watchlist_changed_reloads_the_hotlist(
    matcher: tuple[HotlistCache, Any], watchlist_store: WatchlistStore, nats_js: tuple[Any, Any], agency: str
) -> None:
    cache, queue = matcher
    _, js = nats_js
    version = cache.version
    plate = unique_plate()
    await add(watchlist_store, agency, plate)
    await publish_changed(js, "hotlist", datetime.now(UTC))
    for _ in range(50):
        if cache.version > version:
            break
        await asyncio.sleep(0.1)
    assert cache.version > version
    event = detection(plate)
    await publish(js, "detections.plate.cam-hot-1", event.SerializeToString(), event.id)
    assert len(await candidates_for(queue, event.id, wait_s=5.0)) == 1


async def test_undecodable_detections_are_dropped(
    nats_js: tuple[Any, Any], watchlist_store: WatchlistStore
) -> None:
    _, js = nats_js
    cache = HotlistCache(watchlist_store.active_hotlist)

    class Msg:
        subject = "detections.plate.cam-x"
        data = b"\xff\x00not-protobuf"

    from basira.common.nats import Outcome

    assert await HotlistMatcher(js, cache).handle(Msg()) is Outcome.TERM  # type: ignore[arg-type]
    Msg.data = events_pb2.PlateDetectionEvent(id="").SerializeToString()
    assert await HotlistMatcher(js, cache).handle(Msg()) is Outcome.TERM  # type: ignore[arg-type]


async def test_a_runner_up_read_hits_and_a_passage_raises_one_candidate(
    matcher: tuple[HotlistCache, Any], watchlist_store: WatchlistStore, nats_js: tuple[Any, Any], agency: str
) -> None:
    cache, queue = matcher
    _, js = nats_js
    plate = unique_plate()
    entry = await add(watchlist_store, agency, plate)
    await cache.refresh()
    passage = f"cam-hot-1:f-{uuid.uuid4().hex[:8]}:p0"
    first, second = detection("ZZ" + plate[2:] + "Q"), detection(plate)
    first.plate.alternatives.add(text=plate, display=plate, country="", confidence=0.4)
    for event in (first, second):
        event.passage_id = passage
        await publish(js, "detections.plate.cam-hot-1", event.SerializeToString(), event.id)
    found = await candidates_for(queue, first.id, wait_s=5.0, settle_s=1.0)
    assert [(c.id, c.matched_text, c.matched_alternative, c.passage_id) for c in found] == [
        (f"{passage}:{entry.id}", plate, True, passage)]
    assert await candidates_for(queue, second.id, wait_s=1.0) == [], "one candidate per passage and entry"
