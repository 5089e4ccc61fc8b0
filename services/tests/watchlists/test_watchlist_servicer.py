"""WatchlistService methods called directly (the gate's context set by hand) on real PostgreSQL + NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from basira.analytics.engines import EngineThreads, ThreadedFaceEmbedder
from basira.analytics.faces import LazyFaceEngine
from basira.common import gate
from basira.common.auth import Subject
from basira.common.errors import InvalidInput, NotFound, PermissionDenied
from basira.ingest.frames import FrameLimits
from basira.v1 import common_pb2, events_pb2, watchlist_pb2
from basira.watchlists.events import WATCHLIST_CHANGED
from basira.watchlists.servicer import WatchlistServicer, resource_resolvers
from basira.watchlists.store import WatchlistStore
from services.tests.support.protos import timestamp, with_fields

pytestmark = pytest.mark.integration

NO_CONTEXT: Any = None  # servicers are called directly; they never touch the gRPC context


@pytest.fixture(scope="module")
def face_threads() -> Iterator[EngineThreads]:
    threads = EngineThreads(1, "test-faces")
    yield threads
    threads.shutdown()


@pytest.fixture(scope="module")
def faces() -> LazyFaceEngine:
    return LazyFaceEngine({"type": "dlib"})


@pytest.fixture
def servicer(
    watchlist_store: WatchlistStore,
    nats_js: tuple[Any, Any],
    faces: LazyFaceEngine,
    face_threads: EngineThreads,
) -> WatchlistServicer:
    return WatchlistServicer(
        watchlist_store, nats_js[1], ThreadedFaceEmbedder(faces, face_threads, FrameLimits())
    )


@pytest.fixture
def as_officer(agency: str) -> Iterator[Subject]:
    subject = Subject(user="officer-7", agency=agency, roles=("hotlist-editor",), clearance=2)
    token = gate.current_subject.set(subject)
    yield subject
    gate.current_subject.reset(token)


def add_request(plate: str = "XY123ZZ", **changes: Any) -> watchlist_pb2.AddHotlistPlateRequest:
    entry = watchlist_pb2.HotlistEntry(
        plate=plate,
        reason=watchlist_pb2.HOTLIST_REASON_STOLEN,
        owner_agency="spoofed-agency",
        legal_basis=watchlist_pb2.LegalBasis(
            kind="stolen-vehicle-report", reference="PV-1", issued_by="police"
        ),
        expires=timestamp(datetime.now(UTC) + timedelta(days=7)),
        confusable_tolerant=True,
    )
    return watchlist_pb2.AddHotlistPlateRequest(entry=with_fields(entry, **changes))


async def test_add_normalises_takes_the_callers_agency_and_announces(
    servicer: WatchlistServicer, as_officer: Subject, nats_js: tuple[Any, Any]
) -> None:
    nc, _ = nats_js
    changed: asyncio.Queue[events_pb2.WatchlistChangedEvent] = asyncio.Queue()

    async def on_changed(msg: Any) -> None:
        await changed.put(events_pb2.WatchlistChangedEvent.FromString(msg.data))

    sub = await nc.subscribe(WATCHLIST_CHANGED, cb=on_changed)
    plate = f"ab-{uuid.uuid4().int % 1000:03d}-{uuid.uuid4().hex[:2]}".replace("0", "7")
    response = await servicer.AddHotlistPlate(add_request(plate), NO_CONTEXT)
    assert response.entry.plate == plate.replace("-", "").upper()
    assert response.entry.owner_agency == as_officer.agency
    assert response.entry.id and response.entry.created.seconds > 0
    event = await asyncio.wait_for(changed.get(), timeout=5)
    assert event.list == "hotlist" and event.id
    await sub.unsubscribe()

    listed = await servicer.ListHotlist(
        watchlist_pb2.ListHotlistRequest(page=common_pb2.PageRequest(page_size=1000)), NO_CONTEXT
    )
    assert response.entry.id in {e.id for e in listed.entries}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"plate": "AB 12€"}, "entry.plate"),
        ({"plate": ""}, "entry.plate"),
        ({"reason": watchlist_pb2.HOTLIST_REASON_UNSPECIFIED}, "entry.reason"),
        ({"legal_basis": None}, "entry.legal_basis"),
        ({"expires": None}, "entry.expires"),
    ],
)
async def test_add_refuses_incomplete_entries_naming_the_field(
    servicer: WatchlistServicer, as_officer: Subject, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await servicer.AddHotlistPlate(add_request(**changes), NO_CONTEXT)
    assert caught.value.field == field


async def test_expired_entry_is_refused(servicer: WatchlistServicer, as_officer: Subject) -> None:
    past = timestamp(datetime.now(UTC) - timedelta(minutes=1))
    with pytest.raises(InvalidInput) as caught:
        await servicer.AddHotlistPlate(add_request(expires=past), NO_CONTEXT)
    assert caught.value.field == "entry.expires"


async def test_remove_needs_a_reason_and_the_owner(
    servicer: WatchlistServicer, as_officer: Subject, watchlist_store: WatchlistStore
) -> None:
    added = (await servicer.AddHotlistPlate(add_request(f"RM{uuid.uuid4().hex[:5]}"), NO_CONTEXT)).entry
    resolvers = resource_resolvers(watchlist_store)
    resolved = await resolvers["/basira.v1.WatchlistService/RemoveHotlistPlate"](
        watchlist_pb2.RemoveHotlistPlateRequest(entry_id=added.id), as_officer, {}
    )
    assert resolved == {"owner_agency": as_officer.agency}
    with pytest.raises(InvalidInput) as caught:
        await servicer.RemoveHotlistPlate(
            watchlist_pb2.RemoveHotlistPlateRequest(entry_id=added.id), NO_CONTEXT
        )
    assert caught.value.field == "reason"
    with pytest.raises(InvalidInput):
        await servicer.RemoveHotlistPlate(
            watchlist_pb2.RemoveHotlistPlateRequest(entry_id="not-an-id", reason="x"), NO_CONTEXT
        )

    token = gate.current_subject.set(Subject("intruder", "other-agency", (), 1))
    try:
        with pytest.raises(PermissionDenied):
            await servicer.RemoveHotlistPlate(
                watchlist_pb2.RemoveHotlistPlateRequest(entry_id=added.id, reason="not mine"), NO_CONTEXT
            )
    finally:
        gate.current_subject.reset(token)

    await servicer.RemoveHotlistPlate(
        watchlist_pb2.RemoveHotlistPlateRequest(entry_id=added.id, reason="vehicle recovered"), NO_CONTEXT
    )
    with pytest.raises(NotFound):
        await servicer.RemoveHotlistPlate(
            watchlist_pb2.RemoveHotlistPlateRequest(entry_id=added.id, reason="again"), NO_CONTEXT
        )


async def test_watchlist_enrolment_stores_a_face_embedding(
    servicer: WatchlistServicer, as_officer: Subject, shared_data: Path, watchlist_store: WatchlistStore,
    face_threads: EngineThreads,
) -> None:
    created = (
        await servicer.CreateWatchlist(
            watchlist_pb2.CreateWatchlistRequest(
                watchlist=watchlist_pb2.Watchlist(name="wanted", owner_agency="spoofed")
            ),
            NO_CONTEXT,
        )
    ).watchlist
    assert created.owner_agency == as_officer.agency

    face = (shared_data / "faces" / "pairs" / "img10.jpg").read_bytes()
    enrolled = (
        await servicer.EnrolSubject(
            watchlist_pb2.EnrolSubjectRequest(
                watchlist_id=created.id,
                label="suspect-1",
                images=[face],
                legal_basis=watchlist_pb2.LegalBasis(
                    kind="arrest-warrant", reference="W-2026-3", issued_by="court"
                ),
                expires=timestamp(datetime.now(UTC) + timedelta(days=30)),
            ),
            NO_CONTEXT,
        )
    ).subject
    assert enrolled.enrolled_images == 1 and enrolled.label == "suspect-1"
    async with watchlist_store.pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT model, cardinality(embedding) FROM watchlists_embeddings WHERE subject_id = %s",
                (uuid.UUID(enrolled.id),),
            )
        ).fetchone()
    assert row == ("dlib-resnet-v1", 128)

    lists = await servicer.ListWatchlists(watchlist_pb2.ListWatchlistsRequest(), NO_CONTEXT)
    assert [(w.id, w.subject_count) for w in lists.watchlists] == [(created.id, 1)]
    assert lists.watchlists[0].subjects_not_matching == 0

    # The engine changes: the subject enrolled with dlib cannot match SFace faces, and the list says so.
    switched = WatchlistServicer(servicer.store, servicer.js, ThreadedFaceEmbedder(
        LazyFaceEngine({"type": "yunet-sface"}), face_threads, FrameLimits()))
    stale = (await switched.ListWatchlists(watchlist_pb2.ListWatchlistsRequest(), NO_CONTEXT)).watchlists[0]
    assert stale.subjects_not_matching == 1 and "re-enrol" in stale.not_matching_reason
    # ... and names that subject and its model, so the operator knows whom to re-enrol (photos are not
    # kept: the platform cannot re-enrol by itself).
    assert [(s.id, s.label, list(s.models)) for s in stale.subjects_to_reenrol] == [
        (enrolled.id, "suspect-1", ["dlib-resnet-v1"])]
    assert list(enrolled.models) == ["dlib-resnet-v1"]
    renewed = (await switched.EnrolSubject(watchlist_pb2.EnrolSubjectRequest(
        watchlist_id=created.id, label="suspect-1", images=[face],
        legal_basis=watchlist_pb2.LegalBasis(kind="arrest-warrant", reference="W-2026-3", issued_by="court"),
        expires=timestamp(datetime.now(UTC) + timedelta(days=30))), NO_CONTEXT)).subject
    assert list(renewed.models) == [switched.embedder.current_model()] != list(enrolled.models)
    still = (await switched.ListWatchlists(watchlist_pb2.ListWatchlistsRequest(), NO_CONTEXT)).watchlists[0]
    assert still.subjects_not_matching == 1  # the old entry still cannot match until it is removed
    await switched.RemoveSubject(watchlist_pb2.RemoveSubjectRequest(
        watchlist_id=created.id, subject_id=renewed.id, reason="re-enrolment test done"), NO_CONTEXT)

    not_a_face = (shared_data / "video" / "people-detection.gif").read_bytes()
    with pytest.raises(InvalidInput) as caught:
        await servicer.EnrolSubject(
            watchlist_pb2.EnrolSubjectRequest(
                watchlist_id=created.id,
                label="suspect-2",
                images=[face, not_a_face],
                legal_basis=watchlist_pb2.LegalBasis(kind="arrest-warrant", reference="W-4"),
                expires=timestamp(datetime.now(UTC) + timedelta(days=30)),
            ),
            NO_CONTEXT,
        )
    assert caught.value.field == "images[1]"
    with pytest.raises(InvalidInput) as caught:
        await servicer.EnrolSubject(
            watchlist_pb2.EnrolSubjectRequest(
                watchlist_id=created.id,
                label="suspect-3",
                images=[face],
                expires=timestamp(datetime.now(UTC) + timedelta(days=30)),
            ),
            NO_CONTEXT,
        )
    assert caught.value.field == "legal_basis"

    token = gate.current_subject.set(Subject("intruder", "other-agency", (), 1))
    try:
        with pytest.raises(PermissionDenied):
            await servicer.RemoveSubject(
                watchlist_pb2.RemoveSubjectRequest(
                    watchlist_id=created.id, subject_id=enrolled.id, reason="x"
                ),
                NO_CONTEXT,
            )
    finally:
        gate.current_subject.reset(token)
    await servicer.RemoveSubject(
        watchlist_pb2.RemoveSubjectRequest(
            watchlist_id=created.id, subject_id=enrolled.id, reason="warrant withdrawn"
        ),
        NO_CONTEXT,
    )
    lists = await servicer.ListWatchlists(watchlist_pb2.ListWatchlistsRequest(), NO_CONTEXT)
    assert [w.subject_count for w in lists.watchlists] == [0]
    after = (await switched.ListWatchlists(watchlist_pb2.ListWatchlistsRequest(), NO_CONTEXT)).watchlists[0]
    assert after.subjects_not_matching == 0 and not after.not_matching_reason
    assert not after.subjects_to_reenrol


async def test_resolvers_give_the_policy_entry_expiry_and_owner(
    servicer: WatchlistServicer, as_officer: Subject, watchlist_store: WatchlistStore
) -> None:
    resolvers = resource_resolvers(watchlist_store)
    expires = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
    request = add_request(expires=timestamp(expires))
    assert await resolvers["/basira.v1.WatchlistService/AddHotlistPlate"](request, as_officer, {}) == {
        "entry_expires": "2026-06-01T08:30:00.000000Z"
    }
    assert (
        await resolvers["/basira.v1.WatchlistService/AddHotlistPlate"](
            add_request(expires=None), as_officer, {}
        )
        == {}
    )  # the policy then denies: the entry has no expiry

    created = (
        await servicer.CreateWatchlist(
            watchlist_pb2.CreateWatchlistRequest(watchlist=watchlist_pb2.Watchlist(name="resolver-list")),
            NO_CONTEXT,
        )
    ).watchlist
    enrol = watchlist_pb2.EnrolSubjectRequest(watchlist_id=created.id, expires=timestamp(expires))
    assert await resolvers["/basira.v1.WatchlistService/EnrolSubject"](enrol, as_officer, {}) == {
        "owner_agency": as_officer.agency,
        "entry_expires": "2026-06-01T08:30:00.000000Z",
    }
    unknown = watchlist_pb2.RemoveSubjectRequest(watchlist_id=str(uuid.uuid4()), subject_id="x")
    assert await resolvers["/basira.v1.WatchlistService/RemoveSubject"](unknown, as_officer, {}) == {}
