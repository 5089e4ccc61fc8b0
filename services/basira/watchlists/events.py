"""Watchlist NATS traffic: `watchlist.changed`, the in-memory hotlist, and the hotlist matcher consumer.

The matcher reads `detections.plate.>` (the read, its alternatives and its passage's fused reading
are all matched) through the durable pull consumer `hotlist-matcher` (shared by
every copy of the service) and publishes `match.candidate.plate`. The hotlist it matches against is
kept in memory and reloaded from PostgreSQL when `watchlist.changed` says the hotlist changed (core
NATS subscription) and every `refresh_interval_s` anyway, so a lost notification or an entry that
expires between reloads costs at most one interval — and expiry is re-checked on every match.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

from google.protobuf.message import DecodeError
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from basira.common.errors import Unavailable
from basira.common.nats import Outcome, PullConsumer, decoded, publish
from basira.v1 import events_pb2
from basira.watchlists.hotlist import HotlistEntry
from basira.watchlists.matcher import DEFAULT_MAX_DISTANCE, HotlistIndex, HotlistMatch
from basira.watchlists.protos import hotlist_entry_pb, timestamp

log = logging.getLogger(__name__)

WATCHLIST_CHANGED = "watchlist.changed"
HOTLIST_LIST = "hotlist"
DETECTIONS_STREAM = "DETECTIONS"
PLATE_DETECTIONS = "detections.plate.>"
MATCHER_DURABLE = "hotlist-matcher"
PLATE_CANDIDATES = "match.candidate.plate"

Clock = Callable[[], datetime]
E = TypeVar("E")
X = TypeVar("X")


def utc_now() -> datetime:
    return datetime.now(UTC)


async def publish_changed(js: JetStreamContext, list_name: str, now: datetime) -> None:
    """Tell every matcher that `list_name` ("hotlist" or a watchlist id) changed.

    Best effort: the change is already stored, and matchers reload periodically anyway, so a refused
    publish is logged rather than failing the caller's request.
    """
    event = events_pb2.WatchlistChangedEvent(id=str(uuid.uuid4()), list=list_name, changed=timestamp(now))
    try:
        await publish(js, WATCHLIST_CHANGED, event.SerializeToString(), event.id)
    except Unavailable as exc:
        log.warning("watchlist.changed not published; matchers will pick the change up on their next "
                    "periodic reload", extra={"list": list_name, "error": exc.message})


class ListCache(Generic[E, X]):
    """An index over the active entries of some lists, in memory; `refresh()` reloads, `run()` keeps fresh.

    `load(now)` fetches the entries, `build(entries)` indexes them, `wants(list_name)` says which
    `watchlist.changed` notifications concern this cache.
    """

    def __init__(self, load: Callable[[datetime], Awaitable[list[E]]], build: Callable[[list[E]], X],
                 wants: Callable[[str], bool], *, what: str, clock: Clock = utc_now) -> None:
        self._load, self._build, self._wants, self._clock = load, build, wants, clock
        self.what = what
        self.index: X = build([])
        self.version = 0
        self._changed = asyncio.Event()

    async def refresh(self) -> None:
        """Reload the active entries and swap the index in one assignment (matching never sees half)."""
        entries = await self._load(self._clock())
        self.index = self._build(entries)
        self.version += 1
        log.info(f"{self.what} loaded", extra={"entries": len(entries), "version": self.version})

    def changed(self) -> None:
        """Ask for a reload soon (several changes in a row cost one reload)."""
        self._changed.set()

    async def run(self, nc: NatsClient, stop: asyncio.Event, *, refresh_interval_s: float = 30.0) -> None:
        """Reload on every relevant `watchlist.changed` and every `refresh_interval_s`, until `stop`."""

        async def on_changed(msg: Msg) -> None:
            try:
                event = events_pb2.WatchlistChangedEvent.FromString(msg.data)
            except DecodeError:
                return
            if self._wants(event.list):
                self.changed()

        sub = await nc.subscribe(WATCHLIST_CHANGED, cb=on_changed)
        try:
            while not stop.is_set():
                waiters = [asyncio.create_task(self._changed.wait()), asyncio.create_task(stop.wait())]
                try:
                    await asyncio.wait(waiters, timeout=refresh_interval_s,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                self._changed.clear()
                if stop.is_set():
                    break
                try:
                    await self.refresh()
                except Exception:
                    log.exception(f"{self.what} reload failed; matching with the previous one")
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()


class HotlistCache(ListCache[HotlistEntry, HotlistIndex]):
    """The active hotlist, indexed in memory."""

    def __init__(self, load: Callable[[datetime], Awaitable[list[HotlistEntry]]], *,
                 max_distance: float = DEFAULT_MAX_DISTANCE, clock: Clock = utc_now) -> None:
        self.max_distance = max_distance
        super().__init__(load, lambda entries: HotlistIndex(entries, max_distance=max_distance),
                         lambda name: name == HOTLIST_LIST, what="hotlist", clock=clock)


def candidate_event(detection: events_pb2.PlateDetectionEvent, hit: HotlistMatch, matched_text: str = ""
                    ) -> events_pb2.MatchCandidateEvent:
    """The candidate for one (detection, entry) pair; its id is stable so redelivery never duplicates.

    A detection in a passage gets the passage's id instead of its own, so a vehicle passage raises
    one candidate per entry (JetStream drops the repeats): on its first read that matches.
    """
    matched = matched_text or detection.plate.text
    return events_pb2.MatchCandidateEvent(
        id=f"{detection.passage_id or detection.id}:{hit.entry.id}", camera_id=detection.camera_id,
        zone=detection.zone, seen=detection.captured, frame_published=detection.frame_published,
        plate=detection.plate, hotlist_entry=hotlist_entry_pb(hit.entry), distance=hit.distance,
        snapshot_id=detection.snapshot_id, detection_id=detection.id, matched_text=matched,
        matched_alternative=matched != detection.plate.text, passage_id=detection.passage_id,
    )


def readings_to_match(detection: events_pb2.PlateDetectionEvent) -> list[tuple[str, str]]:
    """(text, country) to match, best first: the read, its alternatives, the passage's fused reading
    and its alternatives — a stolen plate must not be missed because a runner-up read was right."""
    out: list[tuple[str, str]] = []
    plates = [detection.plate, *([detection.passage_plate] if detection.HasField("passage_plate") else [])]
    for plate in plates:
        alternatives = [(a.text, a.country) for a in plate.alternatives]
        for text, country in [(plate.text, plate.country), *alternatives]:
            if text and all(text != seen for seen, _ in out):
                out.append((text, country))
    return out


class HotlistMatcher:
    """Matches each plate detection against the cached hotlist and publishes the candidates."""

    def __init__(self, js: JetStreamContext, cache: HotlistCache, *, clock: Clock = utc_now) -> None:
        self.js, self.cache, self._clock = js, cache, clock

    async def handle(self, msg: Msg) -> Outcome:
        """ACK when done, TERM for an undecodable detection, NAK when a candidate cannot be published."""
        detection = decoded(msg, events_pb2.PlateDetectionEvent, "plate detection", log)
        if detection is None:
            return Outcome.TERM
        if not detection.id or not detection.plate.text:
            log.warning("plate detection without id or text dropped", extra={"subject": msg.subject})
            return Outcome.TERM
        now = self._clock()
        hits: dict[str, tuple[HotlistMatch, str]] = {}
        for text, country in readings_to_match(detection):
            for hit in self.cache.index.match(text, country, now):
                hits.setdefault(hit.entry.id, (hit, text))  # the best reading that hits an entry names it
        for hit, text in hits.values():
            event = candidate_event(detection, hit, text)
            try:
                await publish(self.js, PLATE_CANDIDATES, event.SerializeToString(), event.id)
            except Unavailable as exc:
                log.warning("candidate not published; detection will be retried",
                            extra={"detection": detection.id, "error": exc.message})
                return Outcome.NAK
        return Outcome.ACK

    def consumer(self) -> PullConsumer:
        return PullConsumer(self.js, DETECTIONS_STREAM, PLATE_DETECTIONS, MATCHER_DURABLE, self.handle)
