"""Channels-last execution (dreamjax_onnx.layout): same values as ONNX order, fewer transposes.

One graph exercises every channels-last variant and every Conv path (lax conv, grouped conv,
im2col, strided 1x1 dot, depthwise taps with and without the hand-written gradient) plus ops
that need ONNX order (Flatten, Reshape). It is checked against onnxruntime, and every
intermediate value and the input gradient against the same function run in ONNX order.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from onnx import helper
from onnx_helpers import make_model, run_reference

from dreamjax_onnx import to_jax
from dreamjax_onnx.errors import OnnxGraphError
from dreamjax_onnx.layout import GEMM_B, HWIO

RNG = np.random.default_rng(7)


def _w(*shape, scale=0.3):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


INITS = {
    "w1": _w(16, 8, 3, 3), "b1": _w(16),
    "bn_s": _w(16) + 1, "bn_b": _w(16), "bn_m": _w(16), "bn_v": np.abs(_w(16)) + 0.5,
    "slope": _w(16, 1, 1),
    "wd": _w(32, 1, 3, 3), "wd2": _w(16, 1, 3, 2), "wg": _w(16, 8, 3, 3),
    "wi": _w(24, 48, 3, 3), "wp": _w(24, 48, 1, 1), "shift": _w(1, 24, 1, 1),
    "lo": np.array(-0.5, np.float32), "hi": np.array(0.8, np.float32),
    "wfc": _w(10, 24), "shape2": np.array([0, -1], np.int64),
}
N = helper.make_node
NODES = [
    N("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),  # lax conv
    N("BatchNormalization", ["c1", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"], epsilon=1e-3),
    N("Relu", ["bn"], ["r"]),
    N("PRelu", ["r", "slope"], ["p"]),
    N("MaxPool", ["p"], ["mp"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    N("Conv", ["mp", "wd"], ["dw"], group=16, pads=[1, 1, 1, 1]),  # depthwise x2, custom-VJP taps
    N("Conv", ["mp", "wd2"], ["dw2"], group=16, kernel_shape=[3, 2], dilations=[2, 1], strides=[1, 2],
      pads=[2, 1, 2, 0]),  # depthwise, general taps
    N("Conv", ["mp", "wg"], ["g"], group=2, pads=[1, 1, 1, 1]),  # grouped
    N("Concat", ["dw", "g"], ["cat"], axis=1),
    N("Conv", ["cat", "wi"], ["im"], strides=[2, 2], pads=[1, 1, 1, 1]),  # few pixels: im2col
    N("Conv", ["cat", "wp"], ["pw"], strides=[2, 2]),  # strided 1x1: slice + dot
    N("Add", ["im", "pw"], ["add"]),
    N("Add", ["add", "shift"], ["add2"]),
    N("LRN", ["add2"], ["lrn"], size=3),
    N("AveragePool", ["lrn"], ["ap"], kernel_shape=[2, 2], pads=[0, 0, 1, 1], count_include_pad=1),
    N("Sigmoid", ["ap"], ["sig"]),
    N("Clip", ["sig", "lo", "hi"], ["clip"]),
    N("GlobalAveragePool", ["clip"], ["gap"]),
    N("Flatten", ["gap"], ["flat"]),  # needs ONNX order
    N("Gemm", ["flat", "wfc"], ["y"], transB=1),
    N("Reshape", ["dw2", "shape2"], ["y2"]),  # needs ONNX order
    N("MaxPool", ["cat"], ["y3"], kernel_shape=[2, 2], dilations=[2, 1], ceil_mode=1),  # a channels-last output
]


def layered_model(x):
    return make_model(NODES, {"x": x}, ["y", "y2", "y3"], opset=13, initializers=INITS, dynamic=True)


def assert_matches_reference(model, x, got, rtol, atol):
    want, _ = run_reference(model, {"x": x})
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), w, rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape", [(2, 8, 12, 10), (1, 8, 21, 17)])
def test_channels_last_matches_onnxruntime(shape):
    x = RNG.standard_normal(shape).astype(np.float32)
    model = layered_model(x)
    fn, params = to_jax(model)
    assert_matches_reference(model, x, jax.jit(fn)(params, x), rtol=1e-4, atol=1e-5)


def test_every_value_and_the_gradient_match_onnx_order():
    x = RNG.standard_normal((2, 8, 12, 10)).astype(np.float32)
    model = layered_model(x)
    fn_cl, p_cl = to_jax(model)
    fn_std, p_std = to_jax(model, channels_last=False)
    assert fn_std.param_layouts == {}
    got_cl = fn_cl.capture(p_cl, x, names=fn_cl.values)
    got_std = fn_std.capture(p_std, x, names=fn_std.values)
    for name in fn_cl.values:
        np.testing.assert_allclose(np.asarray(got_cl[name]), np.asarray(got_std[name]), rtol=1e-5, atol=1e-5, err_msg=name)

    def loss(fn, params):
        return lambda x: sum(jnp.sum(jnp.sin(y * (i + 1))) for i, y in enumerate(fn(params, x)))

    g_cl = jax.grad(loss(fn_cl, p_cl))(x)
    g_std = jax.grad(loss(fn_std, p_std))(x)
    np.testing.assert_allclose(np.asarray(g_cl), np.asarray(g_std), rtol=1e-4, atol=1e-5)


def test_values_are_transposed_only_at_the_edges():
    x = np.zeros((1, 8, 12, 10), np.float32)
    fn, params = to_jax(layered_model(x))
    eqns = jax.make_jaxpr(fn)(params, x).jaxpr.eqns
    moves = [e.params["permutation"] for e in eqns if e.primitive.name == "transpose" and len(e.params["permutation"]) == 4]
    # Into the first Conv, back to ONNX order for Flatten, for Reshape and for the output y3:
    # nothing else (per-channel operands such as PRelu's slope are reshaped, not transposed).
    assert moves == [(0, 2, 3, 1), (0, 3, 1, 2), (0, 3, 1, 2), (0, 3, 1, 2)]


def test_weights_are_stored_in_the_layout_their_op_reads():
    x = np.zeros((1, 8, 12, 10), np.float32)
    fn, params = to_jax(layered_model(x))
    want = {name: HWIO for name in ("w1", "wd", "wd2", "wg", "wi", "wp")} | {"wfc": GEMM_B}
    assert fn.param_layouts == want
    for name, perm in fn.param_layouts.items():
        np.testing.assert_array_equal(np.asarray(params[name]), INITS[name].transpose(perm))
    np.testing.assert_array_equal(np.asarray(params["slope"]), INITS["slope"])  # not a weight slot
    moves = [e for e in jax.make_jaxpr(fn)(params, x).jaxpr.eqns if e.primitive.name == "transpose"]
    assert all(len(e.params["permutation"]) == 4 for e in moves)  # Gemm reads its [K, N] matrix as is


def test_a_kernel_read_by_another_op_keeps_onnx_layout():
    w = _w(4, 3, 3, 3)
    nodes = [N("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]), N("ReduceSum", ["w"], ["s"], keepdims=0)]
    x = RNG.standard_normal((1, 3, 6, 6)).astype(np.float32)
    model = make_model(nodes, {"x": x}, ["y", "s"], opset=13, initializers={"w": w})
    fn, params = to_jax(model)
    assert fn.param_layouts == {}
    np.testing.assert_array_equal(np.asarray(params["w"]), w)
    assert_matches_reference(model, x, fn(params, x), rtol=1e-5, atol=1e-5)


def test_params_in_another_layout_are_refused_clearly():
    x = RNG.standard_normal((1, 8, 12, 10)).astype(np.float32)
    model = layered_model(x)
    fn, _ = to_jax(model)
    _, onnx_order = to_jax(model, channels_last=False)
    with pytest.raises(OnnxGraphError, match=r"params\['w1'\] has shape \(16, 8, 3, 3\).*\(3, 3, 8, 16\)"):
        fn(onnx_order, x)


def _resize_cases():
    from listed_ops import required_versions
    from op_cases import cases_for

    return [pytest.param(op, v, case, id=f"{op}-{v}-{case.label}") for op in ("Resize", "Upsample")
            for v in required_versions(op) for case in cases_for(op, v)]


@pytest.mark.parametrize(("op", "version", "case"), _resize_cases())
def test_resize_runs_channels_last_after_a_conv(op, version, case):
    # An identity 1x1 Conv first makes the resized value channels-last.
    x = case.inputs["x"]
    c = x.shape[1]
    eye = {"eye": np.eye(c, dtype=np.float32).reshape(c, c, 1, 1)}
    nodes = [N("Conv", ["x", "eye"], ["x_cl"])]
    for node in case.nodes:
        node = type(node).FromString(node.SerializeToString())
        node.input[:] = ["x_cl" if i == "x" else i for i in node.input]
        nodes.append(node)
    model = make_model(nodes, {"x": x}, case.outputs, max(version, 7), {**case.inits, **eye})
    fn, params = to_jax(model)
    assert_matches_reference(model, x, fn(params, x), rtol=case.rtol, atol=case.atol)
    eqns = jax.make_jaxpr(fn)(params, x).jaxpr.eqns
    moves = [e.params["permutation"] for e in eqns if e.primitive.name == "transpose"
             and e.params["permutation"] in ((0, 2, 3, 1), (0, 3, 1, 2))]
    assert moves == [(0, 2, 3, 1), (0, 3, 1, 2)]  # into the Conv and out of the function, not around the resize


def test_convnext_style_transposes_move_no_data():
    # A ConvNeXt block: depthwise Conv, to NHWC for LayerNorm and the MLP, back to NCHW, scale, add.
    c = 8
    inits = {"wdw": _w(c, 1, 3, 3), "ln_s": _w(c) + 1, "ln_b": _w(c), "fc": _w(c, 2 * c), "fc2": _w(2 * c, c),
             "gamma": _w(c, 1, 1), "w0": _w(c, 3, 1, 1)}
    nodes = [
        N("Conv", ["x", "w0"], ["x0"]),
        N("Conv", ["x0", "wdw"], ["dw"], group=c, pads=[1, 1, 1, 1]),
        N("Transpose", ["dw"], ["nhwc"], perm=[0, 2, 3, 1]),
        N("LayerNormalization", ["nhwc", "ln_s", "ln_b"], ["ln"], axis=-1),
        N("MatMul", ["ln", "fc"], ["h"]),
        N("Relu", ["h"], ["hr"]),
        N("MatMul", ["hr", "fc2"], ["h2"]),
        N("Transpose", ["h2"], ["nchw"], perm=[0, 3, 1, 2]),
        N("Mul", ["nchw", "gamma"], ["scaled"]),
        N("Add", ["x0", "scaled"], ["y"]),
    ]
    x = RNG.standard_normal((2, 3, 9, 7)).astype(np.float32)
    model = make_model(nodes, {"x": x}, ["y"], opset=17, initializers=inits)
    fn, params = to_jax(model)
    assert_matches_reference(model, x, fn(params, x), rtol=1e-4, atol=1e-5)
    fn_std, p_std = to_jax(model, channels_last=False)
    g = jax.grad(lambda x: jnp.sum(jnp.sin(fn(params, x)[0])))(x)
    g_std = jax.grad(lambda x: jnp.sum(jnp.sin(fn_std(p_std, x)[0])))(x)
    np.testing.assert_allclose(np.asarray(g), np.asarray(g_std), rtol=1e-4, atol=1e-5)
    moves = [e.params["permutation"] for e in jax.make_jaxpr(fn)(params, x).jaxpr.eqns if e.primitive.name == "transpose"
             and len(e.params["permutation"]) == 4]
    assert moves == [(0, 2, 3, 1), (0, 3, 1, 2)]  # into the first Conv and out of the function
