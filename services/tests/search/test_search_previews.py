"""The camera wall's latest frame: analytics makes the preview (downscaled, plate boxes scaled), search
serves it masked, from the real PREVIEWS stream."""

from __future__ import annotations

import uuid
from typing import Any

import cv2
import numpy as np
import pytest

from basira.analytics.plates.engine import PlateRead
from basira.analytics.previews import PreviewPublisher, preview_event
from basira.common.auth import Subject
from basira.common.errors import NotFound
from basira.common.nats import publish
from basira.search.config import SearchSettings
from basira.search.servicer import SearchServicer
from basira.search.store import SearchStore
from basira.v1 import events_pb2, search_pb2
from services.tests.support.jetstream import jetstream_session

OPERATOR = Subject(user="omar", agency="police", roles=("operator",), clearance=2)


def _frame(camera: str, image: np.ndarray) -> events_pb2.FrameEvent:
    ok, jpeg = cv2.imencode(".jpg", image)
    assert ok
    return events_pb2.FrameEvent(id=f"{camera}-1", camera_id=camera, zone="medina", owner_agency="police",
                                 jpeg=jpeg.tobytes(), width=image.shape[1], height=image.shape[0])


def _read(box: tuple[int, int, int, int]) -> PlateRead:
    return PlateRead(text="AB123CD", display="AB-123-CD", country="FR", confidence=0.9, box=box)


def test_preview_is_downscaled_with_its_plate_boxes() -> None:
    image = np.full((1080, 1920, 3), 200, np.uint8)
    event = preview_event(_frame("cam-p", image), image, [_read((960, 540, 192, 48))], max_width=640)
    small = cv2.imdecode(np.frombuffer(event.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert small.shape[:2] == (360, 640)
    [box] = event.plates
    assert (box.x, box.y, box.width, box.height) == (320, 180, 64, 16)
    assert event.frame_id == "cam-p-1" and event.zone == "medina"


def test_previews_are_throttled_per_camera() -> None:
    now = [0.0]
    publisher = PreviewPublisher(js=None, interval_s=2.0, monotonic=lambda: now[0])  # type: ignore[arg-type]
    assert publisher.due("a") and publisher.due("b") and not publisher.due("a")
    now[0] = 2.5
    assert publisher.due("a")


@pytest.mark.integration
async def test_search_serves_the_latest_preview_masked(nats_url: str, search_pool: Any, gate: Any,
                                                       calling: Any, eu_plate: Any) -> None:
    jpeg, (x, y, w, h), _ = eu_plate
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    camera = f"cam-wall-{uuid.uuid4().hex[:6]}"
    async with jetstream_session(nats_url, "preview-test") as (_, js):
        servicer = SearchServicer(SearchStore(search_pool), gate, SearchSettings(), js)
        with calling(OPERATOR, {"mask_faces": True, "mask_plates": True, "zones": ["medina"]}), \
                pytest.raises(NotFound):
            await servicer.GetCameraPreview(search_pb2.GetCameraPreviewRequest(camera_id=camera), None)
        event = preview_event(_frame(camera, image), image, [_read((x, y, w, h))], max_width=640)
        await publish(js, f"camera.preview.{camera}", event.SerializeToString(), event.id)
        request = search_pb2.GetCameraPreviewRequest(camera_id=camera)
        with calling(OPERATOR, {"mask_faces": True, "mask_plates": True, "zones": ["medina"]}):
            masked = await servicer.GetCameraPreview(request, None)
        with calling(OPERATOR, {"mask_faces": False, "mask_plates": False, "zones": ["medina"]}):
            clear = await servicer.GetCameraPreview(request, None)
        with calling(OPERATOR, {"mask_faces": True, "mask_plates": True, "zones": ["port"]}), \
                pytest.raises(NotFound):
            await servicer.GetCameraPreview(request, None)  # not a zone this caller may see
    assert masked.plates_masked and masked.faces_masked and not clear.plates_masked
    assert clear.image == event.jpeg and masked.image != event.jpeg
    [box] = event.plates
    decoded = [cv2.imdecode(np.frombuffer(i, np.uint8), cv2.IMREAD_GRAYSCALE)
               for i in (masked.image, clear.image)]
    crops = [d[box.y:box.y + box.height, box.x:box.x + box.width].astype(float) for d in decoded]
    # Pixelated: the plate's fine detail (what makes characters legible) is gone.
    assert np.abs(np.diff(crops[0], axis=1)).mean() < 0.5 * np.abs(np.diff(crops[1], axis=1)).mean()
