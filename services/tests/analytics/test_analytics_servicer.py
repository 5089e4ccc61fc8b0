"""AnalyticsService methods called directly, with the real plate and face engines on real images."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from basira.analytics.engines import EngineThreads
from basira.analytics.faces import LazyFaceEngine
from basira.analytics.plates.engine import PlateEngine, create_plate_engine
from basira.analytics.servicer import AnalyticsServicer
from basira.common.errors import FailedPrecondition, InvalidInput, TooLarge
from basira.ingest.frames import FrameLimits
from basira.v1 import analytics_pb2, common_pb2

NO_CONTEXT: Any = None  # servicers are called directly; they never touch the gRPC context


@pytest.fixture(scope="module")
def plates() -> PlateEngine:
    return create_plate_engine({"type": "rapidocr"})


@pytest.fixture(scope="module")
def threads() -> Iterator[EngineThreads]:
    pool = EngineThreads(2, "test-analytics")
    yield pool
    pool.shutdown()


@pytest.fixture(scope="module")
def servicer(plates: PlateEngine, threads: EngineThreads) -> AnalyticsServicer:
    return AnalyticsServicer(plates, LazyFaceEngine({"type": "dlib"}), threads)


def jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


async def test_reads_the_plate_of_a_real_car_off_the_event_loop(
    servicer: AnalyticsServicer, shared_data: Path
) -> None:
    image = (shared_data / "plates" / "eu" / "eu1.jpg").read_bytes()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    running = asyncio.create_task(ticker())
    response = await servicer.ReadPlates(analytics_pb2.ReadPlatesRequest(image=image), NO_CONTEXT)
    running.cancel()
    assert (response.image_width, response.image_height) == (1000, 750)
    best = response.plates[0]
    assert best.text == "M5XSX" and best.country == "GB" and 0 < best.confidence <= 1
    assert best.box.width > 0 and best.box.height > 0
    assert ticks >= 5  # the loop kept running while the engine worked on another thread


@pytest.mark.parametrize("data", [b"", b"GIF89a not a jpeg", b"\xff\xd8\xff\xe0 truncated"])
async def test_undecodable_images_name_the_image_field(servicer: AnalyticsServicer, data: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        await servicer.ReadPlates(analytics_pb2.ReadPlatesRequest(image=data), NO_CONTEXT)
    assert caught.value.field == "image"


async def test_oversized_images_are_refused_before_decoding(
    plates: PlateEngine, threads: EngineThreads, shared_data: Path
) -> None:
    small_limits = AnalyticsServicer(
        plates, LazyFaceEngine({"type": "dlib"}), threads, FrameLimits(max_pixels=640 * 480)
    )
    image = (shared_data / "plates" / "eu" / "eu1.jpg").read_bytes()
    with pytest.raises(TooLarge, match="image"):
        await small_limits.ReadPlates(analytics_pb2.ReadPlatesRequest(image=image), NO_CONTEXT)


async def test_detects_and_embeds_faces(servicer: AnalyticsServicer, shared_data: Path) -> None:
    couple = (shared_data / "faces" / "pairs" / "couple.jpg").read_bytes()
    detected = await servicer.DetectFaces(analytics_pb2.DetectFacesRequest(image=couple), NO_CONTEXT)
    assert len(detected.faces) == 2 and (detected.image_width, detected.image_height) == (2280, 1588)
    box = detected.faces[1].box
    embedded = await servicer.EmbedFace(analytics_pb2.EmbedFaceRequest(image=couple, face=box), NO_CONTEXT)
    assert len(embedded.embedding) == 128 and embedded.model == "dlib-resnet-v1"
    assert embedded.face.box == box


async def test_embedding_refuses_bad_boxes_and_faceless_images(
    servicer: AnalyticsServicer, shared_data: Path
) -> None:
    couple = (shared_data / "faces" / "pairs" / "couple.jpg").read_bytes()
    outside = common_pb2.Box(x=2200, y=10, width=200, height=200)
    with pytest.raises(InvalidInput) as caught:
        await servicer.EmbedFace(analytics_pb2.EmbedFaceRequest(image=couple, face=outside), NO_CONTEXT)
    assert caught.value.field == "face"
    road = jpeg(np.full((240, 320, 3), 90, np.uint8))
    with pytest.raises(InvalidInput) as caught:
        await servicer.EmbedFace(analytics_pb2.EmbedFaceRequest(image=road), NO_CONTEXT)
    assert caught.value.field == "image"


async def test_face_rpcs_fail_precondition_without_the_configured_models(
    plates: PlateEngine, threads: EngineThreads, tmp_path: Path
) -> None:
    missing = tmp_path / "insightface"
    no_faces = AnalyticsServicer(
        plates, LazyFaceEngine({"type": "insightface", "model_dir": str(missing)}), threads
    )
    road = jpeg(np.full((240, 320, 3), 90, np.uint8))
    with pytest.raises(FailedPrecondition, match=str(missing)):
        await no_faces.DetectFaces(analytics_pb2.DetectFacesRequest(image=road), NO_CONTEXT)
    plates_still_work = await no_faces.ReadPlates(analytics_pb2.ReadPlatesRequest(image=road), NO_CONTEXT)
    assert list(plates_still_work.plates) == []
