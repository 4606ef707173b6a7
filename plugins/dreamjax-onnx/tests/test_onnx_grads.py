"""jax.grad through every differentiable listed operator, against finite differences.

Runs in float64 (``jax.enable_x64``) so central differences are accurate: each case's first
input is perturbed by eps=1e-6 and ``jax.test_util.check_grads`` compares reverse-mode
gradients with rtol=atol=1e-5 (its float64 default). Pools are checked in every padding /
stride / dilation / ceil_mode / count_include_pad / auto_pad configuration of their newest
version (and MaxPool-8/AveragePool-7 too); LRN, Resize (linear, cubic, antialias) included.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from jax.test_util import check_grads
from listed_ops import LISTED_OPS, required_versions
from onnx_helpers import make_model
from op_cases import cases_for

from dreamjax_onnx import to_jax


def grad_cases():
    out = []
    for op in LISTED_OPS:
        versions = required_versions(op)
        chosen = {versions[-1]} | ({versions[0]} if op in ("MaxPool", "AveragePool", "Resize", "Upsample") else set())
        for v in sorted(chosen):
            for case in cases_for(op, v):
                if case.grad and case.inputs:
                    out.append(pytest.param(op, v, case, id=f"{op}-{v}-{case.label}"))
    return out


@pytest.mark.parametrize(("op", "version", "case"), grad_cases())
def test_grad_matches_finite_differences(op, version, case):
    names = list(case.inputs)
    first = names[0]
    if case.inputs[first].dtype != np.float32:
        pytest.fail(f"{case.label}: first input must be float to differentiate")
    with jax.enable_x64(True):
        inputs = {k: (v.astype(np.float64) if v.dtype == np.float32 else v) for k, v in case.inputs.items()}
        model = make_model(case.nodes, inputs, case.outputs, max(version, 7), case.inits)
        fn, params = to_jax(model)
        rest = [inputs[k] for k in names[1:]]

        @jax.jit  # one compile, then the many finite-difference evaluations are cheap
        def first_output(x):
            return fn(params, x, *rest)[0]

        check_grads(first_output, (inputs[first],), order=1, modes=["rev"], eps=1e-6)


def test_every_differentiable_listed_op_has_a_gradient_check():
    covered = {p.values[0] for p in grad_cases()}
    not_differentiable = {"Shape", "Equal", "Cast"}  # integer or boolean results
    assert set(LISTED_OPS) - not_differentiable <= covered, set(LISTED_OPS) - not_differentiable - covered
