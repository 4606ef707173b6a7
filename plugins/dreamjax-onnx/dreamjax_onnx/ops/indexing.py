"""Indexing: Slice, Gather, GatherElements, GatherND, Scatter, ScatterElements, ScatterND,
Compress, NonZero, OneHot, Trilu, ReverseSequence.

Negative indices count from the end, as ONNX allows. Values that decide an output's shape
(Slice's bounds, Compress's condition, NonZero's input) must be known while tracing.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

from ..registry import OpTable
from ._util import axis, static_ints, static_value

T = OpTable()
INT64 = np.int64


def _slice(x, starts, ends, axes, steps):
    rank = x.ndim
    axes = list(range(len(starts))) if axes is None else [axis(a, rank) for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * rank
    for s, e, a, st in zip(starts, ends, axes, steps):
        dim = x.shape[a]
        s = s + dim if s < 0 else s
        e = e + dim if e < 0 else e
        if st > 0:
            s, e = min(max(s, 0), dim), min(max(e, 0), dim)
        else:
            s, e = min(max(s, 0), dim - 1), min(max(e, -1), dim - 1)
        index[a] = slice(s, e if e >= 0 else None, st)
    return x[tuple(index)]


@T.op("Slice", 1)
def slice_1(n, x):
    return _slice(jnp.asarray(x), n.attr("starts"), n.attr("ends"), n.attr("axes"), None)


@T.op("Slice", 10, 11, 13, static=(1, 2, 3, 4))
def slice_10(n, x, starts, ends, axes=None, steps=None):
    def ints(v, what):
        return None if v is None else static_ints(v, f"Slice {what}")

    return _slice(jnp.asarray(x), ints(starts, "starts"), ints(ends, "ends"), ints(axes, "axes"), ints(steps, "steps"))


def _wrap_indices(idx, dim):
    idx = jnp.asarray(idx)
    return jnp.where(idx < 0, idx + dim, idx)


@T.op("Gather", 1, 11, 13)
def gather(n, x, indices):
    x = jnp.asarray(x)
    a = axis(n.attr("axis", 0), x.ndim)
    return jnp.take(x, _wrap_indices(indices, x.shape[a]), axis=a)


@T.op("GatherElements", 11, 13)
def gather_elements(n, x, indices):
    a = axis(n.attr("axis", 0), x.ndim)
    return jnp.take_along_axis(x, _wrap_indices(indices, x.shape[a]), axis=a)


@T.op("GatherND", 11, 12, 13)
def gather_nd(n, x, indices):
    b = n.attr("batch_dims", 0)
    indices = jnp.asarray(indices)
    k = indices.shape[-1]
    dims = jnp.array(x.shape[b : b + k])
    indices = jnp.where(indices < 0, indices + dims, indices)
    batch = x.shape[:b]
    xb = x.reshape((-1,) + x.shape[b:])
    ib = indices.reshape((-1,) + indices.shape[b:])

    def one(xi, ii):
        return xi[tuple(jnp.moveaxis(ii, -1, 0))]

    import jax

    out = jax.vmap(one)(xb, ib)
    return out.reshape(batch + out.shape[1:])


def _scatter_elements(n, x, indices, updates):
    a = axis(n.attr("axis", 0), x.ndim)
    indices = _wrap_indices(indices, x.shape[a])
    grid = jnp.meshgrid(*[jnp.arange(s) for s in indices.shape], indexing="ij")
    grid[a] = indices
    ref = x.at[tuple(grid)]
    return _apply_reduction(ref, updates, n.attr("reduction", "none"))


def _apply_reduction(ref, updates, reduction):
    if reduction == "add":
        return ref.add(updates)
    if reduction == "mul":
        return ref.multiply(updates)
    if reduction == "max":
        return ref.max(updates)
    if reduction == "min":
        return ref.min(updates)
    return ref.set(updates)


@T.op("ScatterElements", 11, 13, 16, 18)
def scatter_elements(n, x, indices, updates):
    return _scatter_elements(n, x, indices, updates)


@T.op("Scatter", 9, 11)
def scatter(n, x, indices, updates):
    return _scatter_elements(n, x, indices, updates)


@T.op("ScatterND", 11, 13, 16, 18)
def scatter_nd(n, x, indices, updates):
    indices = jnp.asarray(indices)
    k = indices.shape[-1]
    dims = jnp.array(x.shape[:k])
    indices = jnp.where(indices < 0, indices + dims, indices)
    ref = x.at[tuple(jnp.moveaxis(indices, -1, 0))]
    return _apply_reduction(ref, updates, n.attr("reduction", "none"))


@T.op("Trilu", 14, static=(1,))
def trilu(n, x, k=None):
    kk = 0 if k is None else static_ints(k, "Trilu k")[0]
    return jnp.triu(x, kk) if n.attr("upper", 1) else jnp.tril(x, kk)


@T.op("OneHot", 9, 11, 28, static=(1,))
def one_hot(n, indices, depth, values):
    d = int(static_value(depth, "OneHot depth").reshape(-1)[0])
    indices = jnp.asarray(indices)
    rank = indices.ndim + 1
    a = axis(n.attr("axis", -1), rank)
    idx = jnp.where(indices < 0, indices + d, indices)
    hot = jnp.expand_dims(idx, a) == lax.broadcasted_iota(idx.dtype, tuple(np.insert(np.array(idx.shape, int), a, d)), a)
    values = jnp.asarray(values)
    return jnp.where(hot, values[1], values[0])


@T.op("Compress", 9, 11, 28, static=(1,))
def compress(n, x, condition):
    cond = static_value(condition, "Compress condition").astype(bool)
    a = n.attr("axis")
    if a is None:
        flat = jnp.reshape(x, (-1,))
        return flat[np.nonzero(cond)[0]]
    a = axis(a, x.ndim)
    return jnp.take(x, np.nonzero(cond[: x.shape[a]])[0], axis=a)


@T.op("NonZero", 9, 13, static=(0,))
def non_zero(n, x):
    return np.array(np.nonzero(static_value(x, "NonZero input")), INT64)


@T.op("ReverseSequence", 10, 28)
def reverse_sequence(n, x, lengths):
    batch_axis, time_axis = n.attr("batch_axis", 1), n.attr("time_axis", 0)
    t = jnp.arange(x.shape[time_axis])
    lengths = jnp.asarray(lengths)
    shape = [1] * x.ndim
    shape[time_axis] = x.shape[time_axis]
    tt = t.reshape(shape)
    lshape = [1] * x.ndim
    lshape[batch_axis] = x.shape[batch_axis]
    ll = lengths.reshape(lshape)
    src = jnp.where(tt < ll, ll - 1 - tt, tt)
    src = jnp.broadcast_to(src, x.shape)
    return jnp.take_along_axis(x, src, axis=time_axis)
