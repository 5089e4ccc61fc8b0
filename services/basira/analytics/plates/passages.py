"""One read per vehicle: a camera's per-frame plate reads grouped into passages and fused (pure).

A street camera reads a passing plate in many frames, each a little differently; a body camera's
frames jump. A read joins an open passage of its camera seen less than `gap_s` ago when its text
(or one of its alternatives) is within `max_distance` of the passage's fused text, look-alikes
(O/0, B/8 …) counting 0.3 and other edits 1 (so a passage survives one misread character per frame),
or when its box overlaps the passage's last box. The fused reading votes per character, weighted by
confidence, among the reads of the most supported length; the other texts read stay as
alternatives. A passage ends when no read joined it for `gap_s` (or it has lasted `max_s`).
Times are seconds on any one clock per camera (frame capture times, else arrival).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from basira.analytics.plates.engine import MAX_ALTERNATIVES, PlateAlternative, PlateRead
from basira.analytics.plates.regions import iou
from basira.common.plate_text import plate_distance


@dataclass(frozen=True, slots=True)
class Look:
    """One frame's read of the passage's plate."""

    frame_id: str
    index: int  # the read's place among its frame's reads (its detection id's suffix)
    when: float
    read: PlateRead


@dataclass
class Passage:
    """One vehicle's plate going past one camera; `looks` in the order they were observed."""

    id: str
    camera_id: str
    looks: list[Look] = field(default_factory=list)
    _fused: PlateRead | None = None

    @property
    def first_seen(self) -> float:
        return min(look.when for look in self.looks)

    @property
    def last_seen(self) -> float:
        return max(look.when for look in self.looks)

    @property
    def frames(self) -> int:
        return len({look.frame_id for look in self.looks})

    def add(self, look: Look) -> None:
        self.looks.append(look)
        self._fused = None

    @property
    def plate(self) -> PlateRead:
        """The fused reading of every look so far (see fuse)."""
        if self._fused is None:
            self._fused = fuse([look.read for look in self.looks])
        return self._fused


def fuse(reads: Sequence[PlateRead]) -> PlateRead:
    """One reading from several reads of one plate: per-character vote weighted by confidence.

    Only reads of the length with the most total confidence vote; the fused confidence is the mean,
    over characters, of the winning character's share of the vote times the best voter's confidence.
    Display and country come from the most confident read of the fused text (else the best voter,
    with the text as display). The box is the latest read's.
    """
    if not reads:
        raise ValueError("nothing to fuse")
    by_length: dict[int, float] = defaultdict(float)
    for read in reads:
        by_length[len(read.text)] += read.confidence
    length = max(by_length, key=lambda n: (by_length[n], n))
    voters = [r for r in reads if len(r.text) == length]
    text, shares = "", []
    for position in range(length):
        votes: dict[str, float] = defaultdict(float)
        for read in voters:
            votes[read.text[position]] += max(read.confidence, 1e-6)
        winner = max(votes, key=lambda ch: (votes[ch], ch))
        text += winner
        shares.append(votes[winner] / sum(votes.values()))
    best_voter = max(voters, key=lambda r: r.confidence)
    confidence = round(best_voter.confidence * sum(shares) / len(shares), 4)
    same = [r for r in reads if r.text == text]
    source = max(same, key=lambda r: r.confidence) if same else best_voter
    display = source.display if same else text
    country = source.country if same else ""
    weights: dict[str, float] = defaultdict(float)
    shown: dict[str, PlateAlternative] = {}
    for read in reads:
        itself = PlateAlternative(read.text, read.display, read.country, read.confidence)
        for alt in (itself, *read.alternatives):
            if alt.text != text:
                weights[alt.text] += alt.confidence
                if alt.text not in shown or alt.confidence > shown[alt.text].confidence:
                    shown[alt.text] = alt
    ranked = sorted(shown, key=lambda t: (-weights[t], t))[:MAX_ALTERNATIVES]
    alternatives = tuple(replace(shown[t], confidence=round(min(shown[t].confidence, confidence), 4))
                         for t in ranked)
    return PlateRead(text, display, country, confidence, reads[-1].box, alternatives)


class PassageTracker:
    """Open passages per camera; `observe` assigns each read to one, `close_idle` ends quiet ones."""

    def __init__(self, *, gap_s: float = 3.0, max_s: float = 120.0, max_distance: float = 2.0) -> None:
        self.gap_s, self.max_s, self.max_distance = gap_s, max_s, max_distance
        self._open: dict[str, list[Passage]] = defaultdict(list)

    def _distance(self, read: PlateRead, passage: Passage) -> float:
        fused = passage.plate
        ours = [read.text, *(a.text for a in read.alternatives)]
        theirs = [fused.text, *(a.text for a in fused.alternatives)]
        return min(plate_distance(a, b, confusable_tolerant=True) for a in ours for b in theirs)

    def observe(self, camera_id: str, frame_id: str, when: float,
                reads: Sequence[PlateRead]) -> list[Passage]:
        """The passage of each read of one frame (a read no open passage takes starts its own)."""
        passages: list[Passage] = []
        taken: set[str] = set()
        for index, read in enumerate(reads):
            best: tuple[float, Passage] | None = None
            for passage in self._open[camera_id]:
                if passage.id in taken or abs(when - passage.last_seen) > self.gap_s:
                    continue
                distance = self._distance(read, passage)
                near = iou(read.box, passage.looks[-1].read.box) > 0.1
                similar = distance <= self.max_distance + 1e-9 or (near and distance <= 2 * self.max_distance)
                if similar and (best is None or distance < best[0]):
                    best = (distance, passage)
            if best is None:
                passage = Passage(f"{camera_id}:{frame_id}:p{index}", camera_id)
                self._open[camera_id].append(passage)
            else:
                passage = best[1]
            passage.add(Look(frame_id, index, when, read))
            taken.add(passage.id)
            passages.append(passage)
        return passages

    def close_idle(self, now: float, camera_id: str | None = None) -> list[Passage]:
        """End the passages with no read for `gap_s` before `now` or older than `max_s`; return them."""
        closed: list[Passage] = []
        for camera in [camera_id] if camera_id is not None else list(self._open):
            still: list[Passage] = []
            for passage in self._open.get(camera, []):
                quiet = now - passage.last_seen > self.gap_s
                (closed if quiet or now - passage.first_seen > self.max_s else still).append(passage)
            if still:
                self._open[camera] = still
            else:
                self._open.pop(camera, None)
        return closed

    def close_all(self) -> list[Passage]:
        return self.close_idle(float("inf"))

    def open_count(self) -> int:
        return sum(len(p) for p in self._open.values())
