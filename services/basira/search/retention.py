"""Retention: erase what search holds past its class's limit, in bounded batches, as logged acts.

Limits are the agreement's `retention` data (policy/basira/retention/data.json: days per class). Each
class's purge is one act the policy decides (`retention.purge`: it refuses to erase anything younger
than the limit in force, whatever this file says) and the log gets two records: the admission before
anything is erased, and what was erased — counts per camera, never the content.

A face sighting two people confirmed as a watchlist match is evidence for its case (held: events.py
records the confirmation): the short purge of unconfirmed faces leaves it, and so does the snapshot
purge its frame; it goes with its own class, `face_match_confirmed`, whose limit is the agreement's.
The face of a candidate still awaiting its decision is held the same way (so a confirmation that comes
after the short purge still finds its evidence) until a rejection releases it; an undecided candidate's
face goes at the latest with the confirmed-match limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from basira.common.auth import Subject
from basira.common.errors import PermissionDenied, Unavailable
from basira.common.gate import Gate
from basira.search.store import SearchStore

log = logging.getLogger(__name__)

PURGE_ACTION = "retention.purge"

@dataclass(frozen=True)
class RetentionClass:
    """Where a retention class lives: its table, and which rows of it by evidence hold (None: all)."""

    table: str
    held: bool | None = None


# Retention class → the search rows holding it.
CLASSES = {"face_embedding_unmatched": RetentionClass("search_faces", held=False),
           "face_match_confirmed": RetentionClass("search_faces", held=True),
           "plate_read": RetentionClass("search_sightings"),
           "snapshot": RetentionClass("search_snapshots", held=False)}


def retention_days(path: Path) -> dict[str, float]:
    """Days per retention class from the agreement's retention data (only the classes search holds)."""
    document = json.loads(path.read_text())
    return {name: float(document[name]["days"]) for name in CLASSES if name in document}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RetentionPurger:
    """Runs one purge pass per class (`purge_once`), or passes every `interval_s` (`run`)."""

    def __init__(self, store: SearchStore, gate: Gate, subject: Subject, days: Mapping[str, float], *,
                 batch: int = 1000) -> None:
        self.store, self.gate, self.subject, self.days, self.batch = store, gate, subject, dict(days), batch

    async def purge_class(self, name: str, now: datetime) -> Counter[str]:
        """Erase `name`'s records older than its limit; returns erased counts per camera."""
        time_to = now - timedelta(days=self.days[name])
        where = CLASSES[name]
        resource: dict[str, Any] = {"data_class": name, "time_to": _iso(time_to), "table": where.table}
        context = {"time": _iso(now)}
        decision = await self.gate.authorize_act(self.subject, PURGE_ACTION, resource, context,
                                                 status="ADMITTED")
        erased: Counter[str] = Counter()
        while True:
            cameras = await self.store.purge(where.table, time_to, self.batch, held=where.held)
            erased.update(cameras)
            if len(cameras) < self.batch:
                break
        await self.gate.record(self.gate.access_record(
            self.subject, PURGE_ACTION, {**resource, "erased_per_camera": dict(sorted(erased.items()))},
            context, allowed=True, decision=decision, result_count=sum(erased.values())))
        log.info("retention purge", extra={"class": name, "erased": sum(erased.values())})
        return erased

    async def purge_once(self, now: datetime | None = None) -> dict[str, Counter[str]]:
        moment = now or datetime.now(UTC)
        done: dict[str, Counter[str]] = {}
        for name in self.days:
            try:
                done[name] = await self.purge_class(name, moment)
            except PermissionDenied as exc:
                log.error("retention purge refused by policy", extra={"class": name, "error": exc.message})
        return done

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        while not stop.is_set():
            try:
                await self.purge_once()
            except Unavailable as exc:
                log.warning("retention purge deferred", extra={"error": exc.message})
            except Exception:
                log.exception("retention purge failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
