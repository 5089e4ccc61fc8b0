"""Retention on real PostgreSQL: expired face embeddings, plate reads and snapshots are erased in
batches, gone from the tables and from search; each purge is logged with counts per camera only."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from basira.common.auth import Subject
from basira.common.gate import Gate
from basira.search.config import SearchSettings
from basira.search.domain import GrantedScope, SightingFilter
from basira.search.retention import RetentionPurger, retention_days
from basira.search.store import FaceSightingIn, PlateSightingIn, SearchStore
from services.tests.support.gate_doubles import ListAudit

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
    assert days == {"face_embedding_unmatched": 3.0, "plate_read": 30.0, "snapshot": 30.0}
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
