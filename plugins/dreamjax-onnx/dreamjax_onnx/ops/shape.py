"""Shape, layout, indexing and tensor-construction operators.

Shape and Size return numpy arrays: a shape is always known while tracing, so everything
computed from it (Gather, Concat, Slice... of shapes) is folded by the converter and the
reshape targets follow the actual input size.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import layout
from ..registry import OpTable
from ._util import axis, jax_dtype, np_dtype, static_ints, static_value

T = OpTable()
INT64 = np.int64


@T.op("Shape", 1, 13)
def shape_1(n, x):
    return np.array(x.shape, INT64)


@T.op("Shape", 15, 19, 21, 23, 24, 25)
def shape_15(n, x):
    r = len(x.shape)
    start, end = n.attr("start", 0), n.attr("end", r)
    start = min(max(start + r if start < 0 else start, 0), r)
    end = min(max(end + r if end < 0 else end, 0), r)
    return np.array(x.shape[start:end], INT64)


@T.op("Size", 1, 13, 19, 21, 23, 24, 25)
def size(n, x):
    return np.array(math.prod(x.shape), INT64)


def reshape_target(shape, target, allowzero: bool) -> tuple[int, ...]:
    out = list(target)
    for i, d in enumerate(out):
        if d == 0 and not allowzero:
            out[i] = shape[i]
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        out[out.index(-1)] = math.prod(shape) // known if known else 0
    return tuple(out)


@T.op("Reshape", 5, 13, static=(1,))
def reshape_5(n, x, shape):
    return jnp.reshape(x, reshape_target(x.shape, static_ints(shape, "Reshape shape"), False))


@T.op("Reshape", 14, 19, 21, 23, 24, 25, static=(1,))
def reshape_14(n, x, shape):
    allowzero = bool(n.attr("allowzero", 0))
    return jnp.reshape(x, reshape_target(x.shape, static_ints(shape, "Reshape shape"), allowzero))


@T.op("Flatten", 1, 9, 11, 13, 21, 23, 24, 25)
def flatten(n, x):
    a = axis(n.attr("axis", 1), x.ndim)
    return jnp.reshape(x, (math.prod(x.shape[:a]), math.prod(x.shape[a:])))


@T.op("Transpose", 1, 13, 21, 23, 24, 25, channels_last=layout.transpose)
def transpose(n, x):
    perm = n.attr("perm")
    return jnp.transpose(x, perm if perm is not None else tuple(reversed(range(x.ndim))))


def _squeeze(x, axes):
    if axes is None:
        return jnp.squeeze(x, axis=tuple(i for i, d in enumerate(x.shape) if d == 1))
    return jnp.squeeze(x, axis=tuple(axis(a, x.ndim) for a in axes))


@T.op("Squeeze", 1, 11)
def squeeze_1(n, x):
    return _squeeze(x, n.attr("axes"))


@T.op("Squeeze", 13, 21, 23, 24, 25, static=(1,))
def squeeze_13(n, x, axes=None):
    return _squeeze(x, None if axes is None else static_ints(axes, "Squeeze axes"))


def _unsqueeze(x, axes):
    rank = x.ndim + len(axes)
    axes = sorted(axis(a, rank) for a in axes)
    return lax.expand_dims(x, axes) if not isinstance(x, np.ndarray) else np.expand_dims(x, axes)


@T.op("Unsqueeze", 1, 11)
def unsqueeze_1(n, x):
    return _unsqueeze(jnp.asarray(x), n.attr("axes"))


@T.op("Unsqueeze", 13, 21, 23, 24, 25, static=(1,))
def unsqueeze_13(n, x, axes):
    return _unsqueeze(jnp.asarray(x), static_ints(axes, "Unsqueeze axes"))


def _concat_channels_last(n, *xs):
    rank = layout.relaid_rank(xs)
    if rank is None or any(jnp.ndim(x) != rank for x in xs):
        return None
    ax = layout.channels_last_perm(rank).index(axis(n.attr("axis"), rank))
    return layout.wrap(jnp.concatenate([layout.channels_last(x) for x in xs], axis=ax))


@T.op("Concat", 4, 11, 13, channels_last=_concat_channels_last)
def concat(n, *xs):
    xs = [jnp.asarray(x) for x in xs]
    return jnp.concatenate(xs, axis=axis(n.attr("axis"), xs[0].ndim))


def _split(x, ax, sizes):
    bounds = np.cumsum(sizes)[:-1].tolist()
    return tuple(jnp.split(x, bounds, axis=ax))


def _even(length, parts):
    return [length // parts] * parts


@T.op("Split", 2, 11)
def split_2(n, x):
    ax = axis(n.attr("axis", 0), x.ndim)
    sizes = n.attr("split") or _even(x.shape[ax], n.n_outputs)
    return _split(x, ax, sizes)


@T.op("Split", 13, static=(1,))
def split_13(n, x, split=None):
    ax = axis(n.attr("axis", 0), x.ndim)
    sizes = static_ints(split, "Split sizes") if split is not None else _even(x.shape[ax], n.n_outputs)
    return _split(x, ax, sizes)


@T.op("Split", 18, static=(1,))
def split_18(n, x, split=None):
    ax = axis(n.attr("axis", 0), x.ndim)
    if split is not None:
        sizes = static_ints(split, "Split sizes")
    else:
        parts = n.attr("num_outputs", n.n_outputs)
        chunk = -(-x.shape[ax] // parts)  # ceil: the last chunk may be smaller
        sizes = [min(chunk, x.shape[ax] - i * chunk) for i in range(parts)]
    return _split(x, ax, sizes)


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


@T.op("Expand", 8, 13, static=(1,))
def expand(n, x, shape):
    x = jnp.asarray(x)
    target = np.broadcast_shapes(x.shape, tuple(static_ints(shape, "Expand shape")))
    return jnp.broadcast_to(x, target)


@T.op("Tile", 6, 13, static=(1,))
def tile(n, x, repeats):
    return jnp.tile(x, static_ints(repeats, "Tile repeats"))


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": "wrap"}


def _pad(x, pads, mode, value, axes=None):
    x = jnp.asarray(x)
    rank = x.ndim
    axes = list(range(rank)) if axes is None else [axis(a, rank) for a in axes]
    k = len(axes)
    widths = [(0, 0)] * rank
    for i, a in enumerate(axes):
        widths[a] = (pads[i], pads[i + k])
    # Negative pads crop.
    crop = tuple(slice(max(-b, 0), x.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(widths))
    x = x[crop]
    widths = [(max(b, 0), max(e, 0)) for b, e in widths]
    if mode == "constant":
        return jnp.pad(x, widths, mode="constant", constant_values=jnp.asarray(value).astype(x.dtype))
    return jnp.pad(x, widths, mode=_PAD_MODES[mode])


@T.op("Pad", 2)
def pad_2(n, x):
    return _pad(x, n.attr("pads"), n.attr("mode", "constant"), n.attr("value", 0.0))


@T.op("Pad", 11, 13, static=(1,))
def pad_11(n, x, pads, value=None):
    return _pad(x, static_ints(pads, "Pad pads"), n.attr("mode", "constant"), 0 if value is None else value)


@T.op("Pad", 18, 19, 21, 23, 24, 25, static=(1, 3))
def pad_18(n, x, pads, value=None, axes=None):
    ax = None if axes is None else static_ints(axes, "Pad axes")
    return _pad(x, static_ints(pads, "Pad pads"), n.attr("mode", "constant"), 0 if value is None else value, ax)


@T.op("ConstantOfShape", 9, 20, 21, 23, 24, 25, static=(0,))
def constant_of_shape(n, shape):
    value = n.attr("value")
    value = np.zeros((1,), np.float32) if value is None else value
    return np.full(tuple(static_ints(shape, "ConstantOfShape shape")), value.reshape(-1)[0], value.dtype)


@T.op("Constant", 1, 9, 11, 12, 13, 19, 21, 23, 24, 25)
def constant(n):
    a = n.attrs
    if "value" in a:
        return np.asarray(a["value"])
    if "value_float" in a:
        return np.array(a["value_float"], np.float32)
    if "value_floats" in a:
        return np.array(a["value_floats"], np.float32)
    if "value_int" in a:
        return np.array(a["value_int"], INT64)
    if "value_ints" in a:
        return np.array(a["value_ints"], INT64)
    if "value_string" in a:
        return np.array(a["value_string"], object)
    if "value_strings" in a:
        return np.array(a["value_strings"], object)
    if "sparse_value" in a:
        from onnx import numpy_helper

        sp = a["sparse_value"]
        vals, idx = numpy_helper.to_array(sp.values), numpy_helper.to_array(sp.indices)
        dense = np.zeros(tuple(sp.dims), vals.dtype)
        dense.reshape(-1)[idx.reshape(-1)] = vals
        return dense
    raise ValueError("Constant node has no value attribute")


@T.op("Range", 11, 27, static=(0, 1, 2))
def range_(n, start, limit, delta):
    s, l_, d = (np.asarray(static_value(v, "Range bounds")) for v in (start, limit, delta))
    dtype = s.dtype
    s, l_, d = (v.reshape(-1)[0] for v in (s, l_, d))  # scalars (some exporters emit shape [1])
    count = max(int(np.ceil((l_ - s) / d)), 0)
    return (s + np.arange(count, dtype=dtype) * d).astype(dtype)


@T.op("Dropout", 7)
def dropout_7(n, x):
    return x, jnp.ones(x.shape, x.dtype)  # Dropout-7's mask has the input's type


@T.op("Dropout", 10)
def dropout_10(n, x):
    return x, jnp.ones(x.shape, bool)


@T.op("Dropout", 12, 13, 22, static=(1, 2))
def dropout_12(n, x, ratio=None, training_mode=None):
    training = training_mode is not None and bool(static_value(training_mode, "Dropout training_mode"))
    r = 0.5 if ratio is None else float(static_value(ratio, "Dropout ratio"))
    if not training or r == 0:
        return x, jnp.ones(x.shape, bool)
    # Training mode: the mask comes from numpy's RandomState(seed), as in the ONNX reference,
    # drawn once while tracing. Deterministic per seed; this converter targets inference.
    mask = np.random.RandomState(n.attr("seed", 0)).uniform(0, 1.0, x.shape) >= r
    scale = jnp.asarray(1.0 / (1.0 - r), x.dtype)
    return x * mask.astype(x.dtype) * scale, jnp.asarray(mask)


@T.op("DepthToSpace", 1, 11, 13, 28)
def depth_to_space(n, x):
    b = n.attr("blocksize")
    N, C, H, W = x.shape
    if n.attr("mode", "DCR") == "DCR":
        y = x.reshape(N, b, b, C // (b * b), H, W).transpose(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(N, C // (b * b), b, b, H, W).transpose(0, 1, 4, 2, 5, 3)
    return y.reshape(N, C // (b * b), H * b, W * b)


@T.op("SpaceToDepth", 1, 13, 28)
def space_to_depth(n, x):
    b = n.attr("blocksize")
    N, C, H, W = x.shape
    y = x.reshape(N, C, H // b, b, W // b, b)
    if n.attr("mode", "DCR") == "CRD":  # SpaceToDepth-28: channel-major, the inverse of DepthToSpace CRD
        y = y.transpose(0, 1, 3, 5, 2, 4)
    else:
        y = y.transpose(0, 3, 5, 1, 2, 4)
    return y.reshape(N, C * b * b, H // b, W // b)


@T.op("Trilu", 14, static=(1,))
def trilu(n, x, k=None):
    kk = 0 if k is None else static_ints(k, "Trilu k")[0]
    return jnp.triu(x, kk) if n.attr("upper", 1) else jnp.tril(x, kk)


@T.op("EyeLike", 9, 22)
def eye_like(n, x):
    dt = np_dtype(n.attr("dtype")) if n.attr("dtype") is not None else x.dtype
    return jnp.eye(x.shape[0], x.shape[1], k=n.attr("k", 0), dtype=jax_dtype(dt))


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


@T.op("CenterCropPad", 18, static=(1,))
def center_crop_pad(n, x, shape):
    target = static_ints(shape, "CenterCropPad shape")
    axes = n.attr("axes") or list(range(x.ndim))
    axes = [axis(a, x.ndim) for a in axes]
    for a, t in zip(axes, target):
        d = x.shape[a]
        if t < d:
            start = (d - t) // 2
            x = lax.slice_in_dim(x, start, start + t, axis=a)
        elif t > d:
            before = (t - d) // 2
            widths = [(0, 0)] * x.ndim
            widths[a] = (before, t - d - before)
            x = jnp.pad(x, widths)
    return x
