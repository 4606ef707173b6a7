"""The converter: shapes follow the input, values capturable by name, all problems listed at once."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx_helpers import make_model, run_reference

from dreamjax.errors import UnknownNameError
from dreamjax_onnx import OnnxGraphError, UnsupportedOpsError, check_model, to_jax

I64 = np.int64


def shape_chain_model():
    """conv -> relu -> (Shape, Gather, Unsqueeze, Concat) -> Reshape -> ReduceMean: what exporters emit."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Shape", ["r"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Gather", ["s", "one"], ["ch"], axis=0),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        helper.make_node("Unsqueeze", ["ch", "ax0"], ["c1"]),
        helper.make_node("Concat", ["n1", "c1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["r", "target"], ["flat"]),
        helper.make_node("ReduceMean", ["flat", "ax2"], ["y"], keepdims=0),
    ]
    inits = {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "zero": np.array(0, I64), "one": np.array(1, I64),
             "ax0": np.array([0], I64), "minus1": np.array([-1], I64), "ax2": np.array([2], I64)}
    x = rng.standard_normal((1, 3, 16, 16)).astype(np.float32)
    return make_model(nodes, {"x": x}, ["y"], 18, inits, dynamic=True), inits


@pytest.mark.parametrize("hw", [(16, 16), (23, 31), (64, 48)])
def test_shape_chains_follow_the_traced_size_under_jit(hw):
    model, _ = shape_chain_model()
    fn, params = to_jax(model)
    x = np.random.default_rng(1).standard_normal((2, 3, *hw)).astype(np.float32)
    (got,) = jax.jit(fn)(params, x)
    expected, _ = run_reference(model, {"x": x})
    np.testing.assert_allclose(np.asarray(got), expected[0], rtol=1e-5, atol=1e-5)


def test_one_conversion_serves_many_sizes_and_is_pure():
    model, _ = shape_chain_model()
    fn, params = to_jax(model)
    f = jax.jit(fn)
    a = np.ones((1, 3, 16, 16), np.float32)
    first = np.asarray(f(params, a)[0])
    f(params, np.ones((3, 3, 40, 24), np.float32))
    np.testing.assert_array_equal(np.asarray(f(params, a)[0]), first)


def test_params_are_float_weights_and_shape_constants_stay_static():
    model, inits = shape_chain_model()
    fn, params = to_jax(model)
    assert set(params) == {"w"}
    assert params["w"].dtype == jnp.float32


def test_capture_intermediate_values_by_onnx_name():
    model, _ = shape_chain_model()
    fn, params = to_jax(model)
    x = np.random.default_rng(2).standard_normal((1, 3, 16, 16)).astype(np.float32)
    got = jax.jit(lambda p, x: fn.capture(p, x, names=["c", "r", "y"]))(params, x)
    assert set(got) == {"c", "r", "y"}
    np.testing.assert_allclose(np.asarray(got["r"]), np.maximum(np.asarray(got["c"]), 0))
    assert got["c"].shape == (1, 4, 8, 8)
    assert "c" in fn.values and fn.outputs == ("y",) and fn.inputs == ("x",)


def test_capture_differentiates_with_respect_to_the_input():
    model, _ = shape_chain_model()
    fn, params = to_jax(model)
    x = np.random.default_rng(3).standard_normal((1, 3, 16, 16)).astype(np.float32)
    g = jax.grad(lambda x: jnp.sum(fn.capture(params, x, names=["r"])["r"] ** 2))(x)
    assert g.shape == x.shape and float(jnp.abs(g).sum()) > 0


def test_unknown_capture_name_suggests_near_names():
    model, _ = shape_chain_model()
    fn, params = to_jax(model)
    with pytest.raises(UnknownNameError, match="flat"):
        fn.capture(params, np.ones((1, 3, 16, 16), np.float32), names=["flatt"])


def test_wrong_number_of_inputs():
    model, _ = shape_chain_model()
    fn, params = to_jax(model)
    with pytest.raises(OnnxGraphError, match="takes 1 input"):
        fn(params)


def unsupported_model():
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu"),
        helper.make_node("StringNormalizer", ["a"], ["b"], name="norm1"),
        helper.make_node("StringNormalizer", ["b"], ["c"], name="norm2"),
        helper.make_node("MyOp", ["c"], ["y"], name="custom", domain="com.example"),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])], [helper.make_empty_tensor_value_info("y")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])


