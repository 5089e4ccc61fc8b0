"""The default face engine (YuNet + SFace) and the face path's quality gates, on real photos."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from basira.analytics.face_path import FacePath
from basira.analytics.face_quality import FaceQualityConfig, assess
from basira.analytics.face_tracking import FaceTracker
from basira.analytics.faces import Face, create_face_engine
from basira.analytics.sface import PACKAGED_MODELS, YuNetSFaceEngine
from basira.common.errors import FailedPrecondition, InvalidInput


@pytest.fixture(scope="module")
def path() -> FacePath:
    engine = create_face_engine({"type": "yunet-sface"})
    assert isinstance(engine, YuNetSFaceEngine)
    return FacePath(engine)


def photo(shared_data: Path, name: str) -> np.ndarray:
    image = cv2.imread(str(shared_data / "faces" / "pairs" / name))
    assert image is not None
    return image


def test_same_person_within_the_threshold_others_beyond(path: FacePath, shared_data: Path) -> None:
    def vector(name: str) -> np.ndarray:
        embedding = path.enrolment(photo(shared_data, name), name)
        assert embedding.model == path.model and len(embedding.vector) == 128
        assert len(embedding.face.landmarks) == 5
        return np.asarray(embedding.vector)

    a, a_again, b = vector("img20.jpg"), vector("img21.jpg"), vector("img16.jpg")
    assert 1 - float(a @ a_again) <= path.match_distance < 1 - float(a @ b)


def test_enrolment_refuses_two_faces_and_no_face(path: FacePath, shared_data: Path) -> None:
    with pytest.raises(InvalidInput, match="2 faces found"):
        path.enrolment(photo(shared_data, "couple.jpg"), "images[0]")
    with pytest.raises(InvalidInput, match="no face"):
        path.enrolment(np.full((240, 320, 3), 90, np.uint8), "images[1]")


def test_gates_refuse_small_blurred_and_turned_faces(path: FacePath, shared_data: Path) -> None:
    image = photo(shared_data, "img20.jpg")
    face = path.engine.detect(image)[0]
    assert assess(image, face, FaceQualityConfig()).ok
    tiny = cv2.resize(image, None, fx=14 / face.box[2], fy=14 / face.box[2], interpolation=cv2.INTER_AREA)
    tiny_face = Face((0, 0, 14, 14), 0.9)
    assert any("too small" in r for r in assess(tiny, tiny_face, FaceQualityConfig()).refusals)
    blurred = cv2.GaussianBlur(image, (0, 0), face.box[2] / 12)
    assert any("blurred" in r for r in assess(blurred, face, FaceQualityConfig()).refusals)
    (rx, ry), (lx, ly), _, *mouth = face.landmarks
    profile = Face(face.box, face.score, ((rx, ry), (lx, ly), (lx + 2, ly + 20), *mouth))
    assert any("profile" in r for r in assess(image, profile, FaceQualityConfig()).refusals)
    with pytest.raises(InvalidInput, match="blurred"):
        path.enrolment(blurred, "images[0]")


def test_weights_are_checked_before_loading(tmp_path: Path) -> None:
    for name in ("face_detection_yunet_2023mar_int8bq.onnx", "face_recognition_sface_2021dec_int8bq.onnx"):
        shutil.copy(PACKAGED_MODELS / name, tmp_path / name)
    create_face_engine({"type": "yunet-sface", "model_dir": str(tmp_path)})
    with (tmp_path / "face_recognition_sface_2021dec_int8bq.onnx").open("ab") as f:
        f.write(b"tampered")
    with pytest.raises(FailedPrecondition, match="SHA-256"):
        create_face_engine({"type": "yunet-sface", "model_dir": str(tmp_path)})
    with pytest.raises(FailedPrecondition, match="missing"):
        create_face_engine({"type": "yunet-sface", "model_dir": str(tmp_path / "nowhere")})


def test_tracker_keeps_a_walking_person_on_one_track(path: FacePath, shared_data: Path) -> None:
    capture = cv2.VideoCapture(str(shared_data / "video" / "face-demographics-walking-and-pause.gif"))
    tracker = FaceTracker(match_distance=path.match_distance)
    tracks: dict[str, int] = {}
    for index in range(12):
        ok, frame = capture.read()
        assert ok
        good = [f for f in path.live(frame) if f.embedding is not None]
        for track in tracker.assign("cam", index / 10, [(f.face, f.vector) for f in good]):
            tracks[track] = tracks.get(track, 0) + 1
    capture.release()
    assert 0 < len(tracks) <= 3 and max(tracks.values()) >= 10
    assert tracker.assign("cam", 60.0, [(Face((0, 0, 9, 9), 1.0), np.ones(128) / np.sqrt(128))])[0] \
        not in tracks  # after the gap a new passage begins
