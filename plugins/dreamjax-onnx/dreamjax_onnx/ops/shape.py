"""Shapes and layout: Shape, Size, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat,
Split, Expand, Tile, Pad, CenterCropPad, DepthToSpace, SpaceToDepth.

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
from ._util import axis, static_ints

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
