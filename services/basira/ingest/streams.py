"""Camera streams: one task per camera, source → sampler → health → motion gate → JPEG → `frames.<camera>`.

Pulled streams (RTSP, HTTP-MJPEG, files) run while an operator wants them (StartStream), on whichever
ingest instance holds the camera's lease (see `cameras.py`); a reconcile loop renews the leases,
takes over streams nobody reads (after a crash or a restart), and drops streams stopped, changed or
taken elsewhere. Pushed streams are PushFrames calls: each one feeds a `PushedSource` with a per-camera
rate limit and tallies the frames it rejects.

Backpressure runs end to end and nothing is buffered without bound: a frame JetStream refuses is
retried until accepted; meanwhile the task does not ask its source for the next frame, so a file or
stream is read no faster than analytics drains FRAMES, and a pushing device's gRPC stream waits once
`push_queue` decoded frames are queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import psycopg
from prometheus_client import Counter, Gauge
from psycopg_pool import PoolTimeout

from basira.common.errors import BasiraError, FailedPrecondition, InvalidInput, TooLarge, Unavailable
from basira.ingest.cameras import ENDED, FAILED, STOPPED, CameraRecord, CameraStore
from basira.ingest.config import IngestSettings
from basira.ingest.events import (
    STREAM_STATE_FOR_SOURCE,
    EventPublisher,
    frame_event,
    health_message,
    stream_health,
)
from basira.ingest.frames import FrameLimits, encode_jpeg
from basira.ingest.health import (
    CameraHealthMonitor,
    HealthEvent,
    HysteresisConfig,
    PowerConfig,
    PowerLevel,
    PowerMonitor,
    PowerReport,
    PowerSource,
    TamperConfig,
)
from basira.ingest.motion import MotionConfig, MotionGate
from basira.ingest.sampling import FrameRateSampler
from basira.ingest.sources import (
    Backoff,
    FrameSource,
    PushedSource,
    SourceEvent,
    SourceState,
    StreamOptions,
    open_source,
)
from basira.v1 import camera_pb2

log = logging.getLogger(__name__)

FRAMES_TOTAL = Counter("basira_ingest_frames_total",
                       "Frames handled by ingest, by outcome (published, still, rejected).", ["outcome"])
BACKPRESSURE_SECONDS = Counter("basira_ingest_backpressure_seconds_total",
                               "Seconds publishing waited because JetStream refused (stream full or slow).")
STREAMS_OPEN = Gauge("basira_ingest_streams", "Camera streams open in this instance, by mode.", ["mode"])

HEALTH_CHECK_PERIOD_S = 1.0
STATE_QUEUE_MAX = 100
DRAIN_TIMEOUT_S = 5.0

StateSink = Callable[[int, str], Awaitable[object]]

POWER_SOURCES: dict[int, PowerSource] = {camera_pb2.POWER_SOURCE_MAINS: PowerSource.MAINS,
                                         camera_pb2.POWER_SOURCE_SOLAR: PowerSource.SOLAR,
                                         camera_pb2.POWER_SOURCE_BATTERY: PowerSource.BATTERY}
"""A camera's registered power source (basira.v1.PowerSource) as the health monitor names it."""

# A body-worn, vehicle or drone camera's view moves and blurs all the time: only a blocked lens
# means something there, so "moved" and "defocused" are never raised for them.
_NEVER = HysteresisConfig(raise_after_s=float("inf"), raise_min_frames=2**31)
MOVING_TAMPER = TamperConfig(moved=_NEVER, defocused=_NEVER)


@dataclass
class StreamStats:
    """Counters of one stream session, for tests, logs and capacity planning."""

    camera_id: str
    mode: str  # "pulled" or "pushed"
    reads: int = 0  # frames taken from the file, stream or push queue (including sampled-out ones)
    delivered: int = 0  # frames the source handed over (kept by the sampler)
    published: int = 0
    still: int = 0  # dropped by the motion gate
    refusals: int = 0  # publishes JetStream refused (each retried)
    waited_s: float = 0.0  # time spent waiting on those refusals
    state: str = ""


