"""Analytics NATS traffic: frame workers reading `frames.>` and publishing plate and face detections and
counts.

Plate reads of one camera are grouped into vehicle passages (`plates.passages`): every detection
names its passage and carries the fused reading so far (matching need not wait for the passage to
end), and a finished passage is published once as a fused sighting on `detections.sighting.<camera>`.

One durable pull consumer, `analytics-frames` on stream FRAMES, is shared by every copy of the service,
so copies split the frames. Within a copy up to `max_in_flight` frames are handled at once; decoding
and counting run on one ordered thread (a camera's frames must reach its counter in order), plate
reading on the engine threads. Poison frames are terminated, refused publishes are retried (NAK).

Counting keeps per-camera state in this process, checkpointed to JetStream (`count_checkpoints`) before
each frame is acked, so a killed worker's open minute is resumed by its restart, not lost. When several
copies split one camera's frames, each counts its share, and their minute buckets share one event id,
so only the first copy's count survives. Run one copy per camera group (or one copy) where counts
matter.

Frames are acked within FRAMES_ACK_WAIT_S of delivery, or redelivered to another worker: a worker killed
mid-frame has its frames handled again well before the stream's 60 s max age expires them. A slow frame
(a busy machine) is kept alive with in-progress acks instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC

import numpy as np
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import Counter as MetricCounter
from prometheus_client import Histogram

from basira.analytics.count_checkpoints import CheckpointStore
from basira.analytics.counting import CameraCounting, CountBucket, CountCheckpoint
from basira.analytics.engines import EngineThreads
from basira.analytics.face_events import FaceDetections
from basira.analytics.pipeline import (
    PoisonFrame,
    count_event,
    count_subject,
    frame_time,
    parse_frame,
    plate_detection_events,
    plate_sighting_event,
    plate_subject,
    sighting_subject,
)
from basira.analytics.plates.engine import PlateEngine
from basira.analytics.plates.passages import Passage, PassageTracker
from basira.analytics.previews import PreviewPublisher
from basira.common.errors import InvalidInput, TooLarge, Unavailable
from basira.common.nats import ConcurrentPullConsumer, Outcome, publish
from basira.ingest.frames import FrameLimits, decode_image
from basira.v1 import events_pb2

log = logging.getLogger(__name__)

FRAMES_STREAM = "FRAMES"
FRAMES_SUBJECT = "frames.>"
FRAMES_DURABLE = "analytics-frames"
MAX_PENDING_COUNTS = 10_000
FRAMES_ACK_WAIT_S = 10.0
FRAMES_KEEP_ALIVE_S = 3.0

FRAME_SECONDS = Histogram("basira_analytics_frame_seconds", "Time to handle one frame (decode, count, read "
                          "plates, publish).", buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
PLATES_READ = MetricCounter("basira_analytics_plates_total", "Plate detections published.")
SIGHTINGS = MetricCounter("basira_analytics_plate_sightings_total",
                          "Fused plate sightings (one per vehicle passage).")


class FrameWorker:
    """Handles `frames.>` messages: decode → count (ordered) → read plates (engine threads) → publish."""

    def __init__(self, js: JetStreamContext, plates: PlateEngine, threads: EngineThreads,
                 counting: CameraCounting, *, limits: FrameLimits | None = None, max_in_flight: int = 4,
                 previews: PreviewPublisher | None = None, faces: FaceDetections | None = None,
                 passages: PassageTracker | None = None, idle_check_s: float = 5.0,
                 checkpoints: CheckpointStore | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.js, self.plates, self.threads, self.counting = js, plates, threads, counting
        self.previews, self.faces, self.checkpoints = previews, faces, checkpoints
        self.limits = limits or FrameLimits()
        self.max_in_flight, self.idle_check_s = max_in_flight, idle_check_s
        self._monotonic = monotonic
        self._ordered = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analytics-count")
        self._pending: list[events_pb2.CountEvent] = []
        self._flush_lock = asyncio.Lock()
        self.passages = passages or PassageTracker()
        self._wall_clock = wall_clock
        self._passage_scope: dict[str, tuple[str, str]] = {}  # passage id → (zone, owner agency)
        self._pending_sightings: list[events_pb2.PlateSightingEvent] = []

    def _decode_and_count(self, frame: events_pb2.FrameEvent
                          ) -> tuple[np.ndarray, list[CountBucket], CountCheckpoint | None]:
        """Runs on the ordered thread: frames reach the counters in the order they were fetched.
        Returns the image, the minutes this frame closed, and the camera's state just after it."""
        image = decode_image(frame.jpeg, self.limits)
        when = frame_time(frame)
        if when is None:
            return image, [], None
        closed = self.counting.observe(frame.camera_id, frame.zone, when, image, self._monotonic())
        return image, closed, self.counting.checkpoint(frame.camera_id)

    async def resume_counts(self) -> int:
        """Before the first frame: resume every camera's checkpointed minute and publish the closed
        minutes a killed worker left unpublished. Returns how many cameras were resumed; raises
        Unavailable when the checkpoints cannot be read."""
        if self.checkpoints is None:
            return 0
        loop = asyncio.get_running_loop()
        resumed = 0
        for checkpoint in await self.checkpoints.load_all():
            if await loop.run_in_executor(self._ordered, self.counting.restore, checkpoint,
                                          self._monotonic()):
                resumed += 1
                self._queue_counts(list(checkpoint.unpublished))
        await self.flush_counts()
        if resumed:
            log.info("count minutes resumed from checkpoints", extra={"cameras": resumed})
        return resumed

    async def _save_checkpoint(self, checkpoint: CountCheckpoint | None) -> bool:
        """Store a camera's state with its closed minutes not yet published; False if JetStream refused."""
        if self.checkpoints is None or checkpoint is None:
            return True
        unpublished = tuple(CountBucket(e.camera_id, e.zone, e.minute.ToDatetime(tzinfo=UTC), e.vehicles,
                                        e.persons, e.frames)
                            for e in self._pending if e.camera_id == checkpoint.camera_id)
        try:
            await self.checkpoints.save(replace(checkpoint, unpublished=unpublished))
        except Unavailable as exc:
            log.warning("counts not checkpointed; frame will be retried: %s", exc.message,
                        extra={"camera": checkpoint.camera_id})
            return False
        return True

    async def handle(self, msg: Msg) -> Outcome:
        """ACK when done; TERM for frames that can never be processed; NAK when a publish is refused."""
        started = time.perf_counter()
        try:
            frame = parse_frame(msg.data)
        except PoisonFrame as exc:
            log.warning("poison frame dropped: %s", exc, extra={"subject": msg.subject})
            return Outcome.TERM
        loop = asyncio.get_running_loop()
        try:
            image, closed, checkpoint = await loop.run_in_executor(self._ordered, self._decode_and_count,
                                                                   frame)
        except (InvalidInput, TooLarge) as exc:
            log.warning("undecodable frame dropped: %s", exc.message,
                        extra={"frame": frame.id, "camera": frame.camera_id})
            return Outcome.TERM
        self._queue_counts(closed)
        await self.flush_counts()
        if not await self._save_checkpoint(checkpoint):
            return Outcome.NAK  # counted in memory; the redelivery is not counted again but checkpoints
        reads = await self.threads.run(self.plates.read, image)
        when = frame_time(frame)
        seen = when.timestamp() if when is not None else self._wall_clock()
        passages = self.passages.observe(frame.camera_id, frame.id, seen, reads)
        for passage in passages:
            self._passage_scope[passage.id] = (frame.zone, frame.owner_agency)
        subject = plate_subject(frame.camera_id)
        for event in plate_detection_events(frame, reads, passages):
            try:
                await publish(self.js, subject, event.SerializeToString(), event.id)
            except Unavailable as exc:
                log.warning("plate detection not published; frame will be retried: %s", exc.message,
                            extra={"frame": frame.id})
                return Outcome.NAK
            PLATES_READ.inc()
        if self.faces is not None and not await self.faces.publish(frame, image):
            return Outcome.NAK
        if self.previews is not None:
            await self.previews.offer(frame, image, reads)
        await self.flush_counts()
        await self.flush_sightings()
        FRAME_SECONDS.observe(time.perf_counter() - started)
        return Outcome.ACK

    def _queue_counts(self, closed: list[CountBucket]) -> None:
        self._pending.extend(count_event(bucket) for bucket in closed)
        if len(self._pending) > MAX_PENDING_COUNTS:
            dropped = len(self._pending) - MAX_PENDING_COUNTS
            del self._pending[:dropped]
            log.error("count events dropped: JetStream has refused them for too long",
                      extra={"dropped": dropped})

    async def flush_counts(self) -> None:
        """Publish closed minute buckets in order; keep the rest for later if JetStream refuses."""
        async with self._flush_lock:
            while self._pending:
                event = self._pending[0]
                try:
                    # A minute carried on after an idle close is published again, fuller: its
                    # frames tell the revisions apart (the same revision again is still dropped).
                    await publish(self.js, count_subject(event.camera_id), event.SerializeToString(),
                                  f"{event.id}:{event.frames}")
                except Unavailable as exc:
                    log.warning("count event not published yet: %s", exc.message, extra={"count": event.id})
                    return
                self._pending.pop(0)

    async def close_idle_buckets(self, stop: asyncio.Event) -> None:
        """Loop: close the minute buckets of silent cameras; at stop, close and publish all open buckets."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.idle_check_s)
            if stop.is_set():
                break
            closed = await loop.run_in_executor(self._ordered, self.counting.close_idle, self._monotonic())
            self._queue_counts(closed)
            await self.flush_counts()
            await self._checkpoint_cameras({bucket.camera_id for bucket in closed})
            await self.end_quiet_passages()
        closed = await loop.run_in_executor(self._ordered, self.counting.close_all)
        self._queue_counts(closed)
        await self.flush_counts()
        await self._checkpoint_cameras({bucket.camera_id for bucket in closed})
        self._queue_sightings(self.passages.close_all())
        await self.flush_sightings()

    async def _checkpoint_cameras(self, cameras: set[str]) -> None:
        """Checkpoint cameras whose minute closed without a frame (a closed, unpublished minute stays
        in the checkpoint until published)."""
        loop = asyncio.get_running_loop()
        for camera in sorted(cameras):
            await self._save_checkpoint(await loop.run_in_executor(self._ordered, self.counting.checkpoint,
                                                                   camera))

    async def end_quiet_passages(self, now: float | None = None) -> None:
        """Publish the sightings of passages with no read for the tracker's gap before `now` (wall clock).

        Only the idle loop ends passages, never a frame: frames are read concurrently and may finish
        out of order, so a later frame must not end a passage an earlier one still belongs to.
        """
        self._queue_sightings(self.passages.close_idle(self._wall_clock() if now is None else now))
        await self.flush_sightings()

    def _queue_sightings(self, closed: list[Passage]) -> None:
        for passage in closed:
            zone, agency = self._passage_scope.pop(passage.id, ("", ""))
            self._pending_sightings.append(plate_sighting_event(passage, zone, agency))
        if len(self._pending_sightings) > MAX_PENDING_COUNTS:
            del self._pending_sightings[: len(self._pending_sightings) - MAX_PENDING_COUNTS]
            log.error("plate sightings dropped: JetStream has refused them for too long")

    async def flush_sightings(self) -> None:
        """Publish the fused sightings of finished passages; keep the rest for later if JetStream refuses."""
        while self._pending_sightings:
            event = self._pending_sightings[0]
            try:
                await publish(self.js, sighting_subject(event.camera_id), event.SerializeToString(), event.id)
            except Unavailable as exc:
                log.warning("plate sighting not published yet: %s", exc.message, extra={"sighting": event.id})
                return
            self._pending_sightings.pop(0)
            SIGHTINGS.inc()

    def consumer(self) -> ConcurrentPullConsumer:
        return ConcurrentPullConsumer(self.js, FRAMES_STREAM, FRAMES_SUBJECT, FRAMES_DURABLE, self.handle,
                                      max_in_flight=self.max_in_flight, ack_wait_s=FRAMES_ACK_WAIT_S,
                                      keep_alive_s=FRAMES_KEEP_ALIVE_S)

    def shutdown(self) -> None:
        self._ordered.shutdown(wait=False, cancel_futures=True)
