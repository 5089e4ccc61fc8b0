"""Ingest's NATS traffic: `frames.<camera>` and `camera.health.<camera>`, their messages, and publishing.

Publishing waits instead of buffering: when JetStream refuses a message (the FRAMES stream is full
and discards new messages, or NATS is slow or away) the same message is retried with a growing
delay until it is accepted, so the caller — a stream reader — stops reading meanwhile. Every event id
is derived from what it describes, so a retry after a lost ack is dropped by JetStream's dedupe.

Health states on the wire (events.proto): "ok" / "alarm" for offline, blocked, defocused and moved;
a StreamState name (e.g. "STREAM_STATE_RUNNING") for kind "stream"; a power level ("ok", "low",
"critical", "unknown") for kind "power".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.js import JetStreamContext

from basira.common.errors import Unavailable
from basira.common.nats import publish
from basira.ingest.cameras import (
    CONNECTING,
    ENDED,
    FAILED,
    RECONNECTING,
    RUNNING,
    CameraSpec,
)
from basira.ingest.health import ConditionState, HealthEvent, HealthKind
from basira.ingest.health_state import HealthStateStore, row_from_event
from basira.ingest.sources import SourceState
from basira.v1 import camera_pb2, events_pb2

log = logging.getLogger(__name__)

FRAMES_PREFIX = "frames"
HEALTH_PREFIX = "camera.health"

# What a source's state means for the camera's stream (the table and kind "stream" events).
STREAM_STATE_FOR_SOURCE: dict[SourceState, int] = {
    SourceState.CONNECTING: CONNECTING,
    SourceState.CONNECTED: RUNNING,
    SourceState.LOST: RECONNECTING,
    SourceState.RECONNECTING: RECONNECTING,
    SourceState.ENDED: ENDED,
    SourceState.FAILED: FAILED,
}
_CONDITION_STATES = {ConditionState.OK.value: "ok", ConditionState.ALERT.value: "alarm"}


def frame_subject(camera_id: str, prefix: str = FRAMES_PREFIX) -> str:
    return f"{prefix}.{camera_id}"


def health_subject(camera_id: str, prefix: str = HEALTH_PREFIX) -> str:
    return f"{prefix}.{camera_id}"


def micros(timestamp: float) -> int:
    return round(timestamp * 1_000_000)


def frame_id(camera_id: str, captured: float) -> str:
    """A frame's id: its camera and capture time in microseconds (unique per camera and frame)."""
    return f"{camera_id}-{micros(captured)}"


def stream_state_name(state: int) -> str:
    return camera_pb2.StreamState.Name(state)  # type: ignore[arg-type]


def wire_state(event: HealthEvent) -> str:
    """The `state` string of a health event as events.proto spells it (see the module docstring)."""
    if event.kind is HealthKind.STREAM:
        try:
            return stream_state_name(STREAM_STATE_FOR_SOURCE[SourceState(event.state)])
        except ValueError:
            return event.state  # already a StreamState name
    return _CONDITION_STATES.get(event.state, event.state)


def frame_event(camera: CameraSpec, *, number: int, captured: float, jpeg: bytes, width: int,
                height: int, position: tuple[float, float] | None = None) -> events_pb2.FrameEvent:
    """The `frames.<camera>` message for one JPEG; `published` is set by `EventPublisher`.

    `position` (latitude, longitude) is where a moving device last said it was; else the camera's
    registered position is used, if it has one. Sightings carry it, so trajectories have places.
    """
    event = events_pb2.FrameEvent(id=frame_id(camera.id, captured), camera_id=camera.id, zone=camera.zone,
                                  owner_agency=camera.owner_agency, jpeg=jpeg, width=width,
                                  height=height, frame_number=number)
    event.captured.FromMicroseconds(micros(captured))
    if position is None and camera.latitude is not None and camera.longitude is not None:
        position = (camera.latitude, camera.longitude)
    if position is not None:
        event.position.latitude, event.position.longitude = position
    return event


def health_message(camera: CameraSpec, event: HealthEvent,
                   device: camera_pb2.DeviceStatus | None = None) -> events_pb2.CameraHealthEvent:
    """The `camera.health.<camera>` message for one health change (id unique per kind, state, time)."""
    state = wire_state(event)
    message = events_pb2.CameraHealthEvent(
        id=f"{camera.id}-{event.kind.value}-{state.lower()}-{micros(event.time)}", camera_id=camera.id,
        zone=camera.zone, kind=event.kind.value, state=state, detail=event.detail)
    message.time.FromMicroseconds(micros(event.time))
    if device is not None:
        message.device.CopyFrom(device)
    return message


