"""Live face matching: the index (same model only, expiry, nearest first) and one candidate per passage."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from basira.common.nats import Outcome
from basira.v1 import common_pb2, events_pb2
from basira.watchlists.events import ListCache
from basira.watchlists.face_matching import FaceIndex, FaceMatcher, face_cache
from basira.watchlists.facelists import EnrolledFace

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
ACCESS = common_pb2.AccessContext(purpose="serious-crime", case_id="CASE-2026-0808",
                                  authorization=common_pb2.Authorization(id="COURT-1", issued_by="court"))


def unit(*values: float) -> tuple[float, ...]:
    v = np.asarray(values, np.float64)
    return tuple(float(x) for x in v / np.linalg.norm(v))


def enrolled(subject: str, vector: tuple[float, ...], *, model: str = "sface-x",
             expires: datetime | None = None) -> EnrolledFace:
    return EnrolledFace(subject_id=subject, watchlist_id="wl-1", owner_agency="police", label=f"L-{subject}",
                        expires=expires or NOW + timedelta(days=1), access_pb=ACCESS.SerializeToString(),
                        model=model, embedding=vector)


def test_matches_the_nearest_active_subject_of_the_same_model_only() -> None:
    index = FaceIndex([enrolled("a", unit(1, 0, 0)), enrolled("a", unit(1, 0.2, 0)),
                       enrolled("b", unit(0.9, 0.3, 0)), enrolled("old", unit(1, 0, 0), expires=NOW),
                       enrolled("dlib", unit(1, 0, 0), model="dlib-resnet-v1")], {"sface-x": 0.1})
    hits = index.match("sface-x", unit(1, 0.05, 0), NOW)
    assert [h.entry.subject_id for h in hits] == ["a", "b"] and hits[0].distance < 0.01
    assert index.match("dlib-resnet-v1", unit(1, 0, 0), NOW) == []  # no engine of that model here
    assert index.unmatchable == {"dlib-resnet-v1": 1}
    assert index.match("sface-x", unit(0, 1, 0), NOW) == []
    assert index.match("sface-x", (1.0, 0.0), NOW) == []  # another dimension never compares


class _Msg:
    def __init__(self, data: bytes) -> None:
        self.data, self.subject = data, "detections.face.bwc-1"


async def test_one_candidate_per_passage_and_subject(monkeypatch: Any) -> None:
    published: list[events_pb2.MatchCandidateEvent] = []

    async def fake_publish(js: Any, subject: str, data: bytes, msg_id: str) -> int:
        assert subject == "match.candidate.face"
        published.append(events_pb2.MatchCandidateEvent.FromString(data))
        return len(published)

    monkeypatch.setattr("basira.watchlists.face_matching.publish", fake_publish)

    async def load(now: datetime) -> list[EnrolledFace]:
        return [enrolled("a", unit(1, 0, 0))]

    cache: ListCache[EnrolledFace, FaceIndex] = face_cache(load, {"sface-x": 0.1}, clock=lambda: NOW)
    await cache.refresh()
    matcher = FaceMatcher(None, cache, clock=lambda: NOW)  # type: ignore[arg-type]

    def detection(i: int, track: str) -> _Msg:
        event = events_pb2.FaceDetectionEvent(id=f"f{i}:face:0", camera_id="bwc-1", zone="medina",
                                              embedding=list(unit(1, 0.01 * i, 0)), model="sface-x",
                                              track_id=track, snapshot_id=f"f{i}")
        return _Msg(event.SerializeToString())

    outcomes = [await matcher.handle(detection(i, "bwc-1:t1")) for i in range(5)]  # type: ignore[arg-type]
    outcomes.append(await matcher.handle(detection(9, "bwc-1:t2")))  # type: ignore[arg-type]
    assert outcomes == [Outcome.ACK] * 6
    assert [c.id for c in published] == ["bwc-1:t1:a", "bwc-1:t2:a"]
    first = published[0]
    assert first.access == ACCESS and first.owner_agency == "police" and first.subject_label == "L-a"
    assert first.entry_expires.ToDatetime(tzinfo=UTC) == NOW + timedelta(days=1)
    assert first.detection_id == "f0:face:0" and first.track_id == "bwc-1:t1"
    assert await matcher.handle(_Msg(b"\xff")) is Outcome.TERM  # type: ignore[arg-type]
    await asyncio.sleep(0)


async def test_subjects_of_another_model_are_logged_as_needing_re_enrolment(caplog: Any) -> None:
    """After an engine change the reload says, in the log, which model's subjects cannot match."""

    async def load(now: datetime) -> list[EnrolledFace]:
        return [enrolled("a", unit(1, 0, 0)), enrolled("old-1", unit(1, 0, 0), model="dlib-resnet-v1"),
                enrolled("old-2", unit(0, 1, 0), model="dlib-resnet-v1")]

    cache: ListCache[EnrolledFace, FaceIndex] = face_cache(load, {"sface-x": 0.1}, clock=lambda: NOW)
    with caplog.at_level(logging.WARNING, logger="basira.watchlists.face_matching"):
        await cache.refresh()
    [record] = [r for r in caplog.records if "re-enrol" in r.getMessage()]
    assert (record.model, record.subjects, record.engines) == ("dlib-resnet-v1", 2, ["sface-x"])
    assert cache.index.match("dlib-resnet-v1", unit(1, 0, 0), NOW) == []  # refused, not compared
