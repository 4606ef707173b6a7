"""The XLA:CPU kernels (hand-written VJPs) against the plain lax forms, op by op.

Every Conv, ConvTranspose, MaxPool, AveragePool, LRN and LayerNormalization case of ``op_cases`` (newest version) is converted twice,
``kernels="cpu"`` (slices and custom VJPs) and ``kernels="plain"`` (``lax.conv`` /
``reduce_window`` and autodiff), and run both on its ONNX-order input and behind a 1x1
identity Conv (so the pool runs on channels-last values). Values, input gradients and
parameter gradients (weights and bias) must agree; the custom VJPs are also checked
against central finite differences in float64 (``jax.test_util.check_grads``, rtol=atol=1e-5),
with respect to the input and to the params.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from listed_ops import required_versions
from onnx import helper
from onnx_helpers import make_model
from op_cases import cases_for

from dreamjax_onnx import to_jax

OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LRN", "LayerNormalization")


def kernel_cases():
    out = []
    for op in OPS:
        v = required_versions(op)[-1]
        for case in cases_for(op, v):
            if case.grad and case.inputs:
                for front in ("onnx order", "channels last"):
                    out.append(pytest.param(op, v, case, front, id=f"{op}-{v}-{case.label}-{front}"))
    return out


def build(case, version, front: str, dtype=np.float32):
    """The case's model (optionally behind an identity 1x1 Conv), its input and its params."""
    x = case.inputs["x"].astype(dtype)
    nodes, inits = list(case.nodes), {k: v.astype(dtype) for k, v in case.inits.items()}
    if front == "channels last":
        if x.ndim != 4:
            pytest.skip("channels-last values are 4-D")
        c = x.shape[1]
        inits["eye"] = np.eye(c, dtype=dtype).reshape(c, c, 1, 1)
        nodes = [helper.make_node("Conv", ["x", "eye"], ["x_cl"])] + [_renamed(n, "x", "x_cl") for n in nodes]
    return make_model(nodes, {"x": x}, case.outputs, max(version, 7), inits), x


def _renamed(node, old, new):
    node = type(node).FromString(node.SerializeToString())
    node.input[:] = [new if i == old else i for i in node.input]
    return node


def values_and_grads(model, x, kernels):
    fn, params = to_jax(model, kernels=kernels)
    trainable = {k: v for k, v in params.items() if k != "eye"}

    def loss(p, x):
        y = fn({**params, **p}, x)[0]
        return jnp.sum(jnp.sin(y * 1.7))  # a cotangent that differs from element to element

    y = fn(params, x)[0]
    gp, gx = jax.grad(loss, argnums=(0, 1))(trainable, x)
    # Param grads compared in ONNX layout (the converter may store a kernel HWIO).
    gp = {k: np.asarray(v).transpose(np.argsort(fn.param_layouts[k])) if k in fn.param_layouts else np.asarray(v)
          for k, v in gp.items()}
    return np.asarray(y), np.asarray(gx), gp


@pytest.mark.parametrize(("op", "version", "case", "front"), kernel_cases())
def test_cpu_kernels_match_plain_forms(op, version, case, front):
    model, x = build(case, version, front)
    y_cpu, gx_cpu, gp_cpu = values_and_grads(model, x, "cpu")
    y_plain, gx_plain, gp_plain = values_and_grads(model, x, "plain")
    np.testing.assert_allclose(y_cpu, y_plain, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gx_cpu, gx_plain, rtol=1e-4, atol=1e-5)
    assert gp_cpu.keys() == gp_plain.keys()
    for name in gp_cpu:
        np.testing.assert_allclose(gp_cpu[name], gp_plain[name], rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize(("op", "version", "case", "front"), kernel_cases())
def test_cpu_kernels_match_finite_differences(op, version, case, front):
    with jax.enable_x64(True):
        model, x = build(case, version, front, np.float64)
        fn, params = to_jax(model, kernels="cpu")
        names = sorted(k for k in params if k != "eye")

        @jax.jit
        def first_output(x, *weights):
            return fn({**params, **dict(zip(names, weights))}, x)[0]

        check_grads(first_output, (x, *(params[k] for k in names)), order=1, modes=["rev"], eps=1e-6)


def test_an_unknown_kernel_choice_is_refused():
    case = cases_for("MaxPool", 12)[0]
    with pytest.raises(ValueError, match="unknown kernel choice 'gpu'"):
        to_jax(make_model(case.nodes, case.inputs, case.outputs, 12), kernels="gpu")
