"""Frame pipeline functions: poison detection, deterministic event ids, events built from reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from basira.analytics.counting import CountBucket
from basira.analytics.pipeline import (
    PoisonFrame,
    count_event,
    count_subject,
    frame_time,
    parse_frame,
    plate_detection_events,
    plate_subject,
)
from basira.analytics.plates.engine import PlateRead
from basira.v1 import events_pb2

CAPTURED = datetime(2026, 3, 1, 12, 0, 40, 500000, tzinfo=UTC)


def frame(**changes: object) -> events_pb2.FrameEvent:
    captured, published = Timestamp(), Timestamp()
    captured.FromDatetime(CAPTURED)
    published.FromDatetime(CAPTURED.replace(second=41))
    fields: dict[str, object] = dict(
        id="f-1",
        camera_id="cam-12",
        zone="medina",
        owner_agency="police",
        captured=captured,
        published=published,
        jpeg=b"\xff\xd8jpeg",
        width=4,
        height=3,
        frame_number=7,
    )
    fields.update(changes)
    return events_pb2.FrameEvent(**fields)  # type: ignore[arg-type]


def test_a_good_frame_parses() -> None:
    parsed = parse_frame(frame().SerializeToString())
    assert parsed.id == "f-1" and frame_time(parsed) == CAPTURED


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xff\xff garbage",
        frame(id="").SerializeToString(),
        frame(camera_id="").SerializeToString(),
        frame(camera_id="cam.12").SerializeToString(),  # would change the subject it is published on
        frame(camera_id="cam>").SerializeToString(),
        frame(jpeg=b"").SerializeToString(),
    ],
)
def test_poison_frames_are_recognised(payload: bytes) -> None:
    with pytest.raises(PoisonFrame):
        parse_frame(payload)


def test_frame_time_falls_back_to_published_then_none() -> None:
    no_capture = frame()
    no_capture.ClearField("captured")
    assert frame_time(no_capture) == CAPTURED.replace(second=41)
    no_capture.ClearField("published")
    assert frame_time(no_capture) is None


def test_plate_events_carry_the_frame_and_stable_ids() -> None:
    reads = [
        PlateRead("AB123CD", "AB-123-CD", "FR", 0.91, (10, 20, 120, 30)),
        PlateRead("12345B6", "12345 | ب | 6", "MA", 0.8, (300, 20, 100, 28)),
    ]
    first = plate_detection_events(frame(), reads)
    again = plate_detection_events(frame(), reads)
    assert [e.id for e in first] == ["f-1:plate:0", "f-1:plate:1"] == [e.id for e in again]
    event = first[1]
    assert (event.frame_id, event.camera_id, event.zone, event.owner_agency) == (
        "f-1",
        "cam-12",
        "medina",
        "police",
    )
    assert event.snapshot_id == "f-1" and event.snapshot_jpeg == b"\xff\xd8jpeg"
    assert event.captured == frame().captured and event.frame_published == frame().published
    assert (event.plate.text, event.plate.display, event.plate.country) == ("12345B6", "12345 | ب | 6", "MA")
    assert (event.plate.box.x, event.plate.box.width) == (300, 100)
    assert plate_detection_events(frame(), []) == []
    assert plate_subject("cam-12") == "detections.plate.cam-12"


def test_count_events_are_identified_by_camera_and_minute() -> None:
    bucket = CountBucket(
        "cam-12", "medina", CAPTURED.replace(second=0, microsecond=0), vehicles=4, frames=300
    )
    event = count_event(bucket)
    assert event.id == "cam-12:2026-03-01T12:00Z"
    assert (event.vehicles, event.persons, event.frames, event.zone) == (4, 0, 300, "medina")
    assert event.minute.ToDatetime(tzinfo=UTC) == bucket.minute
    assert count_subject("cam-12") == "counts.cam-12"
