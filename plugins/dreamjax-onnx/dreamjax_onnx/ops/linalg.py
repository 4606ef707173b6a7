"""Matrix products."""

from __future__ import annotations

import jax.numpy as jnp

from .. import layout
from ..registry import OpTable

T = OpTable()


def _gemm(n, a, b, c):
    """alpha * op(A) @ B + beta * C, with ``b`` already op(B)."""
    if n.attr("transA", 0):
        a = a.T
    y = jnp.matmul(a, b.astype(a.dtype))
    alpha, beta = n.attr("alpha", 1.0), n.attr("beta", 1.0)
    if alpha != 1.0:
        y = y * jnp.asarray(alpha, y.dtype)
    if c is not None:
        c = jnp.asarray(c).astype(y.dtype)
        y = y + (c if beta == 1.0 else c * jnp.asarray(beta, y.dtype))
    return y


def _gemm_stored_transposed(n, a, b, c=None):
    """Gemm whose ``transB`` matrix is stored [K, N] in params (:func:`..layout.weight_layouts`)."""
    if not (isinstance(b, layout.Relaid) and b.perm == layout.GEMM_B):
        return None
    return _gemm(n, layout.standard(a), b.array, layout.standard(c))


@T.op("Gemm", 7, 9, 11, 13, channels_last=_gemm_stored_transposed)
def gemm(n, a, b, c=None):
    return _gemm(n, a, b.T if n.attr("transB", 0) else b, c)


@T.op("MatMul", 1, 9, 13)
def matmul(n, a, b):
    return jnp.matmul(a, b)


@T.op("Einsum", 12, 28)
def einsum(n, *xs):
    return jnp.einsum(n.attr("equation").replace(" ", ""), *xs)


@T.op("Det", 11, 22)
def det(n, x):
    return jnp.linalg.det(x)
