"""The frame pipeline as plain functions: frame message → checks → plate detection and count events.

Event ids are derived from what they describe (frame id + plate index, camera + minute), so a frame
processed twice (redelivery after a crash) publishes the same ids and JetStream drops the copies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from basira.analytics.counting import CountBucket
from basira.analytics.plates.engine import PlateRead
from basira.analytics.plates.passages import Passage
from basira.v1 import analytics_pb2, common_pb2, events_pb2

# A NATS subject token: no separators, wildcards or whitespace.
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{1,128}")


class PoisonFrame(ValueError):
    """A frame message that can never be processed (retrying cannot help): it is dropped."""


def plate_subject(camera_id: str) -> str:
    return f"detections.plate.{camera_id}"


def count_subject(camera_id: str) -> str:
    return f"counts.{camera_id}"


def parse_frame(data: bytes) -> events_pb2.FrameEvent:
    """Decode and check a `frames.<camera>` message; raises PoisonFrame saying what is wrong."""
    try:
        frame = events_pb2.FrameEvent.FromString(data)
    except DecodeError as exc:
        raise PoisonFrame(f"not a FrameEvent: {exc}") from exc
    if not frame.id:
        raise PoisonFrame("frame has no id")
    if not _TOKEN.fullmatch(frame.camera_id):
        raise PoisonFrame(f"frame {frame.id} has camera id {frame.camera_id!r}, not a subject token")
    if not frame.jpeg:
        raise PoisonFrame(f"frame {frame.id} carries no image")
    return frame


def _set(ts: Timestamp) -> bool:
    return ts.seconds != 0 or ts.nanos != 0


def frame_time(frame: events_pb2.FrameEvent) -> datetime | None:
    """When the frame was captured (else published), tz-aware UTC; None if it carries neither."""
    for ts in (frame.captured, frame.published):
        if _set(ts):
            return ts.ToDatetime(tzinfo=UTC)
    return None


def plate_event_id(frame_id: str, index: int) -> str:
    return f"{frame_id}:plate:{index}"


def plate_reading(read: PlateRead) -> analytics_pb2.PlateReading:
    x, y, w, h = read.box
    alternatives = [analytics_pb2.PlateAlternative(text=a.text, display=a.display, country=a.country,
                                                   confidence=a.confidence) for a in read.alternatives]
    return analytics_pb2.PlateReading(text=read.text, display=read.display, country=read.country,
                                      confidence=read.confidence,
                                      box=common_pb2.Box(x=x, y=y, width=w, height=h),
                                      alternatives=alternatives)


def plate_detection_events(frame: events_pb2.FrameEvent, reads: Sequence[PlateRead],
                           passages: Sequence[Passage] | None = None) -> list[events_pb2.PlateDetectionEvent]:
    """One event per plate read in `frame`; the frame's JPEG is the evidence snapshot.

    With `passages` (one per read, see plates.passages), each event also names its passage and
    carries the passage's fused reading so far.
    """
    events = []
    for index, read in enumerate(reads):
        event = events_pb2.PlateDetectionEvent(
            id=plate_event_id(frame.id, index), frame_id=frame.id, camera_id=frame.camera_id,
            zone=frame.zone, owner_agency=frame.owner_agency, captured=frame.captured,
            frame_published=frame.published, plate=plate_reading(read), snapshot_jpeg=frame.jpeg,
            snapshot_id=frame.id, position=frame.position if frame.HasField("position") else None,
        )
        if passages is not None:
            passage = passages[index]
            event.passage_id = passage.id
            event.passage_plate.CopyFrom(plate_reading(passage.plate))
            event.passage_frames = passage.frames
        events.append(event)
    return events


def sighting_subject(camera_id: str) -> str:
    return f"detections.sighting.{camera_id}"


def _timestamp(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def plate_sighting_event(passage: Passage, zone: str, owner_agency: str) -> events_pb2.PlateSightingEvent:
    """The one sighting of a finished passage; its id is the passage's, so a repeat is dropped."""
    best = max(passage.looks, key=lambda look: look.read.confidence)
    in_time = sorted(passage.looks, key=lambda look: look.when)  # frames are read concurrently
    return events_pb2.PlateSightingEvent(
        id=passage.id, camera_id=passage.camera_id, zone=zone, owner_agency=owner_agency,
        first_seen=_timestamp(passage.first_seen), last_seen=_timestamp(passage.last_seen),
        plate=plate_reading(passage.plate), frames=passage.frames,
        detection_ids=[plate_event_id(look.frame_id, look.index) for look in in_time],
        snapshot_id=best.frame_id,
    )


def count_event_id(camera_id: str, minute: datetime) -> str:
    return f"{camera_id}:{minute.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


def count_event(bucket: CountBucket) -> events_pb2.CountEvent:
    minute = Timestamp()
    minute.FromDatetime(bucket.minute.astimezone(UTC))
    return events_pb2.CountEvent(
        id=count_event_id(bucket.camera_id, bucket.minute), camera_id=bucket.camera_id, zone=bucket.zone,
        minute=minute, vehicles=bucket.vehicles, persons=bucket.persons, frames=bucket.frames,
    )
