"""The rapidocr plate engine on real photos, on input that holds no plate, and its configuration.

Accuracy over the whole labelled set is measured by `loadtests/bench_plates.py`, not asserted here;
these photos only check that the pipeline, end to end, reads a plate where a plate is.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from basira.analytics.plates import PlateEngine, PlateRead, create_plate_engine, plate_engine_types
from basira.analytics.plates.rapid import (
    PLATE_ALPHABET,
    WHEEL_DET_MODEL,
    WHEEL_REC_MODEL,
    CharacterFold,
    RapidPlateEngine,
    RapidPlateEngineConfig,
    _wheel_model_dir,
)
from basira.analytics.plates.regions import iou
from basira.common.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[3]
PLATES = REPO_ROOT / "../shared/data/plates/eu"

# photos from the shared OpenALPR eu set: (name, plate text, layout the text fits)
PHOTOS = [
    ("test_062", "1B80338", "CZ"),  # Czech 2001 series
    ("test_002", "RK755AJ", ""),  # Slovak district series, a layout other countries share
    ("eu1", "M5XSX", "GB"),
]


def load_photo(name: str) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    label = PLATES / f"{name}.txt"
    if not label.is_file():
        pytest.skip(f"shared plate photos not found at {PLATES} (see /work/shared/data/README.md)")
    fields = label.read_text(encoding="utf-8").strip().split("\t")
    image = cv2.imread(str(PLATES / fields[0]), cv2.IMREAD_COLOR)
    assert image is not None, f"cannot decode {fields[0]}"
    x, y, w, h = (int(v) for v in fields[1:5])
    return image, (x, y, w, h)


@pytest.fixture(scope="module")
def engine() -> Iterator[RapidPlateEngine]:
    yield RapidPlateEngine(RapidPlateEngineConfig(intra_op_threads=1))


def on_plate(reads: list[PlateRead], truth: tuple[int, int, int, int]) -> list[PlateRead]:
    return [r for r in reads if iou(r.box, truth) >= 0.3]


@pytest.mark.parametrize(("name", "text", "country"), PHOTOS)
def test_reads_the_plate_in_a_photo(engine: RapidPlateEngine, name: str, text: str, country: str) -> None:
    image, truth = load_photo(name)
    reads = engine.read(image)
    found = on_plate(reads, truth)
    assert found, f"no read over the plate; reads: {reads}"
    best = found[0]
    assert (best.text, best.country) == (text, country)
    assert 0.5 < best.confidence <= 1.0
    x, y, w, h = best.box
    assert min(x, y) >= 0 and x + w <= image.shape[1] and y + h <= image.shape[0]
    assert [r.confidence for r in reads] == sorted((r.confidence for r in reads), reverse=True)


def test_reads_grey_and_bgra_versions_of_a_photo_alike(engine: RapidPlateEngine) -> None:
    image, truth = load_photo("test_062")
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    rgb_view = image[:, :, ::-1][:, :, ::-1]  # a strided view, as slicing code hands over
    for variant in (grey, grey[:, :, np.newaxis], bgra, rgb_view):
        assert [r.text for r in on_plate(engine.read(variant), truth)][:1] == ["1B80338"]
    mirrored = engine.read(image[:, ::-1])  # negative strides must not trip OpenCV
    assert all(r.text != "1B80338" for r in mirrored)


def test_home_country_configuration_names_the_country(engine: RapidPlateEngine) -> None:
    image, truth = load_photo("test_002")
    slovak = create_plate_engine({"type": "rapidocr", "countries": ["SK", "CZ"]})
    best = on_plate(slovak.read(image), truth)[0]
    assert (best.text, best.country, best.display) == ("RK755AJ", "SK", "RK-755AJ")


def test_one_engine_serves_several_threads(engine: RapidPlateEngine) -> None:
    images = [load_photo(name)[0] for name, _, _ in PHOTOS[:2]]
    sequential = [engine.read(image) for image in images]
    with ThreadPoolExecutor(max_workers=2) as pool:
        concurrent = list(pool.map(engine.read, images))
    assert concurrent == sequential


NO_PLATE: dict[str, np.ndarray] = {
    "empty": np.zeros((0, 0, 3), np.uint8),
    "one pixel": np.zeros((1, 1, 3), np.uint8),
    "tiny": np.full((8, 30, 3), 255, np.uint8),
    "uniform grey": np.full((480, 640, 3), 128, np.uint8),
    "uniform 2-D": np.full((120, 160), 200, np.uint8),
    "noise": np.random.default_rng(7).integers(0, 256, (360, 480, 3), dtype=np.uint8),
    "float noise": np.random.default_rng(8).random((64, 64, 3)) * 255,
    "NaN": np.full((40, 40, 3), np.nan),
    "booleans": np.zeros((50, 50), bool),
    "five channels": np.zeros((40, 40, 5), np.uint8),
    "4-D": np.zeros((2, 40, 40, 3), np.uint8),
    "a thin strip": np.random.default_rng(9).integers(0, 256, (16, 3000, 3), dtype=np.uint8),
}


@pytest.mark.parametrize("kind", NO_PLATE)
def test_input_without_a_plate_gives_no_read(engine: RapidPlateEngine, kind: str) -> None:
    assert engine.read(NO_PLATE[kind]) == []


def test_non_array_input_gives_no_read(engine: RapidPlateEngine) -> None:
    assert engine.read(None) == []  # type: ignore[arg-type]
    assert engine.read(b"\xff\xd8 not decoded") == []  # type: ignore[arg-type]


def test_factory_builds_the_engine_named_by_type() -> None:
    assert "rapidocr" in plate_engine_types()
    built = create_plate_engine({"type": "rapidocr", "det_max_side": 480})
    assert isinstance(built, RapidPlateEngine) and isinstance(built, PlateEngine)
    assert built.config.det_max_side == 480
    assert isinstance(create_plate_engine(RapidPlateEngineConfig()), RapidPlateEngine)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "openalpr"}, "unknown"),
        ({}, "unknown"),
        ({"type": "rapidocr", "det_max_sid": 480}, "det_max_sid"),  # typo: unknown keys are refused
        ({"type": "rapidocr", "intra_op_threads": 0}, "intra_op_threads"),
        ({"type": "rapidocr", "countries": ["SK", "XX"]}, "XX"),
        ({"type": "rapidocr", "model_dir": "/nonexistent/plates"}, "not a directory"),
    ],
)
def test_bad_configuration_fails_at_start_up_naming_it(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_plate_engine(config)


def test_operator_model_dir_replaces_the_wheel_models(tmp_path: Path, engine: RapidPlateEngine) -> None:
    with pytest.raises(ConfigError, match=r"neither det\.onnx nor rec\.onnx"):
        RapidPlateEngine(RapidPlateEngineConfig(model_dir=tmp_path))
    # a recogniser without the character list in its metadata needs rec_keys.txt beside it
    rec = onnx.load(str(_wheel_model_dir() / WHEEL_REC_MODEL))
    keys = next(p.value for p in rec.metadata_props if p.key == "character")
    del rec.metadata_props[:]
    onnx.save(rec, str(tmp_path / "rec.onnx"))
    shutil.copy(_wheel_model_dir() / WHEEL_DET_MODEL, tmp_path / "det.onnx")
    with pytest.raises(ConfigError, match=r"rec_keys\.txt"):
        RapidPlateEngine(RapidPlateEngineConfig(model_dir=tmp_path))
    (tmp_path / "rec_keys.txt").write_text(keys, encoding="utf-8")
    operator = RapidPlateEngine(RapidPlateEngineConfig(model_dir=tmp_path))
    image, truth = load_photo("test_062")
    assert [r.text for r in on_plate(operator.read(image), truth)][:1] == ["1B80338"]


def test_unreadable_model_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "det.onnx").write_bytes(b"not an onnx model")
    with pytest.raises(ConfigError, match="cannot load"):
        RapidPlateEngine(RapidPlateEngineConfig(model_dir=tmp_path))


def toy_characters() -> list[str]:
    """A recogniser alphabet: blank, lower and upper case, digits, an ideograph, Arabic letters, space."""
    return ["<blank>", *"abcdefghijklmnopqrstuvwxyz", *PLATE_ALPHABET, "京", "ب", "٣", "-", " "]


def test_fold_sums_case_and_arabic_forms_onto_plate_characters() -> None:
    characters = toy_characters()
    fold = CharacterFold.for_characters(characters)
    probs = np.zeros((1, len(characters)), np.float32)
    probs[0, characters.index("b")] = 0.25
    probs[0, characters.index("B")] = 0.25
    probs[0, characters.index("ب")] = 0.25  # Moroccan ب is B in the key
    probs[0, characters.index("京")] = 0.25
    folded = fold.apply(probs)
    assert folded[0, 1 + PLATE_ALPHABET.index("B")] == pytest.approx(0.75)
    assert folded[0, -1] == pytest.approx(0.25)  # 'other'
    assert fold.sources[PLATE_ALPHABET.index("3")] == (characters.index("3"), characters.index("٣"))


def test_decode_collapses_repeats_and_treats_other_classes_as_separators() -> None:
    characters = toy_characters()
    fold = CharacterFold.for_characters(characters)
    frames = ["R", "R", "<blank>", "K", "-", "0", "<blank>", "0", "0", "京", "9"]
    probs = np.zeros((len(frames), len(characters)), np.float32)
    for t, ch in enumerate(frames):
        probs[t, characters.index(ch)] = 0.9
        probs[t, 0] += 0.1
    decoded = fold.decode(probs)
    assert decoded.text == "RK009"
    assert decoded.confidence == pytest.approx(0.9)
    assert fold.decode(np.eye(1, len(characters), 0, dtype=np.float32)).text == ""


def test_fold_refuses_a_recogniser_that_cannot_write_every_plate_character() -> None:
    with pytest.raises(ConfigError, match="'Z"):
        CharacterFold.for_characters(["<blank>", *PLATE_ALPHABET.replace("Z", ""), " "])


def small_plate_frame(name: str, plate_height: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A 1080p street-like frame holding the plate of photo `name`, scaled to `plate_height` px high."""
    image, (x, y, w, h) = load_photo(name)
    background, _ = load_photo("eu1")
    frame = cv2.resize(background, (1920, 1080), interpolation=cv2.INTER_LINEAR)
    scale = plate_height / h
    x0, y0 = max(0, x - w), max(0, y - 2 * h)
    patch = cv2.resize(image[y0 : y + 3 * h, x0 : x + 2 * w], None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA)
    px, py = 1210, 700
    frame[py : py + patch.shape[0], px : px + patch.shape[1]] = patch
    box = (px + round((x - x0) * scale), py + round((y - y0) * scale), round(w * scale), round(h * scale))
    return frame, box


def test_a_small_plate_in_a_1080p_frame_is_found_by_the_second_look(engine: RapidPlateEngine) -> None:
    frame, truth = small_plate_frame("test_062", 16)
    without = RapidPlateEngine(RapidPlateEngineConfig(intra_op_threads=1, small_plate_windows=0))
    assert not on_plate(without.read(frame), truth), "the downscaled pass alone should miss a 16 px plate"
    found = on_plate(engine.read(frame), truth)
    assert found, "the small-plate pass found nothing over the plate"
    assert found[0].text == "1B80338"


def test_a_read_carries_runner_up_readings_with_other_texts(engine: RapidPlateEngine) -> None:
    image, truth = load_photo("test_002")
    best = on_plate(engine.read(image), truth)[0]
    assert best.alternatives, "expected the raw or another layout's reading as an alternative"
    texts = [best.text, *(a.text for a in best.alternatives)]
    assert len(set(texts)) == len(texts)
    assert all(a.confidence <= best.confidence for a in best.alternatives)
