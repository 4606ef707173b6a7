"""Gradients with respect to the weights of a converted module, against finite differences.

Every listed operator that has weights (Conv, ConvTranspose, Gemm, MatMul, BatchNormalization,
InstanceNormalization, LayerNormalization, PRelu) in the configurations of ``op_cases`` (its
newest version), plus one Conv per channels-last code path (depthwise taps with their
hand-written VJP, 1x1 as a dot, im2col, grouped): the model's initializers become the module's
variables and ``jax.test_util.check_grads`` compares the reverse-mode gradient with respect to
*all* of them (weights, BatchNormalization statistics) with central differences, in float64
(eps 1e-6, rtol = atol = 1e-5, its float64 default).

The converter stores 2-D Conv kernels HWIO and ``transB`` Gemm matrices [K, N], so gradients
are with respect to those stored arrays; ``test_gradients_in_stored_layout_are_onnx_gradients_permuted``
checks them against the ONNX-order conversion (``channels_last=False``: plain ``lax`` convolutions,
no custom VJP), permuted.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads
from listed_ops import required_versions
from onnx_helpers import make_model
from op_cases import Case, cases_for, node, x4

from dreamjax_onnx import to_nnx

WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "InstanceNormalization",
                "LayerNormalization", "PRelu")


def conv_path_cases() -> list[Case]:
    """One 2-D Conv for each way the channels-last kernel computes it (ops/conv.py)."""
    def conv(label, x, w, **attrs):
        return Case(f"Conv[{label}]", [node("Conv", ["x", "w", "b"], **attrs)], {"x": x}, ["y"],
                    inits={"w": w, "b": x4((w.shape[0],), 9)})

    return [
        conv("depthwise taps VJP,3x3,s2", x4((2, 4, 9, 8)), x4((4, 1, 3, 3), 3), group=4, strides=[2, 2], pads=[1, 1, 1, 1]),
        conv("depthwise taps VJP,5x5,x2", x4((1, 3, 7, 6)), x4((6, 1, 5, 5), 4), group=3, pads=[2, 2, 2, 2]),
        conv("1x1 dot,s2", x4((2, 4, 5, 7)), x4((6, 4, 1, 1), 5), strides=[2, 2]),
        conv("im2col", x4((1, 16, 3, 3)), x4((5, 16, 3, 3), 6), pads=[1, 1, 1, 1]),
        conv("grouped", x4((1, 4, 6, 5)), x4((6, 2, 3, 3), 7), group=2, pads=[1, 0, 1, 1]),
    ]


def grad_cases():
    out = []
    for op in WEIGHTED_OPS:
        version = required_versions(op)[-1]
        cases = cases_for(op, version) + (conv_path_cases() if op == "Conv" else [])
        for case in cases:
            if case.inits:
                out.append(pytest.param(version, case, id=f"{op}-{version}-{case.label}"))
    return out


def float64_module(case: Case, version: int, channels_last: bool = True):
    """The case's model in float64 (call inside ``jax.enable_x64``) and its input."""
    f64 = {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in {**case.inputs, **case.inits}.items()}
    inputs = {k: f64[k] for k in case.inputs}
    inits = {k: f64[k] for k in case.inits}
    model = make_model(case.nodes, inputs, case.outputs, version, inits)
    return to_nnx(model, channels_last=channels_last), [jnp.asarray(v) for v in inputs.values()]


@pytest.mark.parametrize(("version", "case"), grad_cases())
def test_weight_gradients_match_finite_differences(version, case):
    with jax.enable_x64(True):
        module, inputs = float64_module(case, version)
        graphdef, variables = nnx.split(module)
        assert set(variables["initializers"]) == set(case.inits)

        @jax.jit  # one compile, then the finite-difference evaluations are cheap
        def outputs(variables):
            return nnx.merge(graphdef, variables)(*inputs)

        check_grads(outputs, (variables,), order=1, modes=["rev"], eps=1e-6)

        # nnx.grad (what a user calls) gives the same weight gradients, for nnx.Param only.
        def loss(m):
            out = m(*inputs)
            return sum(jnp.sum(jnp.sin(y)) for y in (out if isinstance(out, tuple) else (out,)))

        by_nnx = nnx.jit(nnx.grad(loss))(module)
        by_jax = jax.jit(jax.grad(lambda v: loss(nnx.merge(graphdef, v))))(variables)
        params = nnx.state(module, nnx.Param)["initializers"]
        assert set(by_nnx["initializers"]) == set(params)
        for name in params:
            np.testing.assert_allclose(by_nnx["initializers"][name].get_value(),
                                       by_jax["initializers"][name].get_value(), rtol=1e-12, err_msg=name)


def test_every_weighted_op_and_conv_path_is_checked():
    ids = {p.id.split("-")[0] for p in grad_cases()}
    assert ids == set(WEIGHTED_OPS)
    assert sum("depthwise taps VJP" in p.id for p in grad_cases()) == 2


def test_depthwise_cases_run_the_custom_vjp():
    """The depthwise cases above reach the hand-written VJP (``dreamjax.nn.valid_taps``) on CPU,
    so its weight cotangent is what they check; the ONNX-order conversion does not use it."""
    case = conv_path_cases()[0]
    for channels_last, expected in ((True, jax.default_backend() == "cpu"), (False, False)):
        module, inputs = float64_module(case, 22, channels_last)
        graphdef, variables = nnx.split(module)
        jaxpr = str(jax.make_jaxpr(lambda v: nnx.merge(graphdef, v)(*inputs))(variables))
        assert ("custom_vjp_call" in jaxpr) == expected, channels_last


LAYOUT_CASES = [c for c in grad_cases() if c.id.split("-")[0] in ("Conv", "Gemm")]


@pytest.mark.parametrize(("version", "case"), LAYOUT_CASES)
def test_gradients_in_stored_layout_are_onnx_gradients_permuted(version, case):
    """Channels-last modules store Conv kernels HWIO and transB Gemm matrices [K, N]; their
    gradients are the ONNX-order gradients permuted the same way (``module.param_layouts``),
    and ``onnx_initializers()`` gives the model's initializers back bit for bit."""
    def loss(m):
        return jnp.sum(jnp.sin(m(*inputs)))

    with jax.enable_x64(True):
        stored, inputs = float64_module(case, version, channels_last=True)
        plain, _ = float64_module(case, version, channels_last=False)
        assert not plain.param_layouts
        got = nnx.jit(nnx.grad(loss))(stored)["initializers"]
        want = nnx.jit(nnx.grad(loss))(plain)["initializers"]
        for name, perm in stored.param_layouts.items():
            assert stored.initializers[name].get_value().shape == case.inits[name].transpose(perm).shape
        for name in want:
            g = np.asarray(got[name].get_value())
            perm = stored.param_layouts.get(name)
            g = g.transpose(np.argsort(perm)) if perm is not None else g
            np.testing.assert_allclose(g, want[name].get_value(), rtol=1e-10, atol=1e-12, err_msg=name)
        for name, array in stored.onnx_initializers().items():
            np.testing.assert_array_equal(array, case.inits[name].astype(np.float64), err_msg=name)
    relaid = (case.label.startswith("Conv") and case.inits["w"].ndim == 4) or "transB" in case.label
    assert bool(stored.param_layouts) == relaid, stored.param_layouts
