"""Matrix products."""

from __future__ import annotations

import jax.numpy as jnp

from ..registry import OpTable

T = OpTable()


@T.op("Gemm", 7, 9, 11, 13)
def gemm(n, a, b, c=None):
    if n.attr("transA", 0):
        a = a.T
    if n.attr("transB", 0):
        b = b.T
    y = jnp.matmul(a, b.astype(a.dtype))
    alpha, beta = n.attr("alpha", 1.0), n.attr("beta", 1.0)
    if alpha != 1.0:
        y = y * jnp.asarray(alpha, y.dtype)
    if c is not None:
        c = jnp.asarray(c).astype(y.dtype)
        y = y + (c if beta == 1.0 else c * jnp.asarray(beta, y.dtype))
    return y


@T.op("MatMul", 1, 9, 13)
def matmul(n, a, b):
    return jnp.matmul(a, b)


@T.op("Einsum", 12, 28)
def einsum(n, *xs):
    return jnp.einsum(n.attr("equation").replace(" ", ""), *xs)


@T.op("Det", 11, 22)
def det(n, x):
    return jnp.linalg.det(x)
