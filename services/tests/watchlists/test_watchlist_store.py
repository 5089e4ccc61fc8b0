"""Watchlist storage on a real PostgreSQL: hotlist add/list/remove with expiry and paging, face lists."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from basira.common.errors import AlreadyExists, NotFound, PermissionDenied
from basira.watchlists.facelists import FaceTemplate
from basira.watchlists.hotlist import HotlistReason, LegalBasis, NewHotlistEntry
from basira.watchlists.store import WatchlistStore

pytestmark = pytest.mark.integration

BASIS = LegalBasis("stolen-vehicle-report", "PV-2026-7", "police")


def new_entry(agency: str, plate: str, expires: datetime, *, tolerant: bool = False) -> NewHotlistEntry:
    return NewHotlistEntry(
        plate=plate,
        plate_as_reported=plate.lower(),
        country="",
        reason=HotlistReason.STOLEN,
        legal_basis=BASIS,
        owner_agency=agency,
        expires=expires,
        confusable_tolerant=tolerant,
        note="test",
    )


def unique_plate() -> str:
    return "T" + uuid.uuid4().hex[:7].upper()


async def test_add_then_list_and_load_active(watchlist_store: WatchlistStore, agency: str) -> None:
    now = datetime.now(UTC)
    plate = unique_plate()
    stored = await watchlist_store.add_hotlist_entry(
        new_entry(agency, plate, now + timedelta(days=2), tolerant=True), created_by="officer-1", now=now
    )
    assert stored.plate == plate and stored.owner_agency == agency and stored.confusable_tolerant
    assert stored.legal_basis == BASIS and stored.created_by == "officer-1"
    again = await watchlist_store.get_hotlist_entry(uuid.UUID(stored.id))
    assert again == stored
    active = await watchlist_store.active_hotlist(now)
    assert stored.id in {e.id for e in active}


async def test_a_second_active_entry_for_the_same_plate_is_refused(
    watchlist_store: WatchlistStore, agency: str
) -> None:
    now = datetime.now(UTC)
    plate = unique_plate()
    await watchlist_store.add_hotlist_entry(
        new_entry(agency, plate, now + timedelta(days=1)), created_by="a", now=now
    )
    with pytest.raises(AlreadyExists):
        await watchlist_store.add_hotlist_entry(
            new_entry(agency, plate, now + timedelta(days=3)), created_by="a", now=now
        )
    other = await watchlist_store.add_hotlist_entry(
        new_entry(agency + "-other", plate, now + timedelta(days=1)), created_by="b", now=now
    )
    assert other.plate == plate


async def test_expired_entries_leave_the_list_unless_asked(
    watchlist_store: WatchlistStore, agency: str
) -> None:
    then = datetime.now(UTC) - timedelta(hours=2)
    expired = await watchlist_store.add_hotlist_entry(
        new_entry(agency, unique_plate(), then + timedelta(hours=1)), created_by="a", now=then
    )
    now = datetime.now(UTC)
    assert expired.id not in {e.id for e in await watchlist_store.active_hotlist(now)}

    async def listed(include_expired: bool) -> set[str]:
        found: set[str] = set()
        after = 0
        while True:
            page, token = await watchlist_store.list_hotlist(
                now=now, include_expired=include_expired, after=after, limit=500
            )
            found |= {e.id for e in page}
            if not token:
                return found
            after = int(token)

    assert expired.id not in await listed(False)
    assert expired.id in await listed(True)
    # once expired, the plate can be listed again by the same agency
    await watchlist_store.add_hotlist_entry(
        new_entry(agency, expired.plate, now + timedelta(days=1)), created_by="a", now=now
    )


async def test_paging_walks_every_entry_once(watchlist_store: WatchlistStore, agency: str) -> None:
    now = datetime.now(UTC)
    added = {
        (
            await watchlist_store.add_hotlist_entry(
                new_entry(agency, unique_plate(), now + timedelta(days=1)), created_by="a", now=now
            )
        ).id
        for _ in range(5)
    }
    seen: list[str] = []
    after, pages = 0, 0
    while True:
        page, token = await watchlist_store.list_hotlist(now=now, include_expired=False, after=after, limit=2)
        assert len(page) <= 2
        seen.extend(e.id for e in page if e.owner_agency == agency)
        pages += 1
        if not token:
            break
        after = int(token)
    assert sorted(seen) == sorted(added)
    assert pages >= 3


async def test_only_the_owner_removes_and_removal_is_final(
    watchlist_store: WatchlistStore, agency: str
) -> None:
    now = datetime.now(UTC)
    stored = await watchlist_store.add_hotlist_entry(
        new_entry(agency, unique_plate(), now + timedelta(days=1)), created_by="a", now=now
    )
    entry_id = uuid.UUID(stored.id)
    with pytest.raises(PermissionDenied):
        await watchlist_store.remove_hotlist_entry(
            entry_id, agency="someone-else", removed_by="x", reason="mine now", now=now
        )
    removed = await watchlist_store.remove_hotlist_entry(
        entry_id, agency=agency, removed_by="b", reason="vehicle recovered", now=now
    )
    assert removed.removed is not None
    assert stored.id not in {e.id for e in await watchlist_store.active_hotlist(now)}
    with pytest.raises(NotFound):
        await watchlist_store.remove_hotlist_entry(
            entry_id, agency=agency, removed_by="b", reason="again", now=now
        )
    with pytest.raises(NotFound):
        await watchlist_store.get_hotlist_entry(uuid.uuid4())


async def test_face_watchlists_subjects_and_counts(watchlist_store: WatchlistStore, agency: str) -> None:
    now = datetime.now(UTC)
    created = await watchlist_store.create_watchlist(
        name="robbery-suspects", description="d", owner_agency=agency, created_by="a", now=now
    )
    with pytest.raises(AlreadyExists):
        await watchlist_store.create_watchlist(
            name="robbery-suspects", description="", owner_agency=agency, created_by="a", now=now
        )
    list_id = uuid.UUID(created.id)
    subject = await watchlist_store.enrol_subject(
        watchlist_id=list_id,
        label="S-1",
        legal_basis=LegalBasis("arrest-warrant", "W-9", "court"),
        expires=now + timedelta(days=10),
        templates=[FaceTemplate("m", (0.25, -0.5)), FaceTemplate("m", (1.0, 0.0))],
        created_by="a",
        now=now,
    )
    assert subject.enrolled_images == 2
    await watchlist_store.enrol_subject(
        watchlist_id=list_id,
        label="S-2",
        legal_basis=LegalBasis("arrest-warrant", "W-10", "court"),
        expires=now + timedelta(seconds=1),
        templates=[FaceTemplate("m", (0.0, 1.0))],
        created_by="a",
        now=now,
    )
    assert (await watchlist_store.get_watchlist(list_id, now)).subject_count == 2
    assert (await watchlist_store.get_watchlist(list_id, now + timedelta(seconds=2))).subject_count == 1
    async with watchlist_store.pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT model, embedding FROM watchlists_embeddings WHERE subject_id = %s ORDER BY id",
                (uuid.UUID(subject.id),),
            )
        ).fetchall()
    assert [(m, [round(v, 3) for v in e]) for m, e in rows] == [("m", [0.25, -0.5]), ("m", [1.0, 0.0])]

    page, token = await watchlist_store.list_watchlists(owner_agency=agency, now=now, after=0, limit=10)
    assert [w.id for w in page] == [created.id] and token == ""
    other, _ = await watchlist_store.list_watchlists(owner_agency=agency + "-x", now=now, after=0, limit=10)
    assert other == []

    await watchlist_store.remove_subject(
        watchlist_id=list_id, subject_id=uuid.UUID(subject.id), removed_by="a", reason="acquitted", now=now
    )
    assert (await watchlist_store.get_watchlist(list_id, now)).subject_count == 1
    with pytest.raises(NotFound):
        await watchlist_store.remove_subject(
            watchlist_id=list_id, subject_id=uuid.UUID(subject.id), removed_by="a", reason="again", now=now
        )