class TokenBucket:
    """At most `rate` events per second on average, `burst` at once. Not thread-safe."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise InvalidInput(f"token bucket needs rate > 0 and burst >= 1, got {rate}, {burst}")
        self.rate, self.burst, self._clock = rate, float(burst), clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


REASON_LABELS = {
    "rate": "over the rate limit",
    "too_large": "too large",
    "invalid": "not a valid JPEG/PNG image",
    "camera": "wrong camera",
    "status": "device status ignored",
}


class RejectionTally:
    """Counts rejected frames by reason, keeping one example message per reason for the reply.

    Messages that differ only in numbers (sizes, byte offsets) share a line; past `max_lines`
    distinct reasons the rest are only counted, so a hostile client cannot grow the reply.
    """

    def __init__(self, max_lines: int = 20) -> None:
        self.max_lines = max_lines
        self.frames = 0  # rejected frames (status reports are not frames)
        self._groups: dict[str, list[object]] = {}  # key → [reason, first message, count]
        self._overflow = 0

    def add(self, reason: str, message: str) -> None:
        if reason != "status":
            self.frames += 1
        key = f"{reason}:{re.sub(r'[0-9a-f]{2}(?: [0-9a-f]{2})+|[0-9][0-9,.]*', '#', message)}"
        group = self._groups.get(key)
        if group is not None:
            group[2] = int(group[2]) + 1  # type: ignore[call-overload]
        elif len(self._groups) < self.max_lines:
            self._groups[key] = [reason, message, 1]
        else:
            self._overflow += 1

    def lines(self) -> list[str]:
        out = []
        for reason, message, count in self._groups.values():
            noun = "status reports" if reason == "status" else "frames"
            if count == 1:
                noun = noun.removesuffix("s")
            out.append(f"{count} {noun} rejected ({REASON_LABELS[str(reason)]}): {message}")
        if self._overflow:
            out.append(f"{self._overflow} more rejected for other reasons")
        return out


class CameraSession:
    """One camera's frames from one source: health, motion gate, JPEG, publishing, state reporting.

    `run(source)` reads until the source ends (returns), fails (raises its BasiraError) or the task
    is cancelled. State changes go to `on_state` (the table) and, as health events, to NATS.
    """

    def __init__(self, camera: CameraRecord, publisher: EventPublisher, settings: IngestSettings,
                 stats: StreamStats, on_state: StateSink) -> None:
        self.camera, self.publisher, self.settings, self.stats = camera, publisher, settings, stats
        self._on_state = on_state
        tamper = MOVING_TAMPER if camera.moving else TamperConfig()
        self.health = CameraHealthMonitor(camera.id, tamper=tamper, offline_after_s=settings.offline_after_s)
        gated = settings.motion_gate and not camera.moving
        self.motion = MotionGate(MotionConfig(keepalive_s=settings.motion_keepalive_s)) if gated else None
        self.last_detail = ""
        self.device_position: tuple[float, float] | None = None  # last position a moving device sent
        self._lock = threading.Lock()  # the monitor is fed from the frame thread and the event loop
        self._reset_motion = False
        self._queue: asyncio.Queue[SourceEvent | None] = asyncio.Queue(maxsize=STATE_QUEUE_MAX)

    # -- called by the source (a plain function, on the event loop) --
    def on_source_event(self, event: SourceEvent) -> None:
        self._enqueue(event)
        if event.state is SourceState.CONNECTED:
            self._reset_motion = True  # a reconnect: the first frame is always passed

    def _enqueue(self, event: SourceEvent | None) -> None:
        if self._queue.full():  # a state loop stuck on NATS: keep the newest changes
            self._queue.get_nowait()
        self._queue.put_nowait(event)

    async def run(self, source: FrameSource) -> None:
        states = asyncio.create_task(self._state_loop(), name=f"ingest-state-{self.camera.id}")
        watchdog = asyncio.create_task(self._watch(), name=f"ingest-watch-{self.camera.id}")
        cancelled = False
        try:
            async with source:
                await self._pump(source)
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            watchdog.cancel()
            if cancelled:
                states.cancel()
            else:  # let the last changes (ended, failed) reach the table and NATS
                self._enqueue(None)
                try:
                    await asyncio.wait_for(states, DRAIN_TIMEOUT_S)
                except Exception as exc:  # timed out, or NATS/the table failed: the frames are done
                    log.warning("camera %s: last stream states not published: %r", self.camera.id, exc)

    async def publish_health(self, events: list[HealthEvent],
                             device: camera_pb2.DeviceStatus | None = None) -> None:
        for event in events:
            await self.publisher.publish_health(health_message(self.camera, event, device))

    def note_position(self, device: camera_pb2.DeviceStatus) -> None:
        """A moving device's reported position becomes its frames' (and so its sightings') position."""
        if device.HasField("position") and self.camera.moving:
            lat, lon = device.position.latitude, device.position.longitude
            if -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0:  # NaN fails both: ignored
                self.device_position = (lat, lon)

    def _process(self, timestamp: float, image: np.ndarray) -> tuple[list[HealthEvent], bytes | None]:
        """Runs on a worker thread: health analysis, the motion gate, and JPEG encoding."""
        with self._lock:
            try:
                events = self.health.on_frame(timestamp, image)
            except Exception:  # advisory analysis: a bug there must never stop the frames
                log.exception("health analysis failed; frame passed on", extra={"camera": self.camera.id})
                events = []
        if self.motion is not None:
            if self._reset_motion:
                self._reset_motion = False
                self.motion.reset()
            if not self.motion.check(timestamp, image).keep:
                return events, None
        return events, encode_jpeg(image, self.settings.jpeg_quality)

    async def _pump(self, source: FrameSource) -> None:
        stats = self.stats
        async for timestamp, image in source:
            stats.reads, stats.delivered = source.reads, source.delivered
            events, jpeg = await asyncio.to_thread(self._process, timestamp, image)
            await self.publish_health(events)
            if jpeg is None:
                stats.still += 1
                FRAMES_TOTAL.labels("still").inc()
                continue
            height, width = image.shape[:2]
            event = frame_event(self.camera, number=source.delivered, captured=timestamp, jpeg=jpeg,
                                width=width, height=height, position=self.device_position)
            await self.publisher.publish_frame(event, self._refused)
            stats.published += 1
            FRAMES_TOTAL.labels("published").inc()
        stats.reads = source.reads

    def _refused(self, wait_s: float) -> None:
        self.stats.refusals += 1
        self.stats.waited_s += wait_s
        BACKPRESSURE_SECONDS.inc(wait_s)
        # The source is not silent: we are not reading it while analytics catches up. Without this,
        # a long wait would be reported as the camera going offline.
        with self._lock:
            self.health.watchdog.frame_seen()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_CHECK_PERIOD_S)
            with self._lock:
                events = self.health.check()
            await self.publish_health(events)

    async def _state_loop(self) -> None:
        previous: int | None = None
        while (event := await self._queue.get()) is not None:
            state = STREAM_STATE_FOR_SOURCE[event.state]
            self.last_detail = event.detail
            self.stats.state = event.state.value
            with self._lock:
                events = self.health.on_source_event(event)
            if state == previous:  # LOST then RECONNECTING: one change for the camera
                continue
            previous = state
            try:
                await self._on_state(state, event.detail)
            except (psycopg.Error, PoolTimeout, BasiraError) as exc:
                log.warning("camera %s: stream state not recorded: %s", self.camera.id, exc)
            await self.publish_health(events)