def test_every_unsupported_op_is_listed_in_one_error():
    with pytest.raises(UnsupportedOpsError) as info:
        to_jax(unsupported_model())
    text = str(info.value)
    assert "StringNormalizer-10 (opset 17)" in text and "'norm1', 'norm2'" in text
    assert "com.example.MyOp (opset 1)" in text and "'custom'" in text
    assert "Relu" not in text.split("(run")[0]
    assert len(info.value.missing) == 2


def test_check_model_reports_coverage_per_op():
    table = {(c.domain, c.op_type): c for c in check_model(unsupported_model())}
    assert table[("", "Relu")].supported and table[("", "Relu")].since_version == 14
    assert not table[("", "StringNormalizer")].supported and table[("", "StringNormalizer")].nodes == ("norm1", "norm2")
    custom = table[("com.example", "MyOp")]
    assert not custom.supported and custom.since_version is None and custom.opset == 1


def test_cycles_are_reported():
    nodes = [helper.make_node("Relu", ["b"], ["a"], name="n1"), helper.make_node("Relu", ["a"], ["b"], name="n2"), helper.make_node("Relu", ["x"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])], [helper.make_empty_tensor_value_info("y")])
    with pytest.raises(OnnxGraphError, match=r"cycle through nodes 'n1', 'n2'"):
        to_jax(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_missing_inputs_are_all_reported():
    nodes = [helper.make_node("Add", ["x", "ghost"], ["a"], name="add"), helper.make_node("Mul", ["a", "phantom"], ["y"], name="mul")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])], [helper.make_empty_tensor_value_info("y")])
    with pytest.raises(OnnxGraphError, match=r"add \(Add\) reads 'ghost'; mul \(Mul\) reads 'phantom'"):
        to_jax(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_nodes_out_of_order_are_sorted():
    nodes = [helper.make_node("Neg", ["a"], ["y"]), helper.make_node("Exp", ["x"], ["a"])]
    x = np.array([0.5, -1.0], np.float32)
    fn, params = to_jax(make_model(nodes, {"x": x}, ["y"], 17))
    np.testing.assert_allclose(np.asarray(fn(params, x)[0]), -np.exp(x), rtol=1e-6)


def test_data_dependent_shape_under_jit_is_a_clear_error():
    from dreamjax_onnx import StaticValueError

    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"])]
    x, s = np.ones((2, 3), np.float32), np.array([3, 2], I64)
    fn, params = to_jax(make_model(nodes, {"x": x, "s": s}, ["y"], 17))
    assert np.asarray(fn(params, x, s)[0]).shape == (3, 2)  # eager: the value is known
    with pytest.raises(StaticValueError, match="Reshape shape must be known while tracing"):
        jax.jit(fn)(params, x, s)


def test_int64_sentinels_in_static_chains_stay_exact():
    # Slice ends of INT64_MAX travel through Concat before reaching Slice.
    nodes = [
        helper.make_node("Concat", ["a", "b"], ["ends"], axis=0),
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"]),
    ]
    inits = {"a": np.array([9223372036854775807], I64), "b": np.array([-1], I64), "starts": np.array([1, 0], I64), "axes": np.array([0, 1], I64)}
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    fn, params = to_jax(make_model(nodes, {"x": x}, ["y"], 17, inits))
    np.testing.assert_array_equal(np.asarray(jax.jit(fn)(params, x)[0]), x[1:, :-1])


def test_model_from_bytes_and_path(tmp_path):
    model, _ = shape_chain_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    x = np.ones((1, 3, 16, 16), np.float32)
    for source in (path, str(path), model.SerializeToString()):
        fn, params = to_jax(source)
        assert fn(params, x)[0].shape == (1, 4)
