"""The SCRFD + ArcFace engine's loading and inference path, on small ONNX models built here with the real
input and output shapes (an operator's licensed models have the same interface)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from basira.analytics.faces import create_face_engine
from basira.analytics.scrfd_arcface import ScrfdArcFaceEngine
from basira.common.errors import FailedPrecondition

# Key points per anchor, in strides from the cell centre: eyes, nose, mouth corners.
KPS = np.array([-0.5, -0.4, 0.5, -0.4, 0.0, 0.0, -0.35, 0.45, 0.35, 0.45], np.float32)


def _conv(name: str, source: str) -> list[onnx.NodeProto]:
    """A 1×1 convolution to NHWC (the initialisers `<name>_w`, `<name>_b` hold its weights)."""
    return [helper.make_node("Conv", [source, f"{name}_w", f"{name}_b"], [f"{name}_c"]),
            helper.make_node("Transpose", [f"{name}_c"], [f"{name}_t"], perm=[0, 2, 3, 1])]


def scrfd_model(path: Path) -> None:
    """An SCRFD-shaped detector: bright regions are faces, boxes 4 strides wide, fixed key points."""
    nodes, inits, outputs = [], [], {}
    for stride in (8, 16, 32):
        nodes.append(helper.make_node("AveragePool", ["input.1"], [f"p{stride}"],
                                      kernel_shape=[stride, stride], strides=[stride, stride]))
        for kind, width, weight, bias in (("score", 1, 10.0, np.zeros(2)), ("bbox", 4, 0.0, np.full(8, 2.0)),
                                          ("kps", 10, 0.0, np.tile(KPS, 2))):
            name = f"{kind}{stride}"
            channels = 2 * width
            inits += [numpy_helper.from_array(np.full((channels, 3, 1, 1), weight, np.float32), f"{name}_w"),
                      numpy_helper.from_array(bias.astype(np.float32), f"{name}_b"),
                      numpy_helper.from_array(np.array([-1, width], np.int64), f"{name}_shape")]
            nodes += _conv(name, f"p{stride}")
            last = f"{name}_t"
            if kind == "score":
                nodes.append(helper.make_node("Sigmoid", [last], [f"{name}_s"]))
                last = f"{name}_s"
            nodes.append(helper.make_node("Reshape", [last, f"{name}_shape"], [name]))
            outputs[name] = helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, width])
    order = [f"{kind}{s}" for kind in ("score", "bbox", "kps") for s in (8, 16, 32)]
    graph = helper.make_graph(nodes, "scrfd-test", [helper.make_tensor_value_info(
        "input.1", TensorProto.FLOAT, [1, 3, None, None])], [outputs[n] for n in order], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def arcface_model(path: Path) -> None:
    """An ArcFace-shaped embedder: 1×3×112×112 in, 1×512 out."""
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.standard_normal((3, 512)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(512).astype(np.float32), "b")]
    nodes = [helper.make_node("GlobalAveragePool", ["input.1"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["683"])]
    graph = helper.make_graph(nodes, "arcface-test", [helper.make_tensor_value_info(
        "input.1", TensorProto.FLOAT, [1, 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, [1, 512])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("insightface")
    scrfd_model(folder / "det_10g.onnx")
    arcface_model(folder / "w600k_r50.onnx")
    return folder


def config(models: Path, **changes: str) -> dict[str, str]:
    return {"type": "insightface", "model_dir": str(models),
            "detector_sha256": digest(models / "det_10g.onnx"),
            "recognizer_sha256": digest(models / "w600k_r50.onnx"), **changes}


def test_detects_and_embeds_with_the_operator_models(models: Path) -> None:
    engine = create_face_engine(config(models, input_size="320"))
    assert isinstance(engine, ScrfdArcFaceEngine) and engine.model.startswith("arcface-")
    image = np.zeros((240, 320, 3), np.uint8)
    image[80:160, 120:200] = 255  # the "face" the test detector sees
    faces = engine.detect(image)
    assert faces and all(110 <= f.box[0] + f.box[2] / 2 <= 210 and 70 <= f.box[1] + f.box[3] / 2 <= 170
                         for f in faces)
    assert all(len(f.landmarks) == 5 and f.score >= 0.5 for f in faces)
    assert engine.detect(np.zeros((240, 320, 3), np.uint8)) == []
    embedding = engine.embed(image)
    assert embedding is not None and len(embedding.vector) == 512
    assert abs(float(np.linalg.norm(embedding.vector)) - 1) < 1e-5
    again = engine.embed(image, faces[0])
    assert again is not None and again.model == embedding.model


def test_models_are_checked_before_loading(models: Path) -> None:
    with pytest.raises(FailedPrecondition, match="SHA-256"):
        create_face_engine(config(models, recognizer_sha256="0" * 64))
    with pytest.raises(FailedPrecondition, match="must be the 64-hex-digit SHA-256"):
        create_face_engine(config(models, detector_sha256=""))
    with pytest.raises(FailedPrecondition, match="9"):  # an embedder is no detector
        create_face_engine(config(models, detector_file="w600k_r50.onnx",
                                  detector_sha256=digest(models / "w600k_r50.onnx")))