@dataclass
class _Pulled:
    task: asyncio.Task[None]
    record: CameraRecord
    stats: StreamStats
    renewed: float = field(default_factory=time.monotonic)


class PushSession:
    """One PushFrames call: frames pushed into a `PushedSource`, read by a `CameraSession` task."""

    def __init__(self, camera: CameraRecord, manager: StreamManager, bucket: TokenBucket) -> None:
        settings = manager.settings
        self.camera, self.bucket, self._manager = camera, bucket, manager
        self.rate, self.burst = settings.push_rate_fps, settings.push_burst
        self.stats = StreamStats(camera.id, "pushed")
        self.tally = RejectionTally(settings.max_rejection_lines)
        self.received = 0
        self.ended_because: str | None = None  # set when the service ends the session, not the sender

        async def record_state(state: int, detail: str) -> None:
            await manager.store.set_push_state(camera.id, state, detail)

        self.session = CameraSession(camera, manager.publisher, settings, self.stats, record_state)
        self.source = PushedSource(camera.id, maxsize=settings.push_queue,
                                   sampler=FrameRateSampler(camera.analysis_fps),
                                   max_width=settings.analysis_max_width, limits=manager.limits,
                                   on_state=self.session.on_source_event)
        self._task = asyncio.create_task(self._run(), name=f"ingest-push-{camera.id}")

    async def _run(self) -> None:
        STREAMS_OPEN.labels("pushed").inc()
        try:
            await self.session.run(self.source)
        finally:
            STREAMS_OPEN.labels("pushed").dec()
            self._manager._push_done(self)

    def _failure(self) -> str | None:
        """Why the frame pipeline stopped on its own, if it did (NATS closed, an internal error)."""
        if not self._task.done() or self._task.cancelled() or self._task.exception() is None:
            return None
        return f"the frame pipeline of camera {self.camera.id} stopped: {self._task.exception()}"

    async def push(self, data: bytes, captured: float | None) -> None:
        """One encoded frame; a bad or over-rate frame is tallied, never raised. Waits while the
        queue is full. Raises FailedPrecondition once the session has been ended by the service."""
        self.received += 1
        if not self.bucket.take():
            self._reject("rate", f"camera {self.camera.id} may push {self.rate:g} frames/s (bursts of "
                                 f"{self.burst}); send fewer frames per second")
            return
        try:
            await self.source.push(data, captured)
        except FailedPrecondition as exc:
            raise FailedPrecondition(self.ended_because or self._failure() or exc.message) from exc
        except TooLarge as exc:
            self._reject("too_large", exc.message)
        except InvalidInput as exc:
            self._reject("invalid", exc.message)

    def wrong_camera(self, named: str) -> None:
        self.received += 1
        self._reject("camera", f"a frame names camera {named[:80]!r} but this stream is for "
                               f"{self.camera.id}; open one stream per camera")

    async def report_power(self, report: PowerReport, device: camera_pb2.DeviceStatus | None) -> None:
        """A device's power report; an impossible one (battery over 100 %) is tallied, not raised."""
        if device is not None:
            self.session.note_position(device)
        try:
            await self._manager.report_power(self.camera.id, report, device)
        except InvalidInput as exc:
            self.tally.add("status", exc.message)

    def _reject(self, reason: str, message: str) -> None:
        self.tally.add(reason, message)
        FRAMES_TOTAL.labels("rejected").inc()

    async def finish(self) -> None:
        """The sender is done: returns once every queued frame is published. Raises
        FailedPrecondition if the service ended the session, Unavailable if the pipeline failed."""
        await self.source.end("sender finished")
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await self._task
        if self.ended_because:
            raise FailedPrecondition(self.ended_because)
        failure = self._failure()
        if failure:
            raise Unavailable(failure)

    async def stop(self, reason: str, *, final_state: int | None = ENDED) -> None:
        """End the session from the service side; `final_state` is recorded unless None (replaced)."""
        if self.ended_because is None:
            self.ended_because = reason
        await self.source.end(reason)
        self._task.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await self._task
        if final_state is not None:
            with contextlib.suppress(psycopg.Error, PoolTimeout, BasiraError):
                await self._manager.store.set_push_state(self.camera.id, final_state, reason)

    async def close(self) -> None:
        """Release everything once the call is over, however it ended; idempotent."""
        if not self._task.done():
            await self.stop("the push stream was closed before it finished")


