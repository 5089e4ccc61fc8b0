"""Live face matching: `detections.face.>` against the active watchlist subjects → `match.candidate.face`.

A detection matches a subject when its embedding is within the engine's match distance of one of the
subject's enrolment images *of the same model* (embeddings of different engines or weights never
compare: subjects enrolled under another model are reported, not matched, until re-enrolled). One
candidate per (passage, subject): faces of one track are one person, so a walk past a camera raises
one candidate, not one per frame. Each candidate carries the purpose, case and authorization the
subject was enrolled under and the entry's expiry: alerting asks policy, per delivery, on those.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from basira.common.errors import Unavailable
from basira.common.nats import Outcome, PullConsumer, decoded, publish
from basira.v1 import common_pb2, events_pb2
from basira.watchlists.events import DETECTIONS_STREAM, HOTLIST_LIST, Clock, ListCache, utc_now
from basira.watchlists.facelists import EnrolledFace
from basira.watchlists.protos import timestamp

log = logging.getLogger(__name__)

FACE_DETECTIONS = "detections.face.>"
FACE_MATCHER_DURABLE = "face-matcher"
FACE_CANDIDATES = "match.candidate.face"
MAX_PASSAGES_REMEMBERED = 100_000


@dataclass(frozen=True, slots=True)
class FaceHit:
    entry: EnrolledFace
    distance: float


class FaceIndex:
    """Enrolment embeddings grouped by model, as unit-vector matrices (exact search: lists are small)."""

    def __init__(self, faces: Iterable[EnrolledFace], thresholds: Mapping[str, float]) -> None:
        self.thresholds = dict(thresholds)
        grouped: dict[str, list[EnrolledFace]] = defaultdict(list)
        for face in faces:
            grouped[face.model].append(face)
        self._entries = dict(grouped)
        self._matrices = {model: _unit_rows(np.asarray([f.embedding for f in group], np.float32))
                          for model, group in grouped.items()}
        self.unmatchable = {model: len({f.subject_id for f in group}) for model, group in grouped.items()
                            if model not in self.thresholds}
        """Subjects per model that no configured engine produces: they need re-enrolment."""

    def __len__(self) -> int:
        return sum(len(group) for group in self._entries.values())

    def match(self, model: str, vector: Iterable[float], now: datetime) -> list[FaceHit]:
        """Active subjects within the model's match distance, nearest first, one hit per subject."""
        threshold = self.thresholds.get(model)
        matrix = self._matrices.get(model)
        if threshold is None or matrix is None:
            return []
        query = np.asarray(list(vector), np.float32)
        if query.shape != (matrix.shape[1],):
            return []
        query /= max(float(np.linalg.norm(query)), 1e-12)
        distances = 1.0 - matrix @ query
        best: dict[str, FaceHit] = {}
        for row in np.flatnonzero(distances <= threshold):
            entry = self._entries[model][int(row)]
            distance = round(float(distances[row]), 4)
            if entry.expires > now and (entry.subject_id not in best
                                        or distance < best[entry.subject_id].distance):
                best[entry.subject_id] = FaceHit(entry, distance)
        return sorted(best.values(), key=lambda h: (h.distance, h.entry.subject_id))


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def face_cache(load: Callable[[datetime], Awaitable[list[EnrolledFace]]], thresholds: Mapping[str, float],
               *, clock: Clock = utc_now) -> ListCache[EnrolledFace, FaceIndex]:
    """The in-memory face index, reloaded when any face watchlist changes (or periodically)."""

    def build(faces: list[EnrolledFace]) -> FaceIndex:
        index = FaceIndex(faces, thresholds)
        for model, subjects in index.unmatchable.items():
            log.warning("watchlist subjects enrolled with another face model do not match live faces; "
                        "re-enrol them from their photos", extra={"model": model, "subjects": subjects,
                                                                   "engines": sorted(thresholds)})
        return index

    return ListCache(load, build, lambda name: name != HOTLIST_LIST, what="face watchlists", clock=clock)


def face_candidate(detection: events_pb2.FaceDetectionEvent, hit: FaceHit, passage: str
                   ) -> events_pb2.MatchCandidateEvent:
    """The candidate of one (passage, subject); its id is stable so redelivery never duplicates it."""
    entry = hit.entry
    return events_pb2.MatchCandidateEvent(
        id=f"{passage}:{entry.subject_id}", camera_id=detection.camera_id, zone=detection.zone,
        seen=detection.captured, distance=hit.distance, snapshot_id=detection.snapshot_id,
        detection_id=detection.id, watchlist_id=entry.watchlist_id, subject_id=entry.subject_id,
        access=common_pb2.AccessContext.FromString(entry.access_pb), entry_expires=timestamp(entry.expires),
        owner_agency=entry.owner_agency, track_id=detection.track_id, subject_label=entry.label)


class FaceMatcher:
    """Matches each face detection against the cached watchlists; one candidate per passage and subject."""

    def __init__(self, js: JetStreamContext, cache: ListCache[EnrolledFace, FaceIndex], *,
                 clock: Clock = utc_now) -> None:
        self.js, self.cache, self._clock = js, cache, clock
        self._raised: OrderedDict[tuple[str, str], None] = OrderedDict()

    async def handle(self, msg: Msg) -> Outcome:
        """ACK when done, TERM for an unusable detection, NAK when a candidate cannot be published."""
        detection = decoded(msg, events_pb2.FaceDetectionEvent, "face detection", log)
        if detection is None:
            return Outcome.TERM
        if not detection.id or not detection.embedding or not detection.model:
            log.warning("face detection without id, embedding or model", extra={"subject": msg.subject})
            return Outcome.TERM
        passage = detection.track_id or detection.id
        for hit in self.cache.index.match(detection.model, detection.embedding, self._clock()):
            key = (passage, hit.entry.subject_id)
            if key in self._raised:
                continue
            event = face_candidate(detection, hit, passage)
            try:
                await publish(self.js, FACE_CANDIDATES, event.SerializeToString(), event.id)
            except Unavailable as exc:
                log.warning("face candidate not published; detection will be retried",
                            extra={"detection": detection.id, "error": exc.message})
                return Outcome.NAK
            self._raised[key] = None
            while len(self._raised) > MAX_PASSAGES_REMEMBERED:
                self._raised.popitem(last=False)
        return Outcome.ACK

    def consumer(self) -> PullConsumer:
        return PullConsumer(self.js, DETECTIONS_STREAM, FACE_DETECTIONS, FACE_MATCHER_DURABLE, self.handle)
