"""Face engines: the default dlib engine on real photos, and the factory's errors for missing models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from basira.analytics.faces import DlibFaceEngine, Face, LazyFaceEngine, create_face_engine
from basira.common.errors import ConfigError, FailedPrecondition


@pytest.fixture(scope="module")
def engine() -> DlibFaceEngine:
    built = create_face_engine({"type": "dlib"})
    assert isinstance(built, DlibFaceEngine)
    return built


def photo(shared_data: Path, name: str) -> np.ndarray:
    image = cv2.imread(str(shared_data / "faces" / "pairs" / name))
    assert image is not None
    return image


def test_finds_both_faces_of_a_couple(engine: DlibFaceEngine, shared_data: Path) -> None:
    image = photo(shared_data, "couple.jpg")
    faces = engine.detect(image)
    assert len(faces) == 2
    for face in faces:
        x, y, w, h = face.box
        assert 0 <= x < x + w <= image.shape[1] and 0 <= y < y + h <= image.shape[0]
        assert w > 200  # boxes are in the original image's pixels, not the shrunk detector input
    assert faces[0].score >= faces[1].score


def test_no_face_in_an_empty_road(engine: DlibFaceEngine) -> None:
    road = np.full((240, 320, 3), 90, np.uint8)
    assert engine.detect(road) == []
    assert engine.embed(road) is None


def test_embeddings_separate_people(engine: DlibFaceEngine, shared_data: Path) -> None:
    def vector(name: str) -> np.ndarray:
        embedding = engine.embed(photo(shared_data, name))
        assert embedding is not None and embedding.model == "dlib-resnet-v1"
        assert len(embedding.vector) == 128
        return np.array(embedding.vector)

    a, a_again, b = vector("img20.jpg"), vector("img21.jpg"), vector("img16.jpg")
    same, different = 1 - float(a @ a_again), 1 - float(a @ b)
    print(f"\ndlib cosine distance same person {same:.3f}, different people {different:.3f}")
    assert same <= engine.match_distance < different


def test_embedding_a_given_box(engine: DlibFaceEngine, shared_data: Path) -> None:
    image = photo(shared_data, "couple.jpg")
    smaller = min(engine.detect(image), key=lambda f: f.area)
    embedding = engine.embed(image, Face(smaller.box, 0.0))
    assert embedding is not None and embedding.face.box == smaller.box


def test_insightface_names_the_missing_model_dir(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "insightface"
    with pytest.raises(FailedPrecondition, match=str(missing)):
        create_face_engine({"type": "insightface", "model_dir": str(missing)})
    with pytest.raises(FailedPrecondition, match="model_dir"):
        create_face_engine({"type": "insightface"})
    lazy = LazyFaceEngine({"type": "insightface", "model_dir": str(missing)})
    with pytest.raises(FailedPrecondition, match=str(missing)):
        lazy.get()


def test_unknown_engines_and_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        create_face_engine({"type": "magic"})
    with pytest.raises(ConfigError):
        create_face_engine({"type": "dlib", "upsample": 9})
    with pytest.raises(FailedPrecondition):  # at run time a bad config only fails the face RPCs
        LazyFaceEngine({"type": "dlib", "colour": "red"}).get()
