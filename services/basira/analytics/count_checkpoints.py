"""Durable count checkpoints: each camera's open minute kept in JetStream, so a killed worker loses none.

A frame's counts live in its worker's memory until the minute closes, while the frame itself is acked
(and gone from the FRAMES work queue) as soon as it is handled. So the worker writes the camera's
checkpoint (open minute, last counted frame, closed minutes not yet published) to the COUNTING stream
before it acks the frame, one message per camera subject (the stream keeps the last). A restarted
worker reads them all before it takes a frame: the open minutes go on, the unpublished ones are
published, and frames redelivered from the killed worker that the checkpoint already counted are not
counted again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Any

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from basira.analytics.counting import CountBucket, CountCheckpoint
from basira.common.errors import Unavailable

log = logging.getLogger(__name__)

COUNTING_STREAM = "COUNTING"
CHECKPOINT_PREFIX = "counting.open"

_NATS_ERRORS = (NatsTimeoutError, APIError, nats.errors.Error, OSError)


def checkpoint_subject(camera_id: str) -> str:
    """Where a camera's checkpoint lives (camera ids are subject tokens, see pipeline.parse_frame)."""
    return f"{CHECKPOINT_PREFIX}.{camera_id}"


def _bucket_json(bucket: CountBucket) -> dict[str, Any]:
    return {"zone": bucket.zone, "minute": bucket.minute.isoformat(), "vehicles": bucket.vehicles,
            "persons": bucket.persons, "frames": bucket.frames}


def _bucket(camera_id: str, data: dict[str, Any]) -> CountBucket:
    return CountBucket(camera_id, str(data["zone"]), _aware(data["minute"]), vehicles=int(data["vehicles"]),
                       persons=int(data["persons"]), frames=int(data["frames"]))


def _aware(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone")
    return when


def encode_checkpoint(checkpoint: CountCheckpoint) -> bytes:
    """JSON bytes of a checkpoint (times ISO 8601 with their UTC offset)."""
    return json.dumps({
        "camera_id": checkpoint.camera_id, "version": checkpoint.version,
        "bucket": _bucket_json(checkpoint.bucket) if checkpoint.bucket is not None else None,
        "last_captured": checkpoint.last_captured.isoformat() if checkpoint.last_captured else None,
        "unpublished": [_bucket_json(b) for b in checkpoint.unpublished],
    }, separators=(",", ":")).encode()


def decode_checkpoint(data: bytes) -> CountCheckpoint:
    """The checkpoint in `data`; raises ValueError saying what is wrong with it."""
    try:
        raw = json.loads(data)
        camera = str(raw["camera_id"])
        return CountCheckpoint(
            camera, int(raw["version"]),
            _bucket(camera, raw["bucket"]) if raw["bucket"] is not None else None,
            _aware(raw["last_captured"]) if raw["last_captured"] is not None else None,
            tuple(_bucket(camera, b) for b in raw["unpublished"]))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a count checkpoint: {exc!r}") from exc


class CheckpointStore:
    """Writes and reads the checkpoints of the COUNTING stream; writes never go back a version."""

    def __init__(self, js: JetStreamContext, *, stream: str = COUNTING_STREAM,
                 timeout_s: float = 5.0) -> None:
        self.js, self.stream, self.timeout_s = js, stream, timeout_s
        self._written: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def save(self, checkpoint: CountCheckpoint) -> None:
        """Store `checkpoint` durably (JetStream acknowledged it) unless a newer one is stored already.

        Raises Unavailable when JetStream does not acknowledge.
        """
        async with self._lock:
            if checkpoint.version < self._written.get(checkpoint.camera_id, -1):
                return
            try:
                await self.js.publish(checkpoint_subject(checkpoint.camera_id), encode_checkpoint(checkpoint),
                                      timeout=self.timeout_s)
            except _NATS_ERRORS as exc:
                raise Unavailable(f"count checkpoint of {checkpoint.camera_id} not stored: "
                                  f"{exc or type(exc).__name__}") from exc
            self._written[checkpoint.camera_id] = checkpoint.version

    async def load_all(self) -> list[CountCheckpoint]:
        """Every camera's latest checkpoint; an unreadable one is logged and skipped.

        Raises Unavailable when the stream cannot be read (the worker must not start counting afresh).
        """
        try:
            info = await self.js.stream_info(self.stream, subjects_filter=f"{CHECKPOINT_PREFIX}.>")
            found = []
            for subject in sorted((info.state.subjects or {}) if info.state else {}):
                try:
                    msg = await self.js.get_last_msg(self.stream, subject)
                except NotFoundError:
                    continue
                try:
                    checkpoint = decode_checkpoint(msg.data or b"")
                except ValueError as exc:
                    log.error("count checkpoint skipped: %s", exc, extra={"subject": subject})
                    continue
                self._written[checkpoint.camera_id] = checkpoint.version
                found.append(checkpoint)
        except _NATS_ERRORS as exc:
            raise Unavailable(f"cannot read the count checkpoints in {self.stream}: "
                              f"{exc or type(exc).__name__}") from exc
        return found
