"""Bad files: one clear error each, nothing executed, huge tensors refused before allocation."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_helpers import make_model

from dreamjax_onnx import OnnxLoadError, to_jax
from dreamjax_onnx.load import load_onnx


def raw_tensor(name, dims, raw: bytes) -> TensorProto:
    """A float tensor whose raw bytes need not agree with its dims (helper.make_tensor checks)."""
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, raw_data=raw)
    t.dims.extend(dims)
    return t


def weight_model():
    w = np.arange(64, dtype=np.float32).reshape(8, 8)
    return make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": np.ones((2, 8), np.float32)}, ["y"], 17, {"w": w}), w


def test_malformed_protobuf(tmp_path):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\x08\x07\x12garbage that is not a protobuf \xff\xff\xff")
    with pytest.raises(OnnxLoadError, match="not a valid ONNX file"):
        to_jax(path)


def test_truncated_file(tmp_path):
    model, _ = weight_model()
    data = model.SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OnnxLoadError):
        to_jax(path)


def test_missing_file(tmp_path):
    with pytest.raises(OnnxLoadError, match="no such file"):
        to_jax(tmp_path / "nope.onnx")


def save_external(model, folder, location):
    t = model.graph.initializer[0]
    raw = numpy_helper.to_array(t).tobytes()
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    del t.external_data[:]
    for k, v in (("location", location), ("offset", "0"), ("length", str(len(raw)))):
        entry = t.external_data.add()
        entry.key, entry.value = k, v
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path, raw


def test_external_data_inside_the_folder_loads(tmp_path):
    model, w = weight_model()
    path, raw = save_external(model, tmp_path, "weights.bin")
    (tmp_path / "weights.bin").write_bytes(raw)
    fn, params = to_jax(path)
    np.testing.assert_array_equal(np.asarray(params["w"]), w)


def test_missing_external_data_file(tmp_path):
    model, _ = weight_model()
    path, _ = save_external(model, tmp_path, "weights.bin")
    with pytest.raises(OnnxLoadError, match="external data file 'weights.bin' is missing"):
        to_jax(path)


@pytest.mark.parametrize("location", ["/etc/passwd", "../secret.bin", "sub/../../secret.bin"])
def test_external_data_paths_that_escape_are_refused(tmp_path, location):
    model, _ = weight_model()
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\0" * 256)
    path, _ = save_external(model, folder, location)
    with pytest.raises(OnnxLoadError, match="absolute|leaves the model folder"):
        to_jax(path)


def test_external_data_symlink_out_of_the_folder_is_refused(tmp_path):
    model, _ = weight_model()
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\0" * 256)
    os.symlink(tmp_path / "secret.bin", folder / "weights.bin")
    path, _ = save_external(model, folder, "weights.bin")
    with pytest.raises(OnnxLoadError, match="resolves outside the model folder"):
        to_jax(path)


def test_external_data_too_short(tmp_path):
    model, _ = weight_model()
    path, raw = save_external(model, tmp_path, "weights.bin")
    (tmp_path / "weights.bin").write_bytes(raw[:10])
    with pytest.raises(OnnxLoadError, match="needs 256"):
        to_jax(path)


def test_huge_declared_tensor_is_refused_before_allocation():
    t = raw_tensor("big", [1 << 20, 1 << 20], b"")
    graph = helper.make_graph([helper.make_node("Identity", ["big"], ["y"])], "g", [], [helper.make_empty_tensor_value_info("y")], [t])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(OnnxLoadError, match="above the .*-byte limit"):
        load_onnx(model)


def test_raw_data_that_disagrees_with_its_shape():
    t = raw_tensor("w", [1000, 1000], b"\0" * 16)
    graph = helper.make_graph([helper.make_node("Identity", ["w"], ["y"])], "g", [], [helper.make_empty_tensor_value_info("y")], [t])
    with pytest.raises(OnnxLoadError, match="declares shape \\[1000, 1000\\] .* but holds 16 bytes"):
        load_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_all_tensor_problems_are_listed_together():
    bad1 = raw_tensor("a", [4], b"\0" * 3)
    bad2 = raw_tensor("b", [4], b"\0" * 5)
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "g", [], [helper.make_empty_tensor_value_info("y")], [bad1, bad2])
    with pytest.raises(OnnxLoadError, match="'a' .*; .*'b'"):
        load_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_a_model_without_a_graph():
    with pytest.raises(OnnxLoadError, match="no graph"):
        load_onnx(onnx.ModelProto().SerializeToString())
