"""The camera wall's health: folding events per camera (pure), and the table + resumable stream against
real NATS JetStream and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from basira.common.db import migrate, open_pool
from basira.common.nats import publish
from basira.ingest.health_state import Granted, HealthRow, HealthState, HealthStateStore, fold
from basira.ingest.server import MIGRATIONS
from basira.v1 import camera_pb2, events_pb2
from services.tests.support.jetstream import jetstream_session

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def row(kind: str, state: str, sequence: int, *, camera: str = "cam-a", source: int = 0,
        battery: int = -1) -> HealthRow:
    return HealthRow(camera, kind, state, "medina", "", T0, source, battery, sequence)


def test_fold_keeps_the_latest_state_of_each_condition() -> None:
    [health] = fold([row("blocked", "alarm", 3), row("blocked", "ok", 7), row("defocused", "alarm", 5),
                     row("stream", "STREAM_STATE_RUNNING", 2),
                     row("power", "low", 9, source=camera_pb2.POWER_SOURCE_BATTERY, battery=18)])
    assert dict(health.conditions) == {"blocked": "ok", "defocused": "alarm"}
    assert health.online and health.stream_state == "STREAM_STATE_RUNNING"
    assert (health.power_source, health.battery_percent, health.power_level) == (
        camera_pb2.POWER_SOURCE_BATTERY, 18, "low")
    assert health.sequence == 9


@pytest.mark.parametrize(("rows", "online"), [
    ([row("offline", "alarm", 1)], False),
    ([row("offline", "alarm", 1), row("offline", "ok", 2)], True),
    ([row("stream", "STREAM_STATE_FAILED", 1)], False),
    ([row("power", "ok", 1, source=camera_pb2.POWER_SOURCE_MAINS, battery=0)], True),
])
def test_fold_says_whether_a_camera_is_online(rows: list[HealthRow], online: bool) -> None:
    [health] = fold(rows)
    assert health.online is online
    if rows[0].kind == "power":
        assert health.battery_percent == -1  # mains: no battery to report


def test_granted_follows_the_decision_obligations() -> None:
    granted = Granted.from_obligations({"zones": ["medina"], "cameras": ["bwc-1"]})
    assert granted.allows("medina", "cam-x") and granted.allows("port", "bwc-1")
    assert not granted.allows("port", "cam-y")
    assert Granted.from_obligations({}).allows("anywhere", "any")


def _event(camera: str, zone: str, kind: str, state: str) -> events_pb2.CameraHealthEvent:
    event = events_pb2.CameraHealthEvent(id=uuid.uuid4().hex, camera_id=camera, zone=zone, kind=kind,
                                         state=state)
    event.time.FromDatetime(datetime.now(UTC))
    return event


@pytest.fixture
async def state(postgres_url: str, nats_url: str) -> AsyncIterator[tuple[Any, HealthState]]:
    pool = await open_pool(postgres_url, max_size=4)
    await migrate(pool, "ingest", MIGRATIONS)
    async with jetstream_session(nats_url, "health-state-test") as (_, js):
        yield js, HealthState(js, HealthStateStore(pool), durable=f"health-test-{uuid.uuid4().hex[:8]}")
    await pool.close()


@contextlib.asynccontextmanager
async def folding(health: HealthState) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(health.consumer().run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def _until(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.integration
async def test_current_health_then_the_stream_from_its_watermark_misses_nothing(
        state: tuple[Any, HealthState]) -> None:
    js, health = state
    uid = uuid.uuid4().hex[:6]
    cam, other = f"cam-{uid}", f"cam-port-{uid}"
    everything = Granted(None, frozenset())
    medina_only = Granted(frozenset({"medina"}), frozenset())
    for event in (_event(cam, "medina", "blocked", "alarm"), _event(other, "port", "offline", "alarm")):
        await publish(js, f"camera.health.{event.camera_id}", event.SerializeToString(), event.id)
    async with folding(health):
        async def folded() -> bool:
            cams, _ = await health.current(everything, [], [cam, other])
            return len(cams) == 2
        await _until(folded)
        cams, mark = await health.current(medina_only, [], [cam, other])
    assert [(c.camera_id, dict(c.conditions)) for c in cams] == [(cam, {"blocked": "alarm"})]
    assert mark >= cams[0].sequence > 0

    # After the list: one change for each camera; a medina viewer streams from the watermark.
    for event in (_event(cam, "medina", "blocked", "ok"), _event(other, "port", "offline", "ok")):
        await publish(js, f"camera.health.{event.camera_id}", event.SerializeToString(), event.id)
    stream = health.changes(mark, medina_only, [], [cam, other])
    update = await asyncio.wait_for(anext(stream), 10)
    assert (update.camera_id, update.kind, update.state) == (cam, "blocked", "ok") and update.sequence > mark
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(stream), 0.5)  # the port camera is not this viewer's
    await stream.aclose()
