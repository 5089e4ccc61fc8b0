"""Retention on real PostgreSQL: expired face embeddings, plate reads and snapshots are erased in
batches, gone from the tables and from search; each purge is logged with counts per camera only. A face
two people confirmed as a watchlist match is evidence: it outlives the short face purge (under the real
policy's limits) until the confirmed-match retention ends."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from basira.common.auth import Subject
from basira.common.errors import PermissionDenied
from basira.common.gate import Gate
from basira.common.nats import Outcome
from basira.search.config import SearchSettings
from basira.search.domain import GrantedScope, SightingFilter
from basira.search.events import Indexer
from basira.search.retention import RetentionPurger, retention_days
from basira.search.store import FaceSightingIn, PlateSightingIn, SearchStore
from basira.v1 import alert_pb2, events_pb2
from services.tests.search.conftest import DetectionMsg
from services.tests.support.gate_doubles import ListAudit, NoVerifier, RegoPolicy

PURGER = Subject(user="service:retention", agency="platform", roles=("service",), clearance=0)


def face(camera: str, seen: datetime) -> FaceSightingIn:
    return FaceSightingIn(id=uuid.uuid4().hex, camera_id=camera, zone="medina", owner_agency="police",
                          seen=seen, box=None, snapshot_id=f"snap-{uuid.uuid4().hex}", track_id="t",
                          model="m-retention", embedding=(1.0,) + (0.0,) * 127, latitude=None,
                          longitude=None, snapshot_jpeg=b"\xff\xd8jpeg")


def plate(camera: str, seen: datetime) -> PlateSightingIn:
    return PlateSightingIn(id=uuid.uuid4().hex, camera_id=camera, zone="medina", owner_agency="police",
                           seen=seen, plate_key="AB123CD", plate_display="AB-123-CD", plate_country="FR",
                           confidence=0.9, box=None, snapshot_id=f"snap-{uuid.uuid4().hex}", frame_id="f",
                           latitude=None, longitude=None, snapshot_jpeg=b"\xff\xd8jpeg")


async def test_purge_erases_expired_data_in_batches_and_logs_counts(search_pool: Any, gate: Gate,
                                                                    audit: ListAudit) -> None:
    days = retention_days(SearchSettings().retention_file)
    assert days == {"face_embedding_unmatched": 3.0, "face_match_confirmed": 180.0, "plate_read": 30.0,
                    "snapshot": 30.0}
    store = SearchStore(search_pool)
    now = datetime.now(UTC) + timedelta(days=3650)  # later than anything other tests stored
    cam_a, cam_b = f"cam-a-{uuid.uuid4().hex[:6]}", f"cam-b-{uuid.uuid4().hex[:6]}"
    old_faces = [face(cam_a, now - timedelta(days=5)), face(cam_a, now - timedelta(days=4)),
                 face(cam_b, now - timedelta(days=10))]
    fresh = face(cam_a, now - timedelta(hours=2))
    old_plate = plate(cam_b, now - timedelta(days=40))
    for row in (*old_faces, fresh):
        assert await store.add_face_sighting(row)
    assert await store.add_plate_sighting(old_plate)

    purger = RetentionPurger(store, gate, PURGER, days, batch=1)
    erased = await purger.purge_once(now)

    ours = (cam_a, cam_b)  # the database is shared with other tests: count only this test's cameras
    assert {c: n for c, n in erased["face_embedding_unmatched"].items() if c in ours} == {cam_a: 2, cam_b: 1}
    assert erased["plate_read"][cam_b] >= 1
    async with search_pool.connection() as conn:
        left = await (await conn.execute("SELECT id FROM search_faces WHERE camera_id = ANY(%s)",
                                         ([cam_a, cam_b],))).fetchall()
        plates = await (await conn.execute("SELECT count(*) FROM search_sightings WHERE id = %s",
                                           (old_plate.id,))).fetchone()
        snapshots = await (await conn.execute("SELECT snapshot_id FROM search_snapshots"
                                              " WHERE camera_id = ANY(%s)", ([cam_a, cam_b],))).fetchall()
    assert [r[0] for r in left] == [fresh.id] and plates == (0,)
    # Snapshots keep their own 30 days: the faces' frames stay, the 40-day-old plate frame is gone.
    assert {r[0] for r in snapshots} == {fresh.snapshot_id, *(f.snapshot_id for f in old_faces)}

    found = await store.search_faces("m-retention", (1.0,) + (0.0,) * 127,
                                     SightingFilter(cameras=(cam_a, cam_b), granted=GrantedScope()),
                                     max_distance=0.5, limit=10, ef_search=100)
    assert [s.id for s in found] == [fresh.id]  # gone from search too

    records = [r for r in audit.records if r.action == "retention.purge"]
    faces = [r for r in records if r.resource["data_class"] == "face_embedding_unmatched"]
    assert [r.status for r in faces] == ["ADMITTED", "OK"]
    logged_counts = faces[1].resource["erased_per_camera"]
    assert {c: n for c, n in logged_counts.items() if c in ours} == {cam_a: 2, cam_b: 1}
    assert faces[1].result_count == sum(logged_counts.values())
    logged = json.dumps([r.to_dict() for r in records])
    assert not any(f.id in logged or f.snapshot_id in logged for f in old_faces)  # counts, never content


def face_match(alert_id: str, detection_id: str, state: int) -> DetectionMsg:
    """The AlertEvent alerting publishes on `alerts.<agency>` when a face match changes state."""
    alert = alert_pb2.Alert(id=alert_id, kind=alert_pb2.ALERT_KIND_FACE_MATCH, state=state, agency="police",  # type: ignore[arg-type]
                            face_match=alert_pb2.FaceMatch(detection_id=detection_id, watchlist_id="wl-1"))
    return DetectionMsg(events_pb2.AlertEvent(alert=alert).SerializeToString(), "alerts.police")


async def test_a_confirmed_face_match_outlives_the_short_face_purge(search_pool: Any) -> None:
    days = retention_days(SearchSettings().retention_file)
    audit = ListAudit()
    gate = Gate("search", NoVerifier(), RegoPolicy(), audit)  # the real limits decide every purge
    store, indexer = SearchStore(search_pool), Indexer(SearchStore(search_pool))
    now = datetime.now(UTC) + timedelta(days=7300)  # later than anything other tests stored
    camera = f"cam-ev-{uuid.uuid4().hex[:6]}"
    confirmed, unconfirmed, pending = (face(camera, now - timedelta(days=5)) for _ in range(3))
    old_evidence = face(camera, now - timedelta(days=40))  # past the snapshots' 30 days too
    expired_evidence = face(camera, now - timedelta(days=200))  # past the confirmed matches' 180 days
    for row in (confirmed, unconfirmed, pending, old_evidence, expired_evidence):
        assert await store.add_face_sighting(row)
    for row in (confirmed, old_evidence, expired_evidence):
        assert await indexer.handle_alert(face_match(f"a-{row.id}", row.id, alert_pb2.ALERT_STATE_CONFIRMED)
                                          ) == Outcome.ACK  # type: ignore[arg-type]
    # One confirmation is not a confirmed match (but an open candidate: held until decided); a
    # redelivered confirmation changes nothing.
    await indexer.handle_alert(face_match("a-p", pending.id, alert_pb2.ALERT_STATE_PENDING_CONFIRMATION))  # type: ignore[arg-type]
    await indexer.handle_alert(face_match(f"a-{confirmed.id}", confirmed.id, alert_pb2.ALERT_STATE_CONFIRMED))  # type: ignore[arg-type]

    erased = await RetentionPurger(store, gate, PURGER, days, batch=2).purge_once(now)

    assert erased["face_embedding_unmatched"][camera] == 1  # the unconfirmed one, not the pending one
    assert erased["face_match_confirmed"][camera] == 1  # the 200-day-old evidence only
    async with search_pool.connection() as conn:
        left = await (await conn.execute("SELECT id FROM search_faces WHERE camera_id = %s ORDER BY seen",
                                         (camera,))).fetchall()
        frames = await (await conn.execute("SELECT snapshot_id FROM search_snapshots WHERE camera_id = %s",
                                           (camera,))).fetchall()
        holds = await (await conn.execute("SELECT sighting_id FROM search_face_holds WHERE sighting_id"
                                          " = ANY(%s)", ([expired_evidence.id, pending.id],))).fetchall()
    assert {r[0] for r in left} == {old_evidence.id, confirmed.id, pending.id}
    # Its evidence frame stays with a held face (the 40-day-old one too); the others' frames go with
    # the snapshots' own 30 days.
    assert {r[0] for r in frames} == {old_evidence.snapshot_id, confirmed.snapshot_id,
                                      unconfirmed.snapshot_id, pending.snapshot_id}
    assert [r[0] for r in holds] == [pending.id]  # the expired evidence's hold went with it

    purges = [r for r in audit.records if r.action == "retention.purge"]
    assert {r.resource["data_class"] for r in purges} == set(days) and all(r.allowed for r in purges)
    evidence = [r for r in purges if r.resource["data_class"] == "face_match_confirmed"]
    assert evidence[-1].resource["erased_per_camera"] == {camera: 1}
    assert evidence[-1].obligations["retention_days"] == 180

    # The real policy refuses to erase confirmed matches on the short face limit.
    with pytest.raises(PermissionDenied, match="younger than their 180-day retention"):
        await RetentionPurger(store, gate, PURGER, {"face_match_confirmed": 3.0}).purge_class(
            "face_match_confirmed", now)


async def test_an_open_candidate_keeps_its_face_until_decided(search_pool: Any, caplog: Any) -> None:
    days = retention_days(SearchSettings().retention_file)
    gate = Gate("search", NoVerifier(), RegoPolicy(), ListAudit())
    store, indexer = SearchStore(search_pool), Indexer(SearchStore(search_pool))
    now = datetime.now(UTC) + timedelta(days=7300)
    camera = f"cam-cand-{uuid.uuid4().hex[:6]}"
    awaited, rejected = face(camera, now - timedelta(days=5)), face(camera, now - timedelta(days=5))
    for row in (awaited, rejected):
        assert await store.add_face_sighting(row)
        await indexer.handle_alert(face_match(f"a-{row.id}", row.id, alert_pb2.ALERT_STATE_OPEN))  # type: ignore[arg-type]
    await indexer.handle_alert(face_match(f"a-{rejected.id}", rejected.id, alert_pb2.ALERT_STATE_REJECTED))  # type: ignore[arg-type]

    erased = await RetentionPurger(store, gate, PURGER, days).purge_once(now)

    assert erased["face_embedding_unmatched"][camera] == 1  # the rejected one: unmatched again
    async with search_pool.connection() as conn:
        left = await (await conn.execute("SELECT id FROM search_faces WHERE camera_id = %s",
                                         (camera,))).fetchall()
    assert [r[0] for r in left] == [awaited.id]  # past the 3 days, but its candidate is still open

    # Confirmed after the purge ran: its evidence is there. A confirmation whose face is gone says so.
    await indexer.handle_alert(face_match(f"a-{awaited.id}", awaited.id, alert_pb2.ALERT_STATE_CONFIRMED))  # type: ignore[arg-type]
    async with search_pool.connection() as conn:
        hold = await (await conn.execute("SELECT decided, confirmed IS NOT NULL FROM search_face_holds"
                                         " WHERE sighting_id = %s", (awaited.id,))).fetchone()
    assert hold == (True, True)
    caplog.set_level("ERROR", logger="basira.search.events")
    await indexer.handle_alert(face_match("a-late", rejected.id, alert_pb2.ALERT_STATE_CONFIRMED))  # type: ignore[arg-type]
    assert [r.sighting_id for r in caplog.records if "erased before the confirmation" in r.getMessage()
            ] == [rejected.id]
