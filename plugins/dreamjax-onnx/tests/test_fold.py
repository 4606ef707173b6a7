"""BatchNormalization folded into the Conv before it (dreamjax_onnx.fold, to_jax(fold_batchnorm=True)).

The folded function must equal onnxruntime and the unfolded function (values after the
BatchNormalization and the input gradient), fold only pairs where nothing else can tell, and
leave no dead weights in params.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from onnx import helper
from onnx_helpers import make_model, run_reference

from dreamjax_onnx import to_jax
from dreamjax_onnx.fold import FOLDED

RNG = np.random.default_rng(11)
N = helper.make_node


def _w(*shape, low=None):
    a = RNG.standard_normal(shape).astype(np.float32) * 0.4
    return (np.abs(a) + low).astype(np.float32) if low is not None else a


def _bn(prefix, c):
    return {f"{prefix}_s": _w(c) + 1, f"{prefix}_b": _w(c), f"{prefix}_m": _w(c), f"{prefix}_v": _w(c, low=0.3)}


INITS = {"w1": _w(6, 3, 3, 3), "b1": _w(6), **_bn("bn1", 6), "w2": _w(6, 6, 1, 1), **_bn("bn2", 6),
         "w3": _w(6, 6, 3, 3), **_bn("bn3", 6), **_bn("bn4", 6)}
NODES = [
    N("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
    N("BatchNormalization", ["c1", "bn1_s", "bn1_b", "bn1_m", "bn1_v"], ["n1"], epsilon=1e-3),  # folded
    N("Relu", ["n1"], ["r1"]),
    N("Conv", ["r1", "w2"], ["c2"]),  # no bias
    N("BatchNormalization", ["c2", "bn2_s", "bn2_b", "bn2_m", "bn2_v"], ["n2"]),  # folded
    N("Conv", ["n2", "w3"], ["c3"], pads=[1, 1, 1, 1], strides=[2, 2]),
    N("BatchNormalization", ["c3", "bn3_s", "bn3_b", "bn3_m", "bn3_v"], ["n3"]),  # not: c3 also read below
    N("Add", ["c3", "n3"], ["a3"]),
    N("Conv", ["a3", "w2"], ["c4"]),  # w2 shared by two folded pairs: each gets its own copy
    N("BatchNormalization", ["c4", "bn4_s", "bn4_b", "bn4_m", "bn4_v"], ["n4"]),  # folded, own weights
    N("BatchNormalization", ["r1", "bn2_s", "bn2_b", "bn2_m", "bn2_v"], ["n5"]),  # no Conv before: stays
]
OUTPUTS = ["n4", "n5"]


def model(x):
    return make_model(NODES, {"x": x}, OUTPUTS, opset=15, initializers=INITS)


def test_folded_pairs_match_onnxruntime_and_the_unfolded_function():
    x = RNG.standard_normal((2, 3, 9, 8)).astype(np.float32)
    fn, params = to_jax(model(x), fold_batchnorm=True)
    plain_fn, plain_params = to_jax(model(x))
    want, _ = run_reference(model(x), {"x": x})
    # float32 rounding differs once weights are pre-multiplied: tolerances scale with the values.
    for got, ref in zip(fn(params, x), want):
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    shared = [v for v in fn.values if v in plain_fn.values]
    got, ref = fn.capture(params, x, names=shared), plain_fn.capture(plain_params, x, names=shared)
    for name in shared:
        r = np.asarray(ref[name])
        np.testing.assert_allclose(np.asarray(got[name]), r, rtol=1e-4, atol=1e-4 * np.abs(r).max(), err_msg=name)

    def loss(f, p):
        return lambda x: sum(jnp.sum(jnp.sin(y)) for y in f(p, x))

    g, g_ref = jax.grad(loss(fn, params))(x), np.asarray(jax.grad(loss(plain_fn, plain_params))(x))
    np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-4 * np.abs(g_ref).max())


def test_only_pairs_nothing_else_sees_are_folded():
    x = np.zeros((1, 3, 8, 8), np.float32)
    fn, params = to_jax(model(x), fold_batchnorm=True)
    # c1, c2, c4 (the Convs' own outputs) are gone; c3 (read twice) and n3, n5 stay.
    assert {"c1", "c2", "c4"}.isdisjoint(fn.values) and {"c3", "n3", "n5", "n1", "n2", "n4"} <= set(fn.values)
    assert sorted(n for n in params if n.endswith(".weight") or n.endswith(".bias")) == sorted(
        f"{v}{FOLDED}.{kind}" for v in ("n1", "n2", "n4") for kind in ("weight", "bias"))
    # Folded pairs' own weights are no params any more; shared or still-read ones are.
    assert {"w1", "b1", "w2", "bn1_s", "bn1_v", "bn4_m"}.isdisjoint(params)
    assert {"w3", "bn2_s", "bn2_b", "bn2_m", "bn2_v", "bn3_s"} <= set(params)


@pytest.mark.parametrize(("opset", "training"), [(9, False), (14, False), (14, True)])
def test_training_mode_is_never_folded(opset, training):
    x = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
    inits = {"w": _w(4, 3, 3, 3), **_bn("bn", 4)}
    outs = ["y", "rm", "rv"] if training else ["y"]
    attrs = {"training_mode": 1} if training else {}
    nodes = [N("Conv", ["x", "w"], ["c"]), N("BatchNormalization", ["c", "bn_s", "bn_b", "bn_m", "bn_v"], outs, **attrs)]
    m = make_model(nodes, {"x": x}, outs, opset=opset, initializers=inits)
    fn, params = to_jax(m, fold_batchnorm=True)
    assert ("c" in fn.values) == training and ("bn_s" in params) == training
    want, _ = run_reference(m, {"x": x})
    np.testing.assert_allclose(np.asarray(fn(params, x)[0]), want[0], rtol=1e-4, atol=1e-5)


def test_the_given_model_is_not_changed():
    x = np.zeros((1, 3, 8, 8), np.float32)
    m = model(x)
    before = m.SerializeToString()
    to_jax(m, fold_batchnorm=True)
    assert m.SerializeToString() == before
