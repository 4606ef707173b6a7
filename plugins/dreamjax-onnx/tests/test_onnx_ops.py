"""Every listed operator at every since_version from opset 7 on, against onnxruntime.

Each (op, version) is built at ``opset == since_version`` so that exactly that schema applies.
The reference is onnxruntime, or onnx.reference where onnxruntime has no kernel for that
version. Tolerances are per case (default rtol=atol=1e-5 in float32; 1e-4 for convolutions,
matrix products and resampling, whose summation order differs between libraries).
"""

from __future__ import annotations

import numpy as np
import pytest
from listed_ops import op_versions
from onnx_helpers import make_model, run_reference
from op_cases import cases_for

from dreamjax_onnx import to_jax


def all_cases():
    out = []
    for op, v in op_versions():
        for case in cases_for(op, v):
            out.append(pytest.param(op, v, case, id=f"{op}-{v}-{case.label}"))
    return out


def check_against_reference(op, v, case):
    # Versions older than opset 7 are the ones in force at opset 7.
    model = make_model(case.nodes, case.inputs, case.outputs, max(v, 7), case.inits)
    expected, source = run_reference(model, case.inputs)
    fn, params = to_jax(model)
    got = fn(params, *case.inputs.values())
    assert len(got) == len(expected)
    for name, g, e in zip(case.outputs, got, expected):
        g = np.asarray(g)
        assert g.shape == e.shape, f"{name}: shape {g.shape} vs {source} {e.shape}"
        if e.dtype.kind in "fc":
            np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol=case.rtol, atol=case.atol, err_msg=f"{name} vs {source}")
        else:
            np.testing.assert_array_equal(g, e.astype(g.dtype) if e.dtype == np.int64 else e, err_msg=f"{name} vs {source}")


@pytest.mark.parametrize(("op", "version", "case"), all_cases())
def test_op_version_matches_reference(op, version, case):
    check_against_reference(op, version, case)


@pytest.mark.parametrize("size", [2, 4])
def test_lrn_even_size_follows_the_spec_formula(size):
    # onnxruntime rejects even sizes and onnx.reference sums over the batch axis by mistake,
    # so even sizes are checked against the spec's formula written out in numpy.
    from op_cases import node, x4

    x = x4((2, 6, 3, 4))
    model = make_model([node("LRN", ["x"], size=size, alpha=0.01, beta=0.6, bias=1.2)], {"x": x}, ["y"], 13)
    fn, params = to_jax(model)
    (got,) = fn(params, x)
    lo, hi = (size - 1) // 2, -(-(size - 1) // 2)
    sq = np.stack([(x[:, max(0, c - lo) : min(6, c + hi + 1)] ** 2).sum(1) for c in range(6)], 1)
    np.testing.assert_allclose(np.asarray(got), x / (1.2 + 0.01 / size * sq) ** 0.6, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("version", "mask_dtype"), [(7, np.float32), (10, np.bool_), (12, np.bool_), (13, np.bool_), (22, np.bool_)])
def test_dropout_mask_keeps_everything_at_inference(version, mask_dtype):
    from op_cases import node, x4

    x = x4((2, 3))
    fn, params = to_jax(make_model([node("Dropout", ["x"], ["y", "m"])], {"x": x}, ["y", "m"], version))
    y, m = fn(params, x)
    np.testing.assert_array_equal(np.asarray(y), x)
    assert m.dtype == mask_dtype and bool(np.all(np.asarray(m)))
