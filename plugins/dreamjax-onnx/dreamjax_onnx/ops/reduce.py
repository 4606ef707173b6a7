"""Reductions, arg-reductions, cumulative sums and top-k.

ReduceX versions differ in where ``axes`` comes from: an attribute up to opset 17 (ReduceSum:
up to 12), an input afterwards, where ``noop_with_empty_axes`` also appears.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..registry import OpTable
from ._util import axes as norm_axes
from ._util import axis, jax_dtype, static_ints

T = OpTable()


def _lowest(dtype):
    if dtype == jnp.bool_:
        return False
    return -jnp.inf if jnp.issubdtype(dtype, jnp.floating) else jnp.iinfo(dtype).min


def _highest(dtype):
    if dtype == jnp.bool_:
        return True
    return jnp.inf if jnp.issubdtype(dtype, jnp.floating) else jnp.iinfo(dtype).max


def _max(x, axis, keepdims):
    return jnp.max(x, axis=axis, keepdims=keepdims, initial=_lowest(x.dtype))


def _min(x, axis, keepdims):
    return jnp.min(x, axis=axis, keepdims=keepdims, initial=_highest(x.dtype))


def _typed(f):
    def g(x, axis, keepdims):
        return f(x, axis, keepdims).astype(x.dtype)

    return g


REDUCERS = {
    "ReduceSum": _typed(lambda x, a, k: jnp.sum(x, axis=a, keepdims=k)),
    "ReduceMean": _typed(lambda x, a, k: jnp.mean(x, axis=a, keepdims=k)),
    "ReduceMax": _max,
    "ReduceMin": _min,
    "ReduceProd": _typed(lambda x, a, k: jnp.prod(x, axis=a, keepdims=k)),
    "ReduceL1": _typed(lambda x, a, k: jnp.sum(jnp.abs(x), axis=a, keepdims=k)),
    "ReduceL2": _typed(lambda x, a, k: jnp.sqrt(jnp.sum(jnp.square(x), axis=a, keepdims=k))),
    "ReduceLogSum": _typed(lambda x, a, k: jnp.log(jnp.sum(x, axis=a, keepdims=k))),
    "ReduceLogSumExp": _typed(lambda x, a, k: jax.nn.logsumexp(x, axis=a, keepdims=k)),
    "ReduceSumSquare": _typed(lambda x, a, k: jnp.sum(jnp.square(x), axis=a, keepdims=k)),
}


def _reduce(name: str, x, ax, keepdims: bool, noop: bool):
    x = jnp.asarray(x)
    if ax is None or len(ax) == 0:
        if noop:
            return x
        ax = tuple(range(x.ndim))
    else:
        ax = norm_axes(ax, x.ndim)
    return REDUCERS[name](x, ax, keepdims)


def _attr_axes_kernel(name):
    def kernel(n, x):
        return _reduce(name, x, n.attr("axes"), bool(n.attr("keepdims", 1)), False)

    return kernel


def _input_axes_kernel(name):
    def kernel(n, x, axes=None):
        ax = None if axes is None else static_ints(axes, f"{name} axes")
        return _reduce(name, x, ax, bool(n.attr("keepdims", 1)), bool(n.attr("noop_with_empty_axes", 0)))

    return kernel


# (attribute versions, input versions) per reducer, as defined by onnx.defs.
_VERSIONS = {
    "ReduceSum": ((1, 11), (13,)),
    "ReduceMean": ((1, 11, 13), (18,)),
    "ReduceMax": ((1, 11, 12, 13), (18, 20)),
    "ReduceMin": ((1, 11, 12, 13), (18, 20)),
    "ReduceProd": ((1, 11, 13), (18,)),
    "ReduceL1": ((1, 11, 13), (18,)),
    "ReduceL2": ((1, 11, 13), (18,)),
    "ReduceLogSum": ((1, 11, 13), (18, 28)),
    "ReduceLogSumExp": ((1, 11, 13), (18, 28)),
    "ReduceSumSquare": ((1, 11, 13), (18,)),
}
for _name, (_attr_v, _input_v) in _VERSIONS.items():
    T.op(_name, *_attr_v)(_attr_axes_kernel(_name))
    T.op(_name, *_input_v, static=(1,))(_input_axes_kernel(_name))


def _arg(n, x, largest: bool):
    ax = axis(n.attr("axis", 0), x.ndim)
    keep = bool(n.attr("keepdims", 1))
    if n.attr("select_last_index", 0):
        flipped = jnp.flip(x, ax)
        idx = (jnp.argmax if largest else jnp.argmin)(flipped, axis=ax, keepdims=keep)
        idx = x.shape[ax] - 1 - idx
    else:
        idx = (jnp.argmax if largest else jnp.argmin)(x, axis=ax, keepdims=keep)
    return idx.astype(jax_dtype(np.int64))


@T.op("ArgMax", 1, 11, 12, 13)
def arg_max(n, x):
    return _arg(n, x, True)


@T.op("ArgMin", 1, 11, 12, 13)
def arg_min(n, x):
    return _arg(n, x, False)


@T.op("CumSum", 11, 14, static=(1,))
def cum_sum(n, x, ax):
    a = axis(static_ints(ax, "CumSum axis")[0], x.ndim)
    if n.attr("reverse", 0):
        x = jnp.flip(x, a)
    y = jnp.cumsum(x, axis=a, dtype=x.dtype)
    if n.attr("exclusive", 0):
        y = y - x
    if n.attr("reverse", 0):
        y = jnp.flip(y, a)
    return y


@T.op("CumProd", 26, static=(1,))
def cum_prod(n, x, ax):
    a = axis(static_ints(ax, "CumProd axis")[0], x.ndim)
    if n.attr("reverse", 0):
        x = jnp.flip(x, a)
    if n.attr("exclusive", 0):
        pad = [(0, 0)] * x.ndim
        pad[a] = (1, 0)
        x = jnp.pad(x, pad, constant_values=1)
        x = jax.lax.slice_in_dim(x, 0, x.shape[a] - 1, axis=a)
    y = jnp.cumprod(x, axis=a, dtype=x.dtype)
    if n.attr("reverse", 0):
        y = jnp.flip(y, a)
    return y


def _top_k(n, x, k: int):
    ax = axis(n.attr("axis", -1), x.ndim)
    largest = bool(n.attr("largest", 1))
    # Stable sort keeps the lower index first among equal values, as ONNX requires.
    order = jnp.argsort(x, axis=ax, stable=True, descending=largest)
    idx = jax.lax.slice_in_dim(order, 0, k, axis=ax)
    return jnp.take_along_axis(x, idx, axis=ax), idx.astype(jax_dtype(np.int64))


@T.op("TopK", 1)
def top_k_1(n, x):
    return _top_k(n, x, n.attr("k"))


@T.op("TopK", 10, 11, 24, static=(1,))
def top_k_10(n, x, k):
    return _top_k(n, x, static_ints(k, "TopK k")[0])