def stream_health(camera: CameraSpec, state: int, detail: str, when: float | None = None) -> HealthEvent:
    """A kind "stream" health event the service itself decides (e.g. STOPPED by an operator)."""
    return HealthEvent(camera.id, HealthKind.STREAM, stream_state_name(state), detail,
                       time.time() if when is None else when)


@dataclass(frozen=True)
class RetryPolicy:
    """How to wait for JetStream: seconds before the first retry, the cap, and one ack's timeout."""

    initial_s: float = 0.05
    max_s: float = 2.0
    timeout_s: float = 5.0


@dataclass(frozen=True)
class Published:
    sequence: int
    refusals: int  # times JetStream refused this message before accepting it
    waited_s: float  # seconds spent waiting between those attempts


Sleep = Callable[[float], Awaitable[None]]
HealthRecorder = Callable[[events_pb2.CameraHealthEvent, int], Awaitable[None]]


class EventPublisher:
    """Publishes ingest's events; the prefixes are the DESIGN §6 subjects unless a test isolates them."""

    def __init__(self, js: JetStreamContext, retry: RetryPolicy = RetryPolicy(), *,
                 frames_prefix: str = FRAMES_PREFIX, health_prefix: str = HEALTH_PREFIX,
                 sleep: Sleep = asyncio.sleep, on_health: HealthRecorder | None = None) -> None:
        self.js, self.retry = js, retry
        self.frames_prefix, self.health_prefix = frames_prefix, health_prefix
        self._sleep = sleep
        self.on_health = on_health

    async def publish_frame(self, event: events_pb2.FrameEvent,
                            on_refusal: Callable[[float], None] | None = None) -> Published:
        """Publish a frame, retrying the same frame until JetStream takes it (never drops it).

        `published` is stamped just before each attempt, so it is the time of the accepted one.
        `on_refusal(wait_s)` is called at each refusal, before waiting `wait_s` seconds.
        """

        def payload() -> bytes:
            event.published.GetCurrentTime()
            return event.SerializeToString()

        return await self._until_accepted(frame_subject(event.camera_id, self.frames_prefix), payload,
                                          event.id, on_refusal)

    async def publish_health(self, event: events_pb2.CameraHealthEvent) -> Published:
        """Publish a health change, then let `on_health` keep it as the camera's latest state (a
        failure there is logged: the event is out, the estate view catches up on the next change)."""
        data = event.SerializeToString()
        published = await self._until_accepted(health_subject(event.camera_id, self.health_prefix),
                                               lambda: data, event.id)
        if self.on_health is not None:
            try:
                await self.on_health(event, published.sequence)
            except Exception as exc:
                log.warning("camera %s: health state not recorded: %r", event.camera_id, exc)
        return published

    async def _until_accepted(self, subject: str, payload: Callable[[], bytes], event_id: str,
                              on_refusal: Callable[[float], None] | None = None) -> Published:
        delay, refusals, waited = self.retry.initial_s, 0, 0.0
        while True:
            try:
                sequence = await publish(self.js, subject, payload(), event_id,
                                         timeout_s=self.retry.timeout_s)
            except Unavailable as exc:
                if refusals == 0:
                    log.warning("JetStream refused %s; holding it and retrying (backpressure): %s",
                                subject, exc.message)
                refusals += 1
                if on_refusal is not None:
                    on_refusal(delay)
                await self._sleep(delay)
                waited += delay
                delay = min(self.retry.max_s, delay * 2)
                continue
            if refusals:
                log.info("JetStream accepted %s after %d refusals (%.1f s)", subject, refusals, waited)
            return Published(sequence, refusals, waited)


def health_recorder(store: HealthStateStore) -> HealthRecorder:
    """Folds each published health change into the camera's current health at once (ListCamerasDown
    and the camera wall); the HEALTH stream's fold consumer writes the same row, so either is enough."""

    async def record(event: events_pb2.CameraHealthEvent, sequence: int) -> None:
        await store.apply(row_from_event(event, sequence))

    return record
