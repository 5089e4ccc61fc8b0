"""Search test fixtures: a migrated pool on the real PostgreSQL, a gate with a policy stand-in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from basira.analytics.face_path import FacePath
from basira.analytics.faces import create_face_engine
from basira.common.auth import Subject
from basira.common.db import migrate, open_pool
from basira.common.gate import Gate
from basira.search.server import MIGRATIONS
from basira.v1 import common_pb2, events_pb2
from services.tests.support.gate_doubles import ListAudit, NoVerifier, RecordingPolicy, calling_as

AGREEMENTS = {"police": {"medina", "port"}, "traffic": {"ring-road"}}


@dataclass
class StandInPolicy(RecordingPolicy):
    """A small stand-in for the real Rego policy, only for unit tests of the search servicer.

    Unmasking: the agency's agreement must cover the zone, the subject must be an investigator, and
    faces (data class biometric) also need an authorization in the context. `obligations` is added to
    every allowed decision; `deny_all` refuses everything.
    """

    deny_all: bool = False

    def refusals(self, document: dict[str, Any], obligations: dict[str, Any]) -> list[str]:
        subject, resource, context = document["subject"], document["resource"], document["context"]
        reasons: list[str] = []
        if self.deny_all:
            reasons.append("denied by the test")
        if resource.get("zone") and resource["zone"] not in AGREEMENTS.get(subject["agency"], set()):
            reasons.append(f"zone {resource['zone']!r} is outside the agreement")
        if document["action"] == "evidence.unmask":
            if "investigator" not in subject["roles"]:
                reasons.append("only investigators unmask")
            if resource.get("data_class") == "biometric" and "authorization" not in context:
                reasons.append("unmasking faces needs an authorization")
        return reasons


@pytest.fixture
async def search_pool(postgres_url: str) -> AsyncIterator[Any]:
    pool = await open_pool(postgres_url, max_size=4)
    await migrate(pool, "search", MIGRATIONS)
    yield pool
    await pool.close()


@pytest.fixture
def policy() -> StandInPolicy:
    return StandInPolicy()


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def gate(policy: StandInPolicy, audit: ListAudit) -> Gate:
    return Gate("search", NoVerifier(), policy, audit)


def calling_for_theft(subject: Subject, obligations: dict[str, Any] | None = None,
                      context: dict[str, Any] | None = None) -> AbstractContextManager[None]:
    """What the gate interceptor sets before a servicer runs; the purpose is a theft investigation
    unless the test gives another context."""
    return calling_as(subject, obligations, context or {"purpose": "theft-investigation"})


@pytest.fixture
def calling() -> Any:
    return calling_for_theft


@pytest.fixture
def eu_plate(shared_data: Path) -> tuple[bytes, tuple[int, int, int, int], str]:
    """eu1.jpg, its plate box (x, y, w, h) and text from the benchmark's ground truth."""
    fields = (shared_data / "plates" / "eu" / "eu1.txt").read_text().strip().split("\t")
    x, y, w, h = (int(v) for v in fields[1:5])
    return (shared_data / "plates" / "eu" / "eu1.jpg").read_bytes(), (x, y, w, h), fields[5]


class DetectionMsg:
    """What the indexer reads of a NATS message (data and subject), to index without a broker."""

    def __init__(self, data: bytes, subject: str = "detections.face.cam") -> None:
        self.data, self.subject = data, subject


@pytest.fixture(scope="module")
def path() -> FacePath:
    """The default face engine's path (YuNet + SFace), as analytics runs it."""
    return FacePath(create_face_engine({"type": "yunet-sface"}))


def face_event(path: FacePath, image: bytes, camera: str, zone: str, seen: datetime
               ) -> events_pb2.FaceDetectionEvent:
    """The detection analytics would publish for the one face of `image`, seen at `camera`."""
    pixels = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    embedding = path.enrolment(pixels, "photo")
    x, y, w, h = embedding.face.box
    event = events_pb2.FaceDetectionEvent(
        id=uuid.uuid4().hex, frame_id="f", camera_id=camera, zone=zone, owner_agency="police",
        box=common_pb2.Box(x=x, y=y, width=w, height=h), embedding=list(embedding.vector),
        model=embedding.model, snapshot_id=f"snap-{uuid.uuid4().hex[:8]}", snapshot_jpeg=image, track_id="t")
    event.captured.FromDatetime(seen)
    return event