class StreamManager:
    """Runs this instance's camera streams and push sessions; see the module docstring."""

    def __init__(self, store: CameraStore, publisher: EventPublisher, settings: IngestSettings) -> None:
        self.store, self.publisher, self.settings = store, publisher, settings
        self.me = settings.instance_id or (
            f"ingest-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        self.limits = FrameLimits(max_bytes=settings.max_frame_bytes, max_pixels=settings.max_frame_pixels,
                                  max_side=settings.max_frame_side)
        self.options = StreamOptions(
            open_timeout_s=settings.stream_open_timeout_s, read_timeout_s=settings.stream_read_timeout_s,
            backoff=Backoff(initial_s=settings.reconnect_initial_s, max_s=settings.reconnect_max_s))
        self._pulled: dict[str, _Pulled] = {}
        self._pushes: dict[str, PushSession] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._wake: asyncio.Event | None = None
        self.power_config = PowerConfig()
        self._power_lock = asyncio.Lock()
        self._power_sources: dict[str, PowerSource] = {}  # last reported source, for change events

    @property
    def reconcile_every_s(self) -> float:
        return self.settings.stream_lease_s / 3

    def stats(self, camera_id: str) -> StreamStats | None:
        """Counters of the camera's current session in this instance, if it has one."""
        if camera_id in self._pulled:
            return self._pulled[camera_id].stats
        if camera_id in self._pushes:
            return self._pushes[camera_id].stats
        return None

    def running(self) -> list[str]:
        return sorted(self._pulled)

    # ---- operator actions ----

    async def start(self, camera_id: str) -> CameraRecord:
        """StartStream: want the stream, and read it here if this instance has room and the lease."""
        if camera_id in self._pushes:
            raise FailedPrecondition(f"camera {camera_id} is pushing frames; its pushed stream must end "
                                     "before its source is read")
        record = await self.store.want_stream(camera_id, True, "start requested")
        if camera_id not in self._pulled and len(self._pulled) < self.settings.max_streams:
            claimed = await self.store.claim(camera_id, self.me, self.settings.stream_lease_s)
            if claimed is not None:
                self._launch(claimed)
                return claimed
        self.wake()
        return record

    async def stop(self, camera_id: str, detail: str = "stopped by request") -> CameraRecord:
        """StopStream: not wanted any more; a local stream or push session ends now, a stream read
        by another instance ends at that instance's next reconcile."""
        before = await self.store.get(camera_id)
        record = await self.store.want_stream(camera_id, False, detail)
        await self._end_local(camera_id, detail, announce=before.stream_wanted, camera=record)
        return record

    async def forget(self, record: CameraRecord, was_wanted: bool) -> None:
        """The camera was decommissioned: end its local stream or push session."""
        await self._end_local(record.id, "camera decommissioned", announce=was_wanted, camera=record)

    def wake(self) -> None:
        """Reconcile soon (after an update, a start this instance had no room for...)."""
        if self._wake is not None:
            self._wake.set()

    async def _end_local(self, camera_id: str, detail: str, *, announce: bool, camera: CameraRecord) -> None:
        stopped = await self._halt(camera_id)
        push = self._pushes.get(camera_id)
        if push is not None:
            await push.stop(f"camera {camera_id}: {detail}", final_state=None)  # the caller recorded it
            stopped = True
        if stopped or announce:
            # An operator's call must not hang on NATS: the table already says STOPPED.
            event = health_message(camera, stream_health(camera, STOPPED, detail))
            try:
                await asyncio.wait_for(self.publisher.publish_health(event), self.settings.publish_timeout_s)
            except TimeoutError:
                log.warning("camera %s: STOPPED health event not published (NATS unavailable)", camera_id)

    # ---- power reports (pushed with frames, or ReportCameraStatus) ----

    async def report_power(self, camera_id: str, report: PowerReport,
                           device: camera_pb2.DeviceStatus | None = None) -> CameraRecord:
        """Judge a power report against the camera's last one and its registered power source, keep it,
        and publish a `power` health event if the level or source changed. InvalidInput for a
        battery level outside 0–100; NotFound for an unknown camera."""
        async with self._power_lock:
            camera = await self.store.get(camera_id)
            monitor = PowerMonitor(camera_id, self.power_config,
                                   expected=POWER_SOURCES.get(camera.power_source))
            monitor.level = PowerLevel(camera.power_state) if camera.power_state else None
            monitor.source = self._power_sources.get(camera_id)
            now = time.time()
            events = monitor.update(report, now)
            self._power_sources[camera_id] = report.source
            percent = -1 if report.battery_percent is None else round(report.battery_percent)
            level = monitor.level.value if monitor.level is not None else ""
            await self.store.set_power(camera_id, percent, level, datetime.fromtimestamp(now, UTC))
        for event in events:
            await self.publisher.publish_health(health_message(camera, event, device))
        return await self.store.get(camera_id)

    # ---- pushed frames ----

    async def open_push(self, camera: CameraRecord) -> PushSession:
        """A push session for `camera`; a previous one of this instance is ended (the newest wins:
        a device that reconnects must not wait for its dead connection to time out)."""
        if camera.decommissioned:
            raise FailedPrecondition(f"camera {camera.id} is decommissioned; it accepts no frames")
        if camera.stream_wanted or camera.id in self._pulled:
            raise FailedPrecondition(f"camera {camera.id} is read from its source_url (its stream is "
                                     "started); stop the stream before pushing frames for it")
        previous = self._pushes.pop(camera.id, None)
        if previous is not None:
            await previous.stop(f"replaced by a newer push stream for camera {camera.id}", final_state=None)
        bucket = self._buckets.get(camera.id)
        if bucket is None:
            bucket = self._buckets[camera.id] = TokenBucket(self.settings.push_rate_fps,
                                                            self.settings.push_burst)
        session = PushSession(camera, self, bucket)
        self._pushes[camera.id] = session
        return session

    def _push_done(self, session: PushSession) -> None:
        if self._pushes.get(session.camera.id) is session:
            del self._pushes[session.camera.id]

    # ---- pulled streams ----

    def _launch(self, record: CameraRecord) -> None:
        """Start reading a stream this instance holds the lease of; a no-op if it already reads it
        (StartStream and the reconcile loop may both claim the same camera)."""
        if record.id in self._pulled:
            return
        stats = StreamStats(record.id, "pulled")
        task = asyncio.create_task(self._run_pulled(record, stats), name=f"ingest-stream-{record.id}")
        self._pulled[record.id] = _Pulled(task, record, stats)
        log.info("stream started", extra={"camera": record.id, "instance": self.me})

    async def _run_pulled(self, record: CameraRecord, stats: StreamStats) -> None:
        me, store = self.me, self.store

        async def record_state(state: int, detail: str) -> None:
            if state in (ENDED, FAILED):
                return  # final states are written below, once the source is closed
            await store.set_stream_state(record.id, me, state, detail)

        session = CameraSession(record, self.publisher, self.settings, stats, record_state)
        STREAMS_OPEN.labels("pulled").inc()
        try:
            source = open_source(record.source_url, name=record.id, loop=record.loop,
                                 realtime=self.settings.file_realtime, options=self.options,
                                 sampler=FrameRateSampler(record.analysis_fps),
                                 max_width=self.settings.analysis_max_width, limits=self.limits,
                                 on_state=session.on_source_event)
            await session.run(source)
        except asyncio.CancelledError:
            raise
        except BasiraError as exc:
            log.warning("stream failed", extra={"camera": record.id, "error": exc.message})
            await self._finish(record, FAILED, exc.message)
        except Exception as exc:
            log.exception("stream crashed", extra={"camera": record.id})
            await self._finish(record, FAILED, f"internal error: {type(exc).__name__}: {exc}")
        else:
            await self._finish(record, ENDED, session.last_detail or "source ended")
        finally:
            current = self._pulled.get(record.id)
            if current is not None and current.task is asyncio.current_task():
                del self._pulled[record.id]
            STREAMS_OPEN.labels("pulled").dec()

    async def _finish(self, record: CameraRecord, state: int, detail: str) -> None:
        with contextlib.suppress(psycopg.Error, PoolTimeout, BasiraError):
            await self.store.finish_stream(record.id, self.me, state, detail)

    async def _halt(self, camera_id: str) -> bool:
        """Cancel this instance's reader of the camera and wait for it; False if there was none."""
        running = self._pulled.pop(camera_id, None)
        if running is None:
            return False
        running.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running.task
        log.info("stream halted", extra={"camera": camera_id, "instance": self.me})
        return True

    async def reconcile(self) -> None:
        """Renew leases, drop streams stopped/taken/changed elsewhere, take over orphaned ones."""
        lease = self.settings.stream_lease_s
        running = list(self._pulled)
        revisions = await self.store.renew(self.me, running, lease)
        now = time.monotonic()
        for camera_id in running:
            current = self._pulled.get(camera_id)
            if current is None:
                continue
            if camera_id not in revisions:
                await self._halt(camera_id)  # stopped, decommissioned, or the lease was taken
            elif revisions[camera_id] != current.record.revision:
                await self._apply_update(camera_id, current)
            else:
                current.renewed = now
        room = self.settings.max_streams - len(self._pulled)
        for record in await self.store.claim_orphans(self.me, lease, room, list(self._pulled)):
            self._launch(record)
        for camera_id in await self.store.unusable(list(self._pushes)):
            push = self._pushes.get(camera_id)
            if push is not None:
                await push.stop(f"camera {camera_id} was decommissioned", final_state=None)

    async def _apply_update(self, camera_id: str, current: _Pulled) -> None:
        """The camera was updated: restart its reader if what it reads or publishes changed."""
        fresh = await self.store.find(camera_id)
        if fresh is not None and _stream_settings(fresh) == _stream_settings(current.record):
            current.record, current.renewed = fresh, time.monotonic()
            return
        await self._halt(camera_id)
        claimed = await self.store.claim(camera_id, self.me, self.settings.stream_lease_s)
        if claimed is not None:
            self._launch(claimed)

    async def _drop_expired(self) -> None:
        """The database is unreachable: a stream whose lease may have passed to another instance
        is stopped here rather than read twice."""
        deadline = time.monotonic() - self.settings.stream_lease_s
        for camera_id, running in list(self._pulled.items()):
            if running.renewed < deadline:
                log.warning("lease not renewed in time; stream stopped here", extra={"camera": camera_id})
                await self._halt(camera_id)

    async def run(self, stop: asyncio.Event) -> None:
        """The reconcile loop (a `host.loop`): on start it resumes streams wanted before a restart."""
        self._wake = asyncio.Event()
        try:
            while not stop.is_set():
                try:
                    await self.reconcile()
                except (psycopg.Error, PoolTimeout, BasiraError) as exc:
                    log.warning("stream reconcile failed: %s", exc)
                    await self._drop_expired()
                self._wake.clear()
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
                try:
                    await asyncio.wait(waiters, timeout=self.reconcile_every_s,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop everything this instance reads; streams stay wanted and resume on the next start."""
        ids = list(self._pulled)
        for camera_id in ids:
            await self._halt(camera_id)
        for push in list(self._pushes.values()):
            await push.stop("ingest is shutting down; reconnect to push again")
        with contextlib.suppress(psycopg.Error, PoolTimeout, BasiraError):
            await self.store.release(self.me, ids)


def _stream_settings(record: CameraRecord) -> tuple[object, ...]:
    """What a running reader depends on (a name change needs no restart)."""
    return (record.source_url, record.analysis_fps, record.loop, record.kind, record.zone,
            record.owner_agency)
