"""Pooling and LRN.

Max and average pools and LRN run as :func:`dreamjax.nn.max_pool`, :func:`dreamjax.nn.sum_pool`
and :func:`dreamjax.nn.lrn` (folds over the window's slices, hand-written gradients) with the
XLA:CPU kernels, and on ``lax.reduce_window`` otherwise (see :mod:`dreamjax.nn.platform`).

Output sizes follow ONNX/PyTorch: ``floor`` (or ``ceil`` with ``ceil_mode``) of
``(in + pads - dilated_kernel) / stride + 1``; in ceil mode a last window that would start in
the end padding is dropped. The extra end padding ceil mode needs is never counted as padding
by ``count_include_pad`` (as in onnxruntime and PyTorch).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jax import lax

from dreamjax import nn as shared_kernels

from .. import layout
from ..registry import OpTable
from ._util import jax_dtype
from .conv import same_pads

T = OpTable()


def pool_geometry(n, spatial, *, dilations_ok: bool = True, ceil_ok: bool = True):
    """(kernel, strides, dilations, explicit pads, extra end pads for ceil mode) over ``spatial``."""
    nd = len(spatial)
    kernel = list(n.attr("kernel_shape"))
    strides = list(n.attr("strides", [1] * nd))
    dilations = list(n.attr("dilations", [1] * nd)) if dilations_ok else [1] * nd
    ceil = bool(n.attr("ceil_mode", 0)) if ceil_ok else False
    auto = n.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [same_pads(spatial[i], kernel[i], strides[i], dilations[i], auto == "SAME_UPPER") for i in range(nd)]
    elif auto == "VALID":
        pads = [(0, 0)] * nd
    else:
        p = n.attr("pads", [0] * (2 * nd))
        pads = [(p[i], p[i + nd]) for i in range(nd)]
    extra = []
    for i in range(nd):
        eff = (kernel[i] - 1) * dilations[i] + 1
        span = spatial[i] + pads[i][0] + pads[i][1] - eff
        out = (math.ceil(span / strides[i]) if ceil else span // strides[i]) + 1
        if ceil and (out - 1) * strides[i] >= spatial[i] + pads[i][0]:
            out -= 1
        extra.append(max((out - 1) * strides[i] + eff - (spatial[i] + pads[i][0] + pads[i][1]), 0))
    return kernel, strides, dilations, pads, extra


def _spatial(x, channels_last: bool):
    return x.shape[1:-1] if channels_last else x.shape[2:]


def _per_pixel(values, channels_last: bool, fill):
    """Window settings for the spatial axes; ``fill`` on the batch and channel axes."""
    return (fill, *values, fill) if channels_last else (fill, fill, *values)


def _window(x, init, op, kernel, strides, dilations, padding, channels_last=False):
    return lax.reduce_window(
        x,
        np.array(init, x.dtype),  # a concrete init keeps lax on its differentiable monoid path
        op,
        window_dimensions=_per_pixel(kernel, channels_last, 1),
        window_strides=_per_pixel(strides, channels_last, 1),
        padding=_per_pixel(padding, channels_last, (0, 0)),
        window_dilation=_per_pixel(dilations, channels_last, 1),
    )


def _max_pool(n, x, dilations_ok=True, ceil_ok=True, channels_last=False):
    spatial = _spatial(x, channels_last)
    kernel, strides, dilations, pads, extra = pool_geometry(n, spatial, dilations_ok=dilations_ok, ceil_ok=ceil_ok)
    padding = [(b, e + x_) for (b, e), x_ in zip(pads, extra)]
    if n.cpu_kernels or any(d > 1 for d in dilations):  # JAX has no VJP for dilated reduce_window max
        y = shared_kernels.max_pool(x, kernel, strides, dilations, padding, 1 if channels_last else 2)
    else:
        y = _window(x, shared_kernels.lowest(x.dtype), lax.max, kernel, strides, dilations, padding, channels_last)
    if not n.wants(1):
        return y
    return y, _argmax_indices(n, x, kernel, strides, dilations, padding)


def _argmax_indices(n, x, kernel, strides, dilations, padding):
    """Flat input indices of the maxima (first on ties), row- or column-major per storage_order."""
    shape = x.shape
    itype = jax_dtype(np.int64)
    if n.attr("storage_order", 0):
        # Column-major over the spatial dims: for 2-D, n*C*H*W + c*H*W + w*H + h.
        sp = shape[2:]
        grids = jnp.meshgrid(*[jnp.arange(s, dtype=itype) for s in sp], indexing="ij")
        flat = sum(g * math.prod(sp[:i]) for i, g in enumerate(grids))
        base = jnp.arange(shape[0] * shape[1], dtype=itype).reshape(shape[:2] + (1,) * len(sp)) * math.prod(sp)
        idx = base + flat
    else:
        idx = jnp.arange(math.prod(shape), dtype=itype).reshape(shape)

    def pick(a, b):
        (va, ia), (vb, ib) = a, b
        take_b = (vb > va) | ((vb == va) & (ib < ia) & (ib >= 0)) | (ia < 0)
        return jnp.where(take_b, vb, va), jnp.where(take_b, ib, ia)

    _, out = lax.reduce_window(
        (x, idx),
        (jnp.asarray(shared_kernels.lowest(x.dtype), x.dtype), jnp.asarray(-1, idx.dtype)),
        pick,
        window_dimensions=(1, 1, *kernel),
        window_strides=(1, 1, *strides),
        padding=((0, 0), (0, 0), *padding),
        window_dilation=(1, 1, *dilations),
    )
    return out


def _pool_channels_last(pool, **flags):
    """The channels-last variant of a pooling kernel (not for MaxPool's indices output)."""

    def variant(n, x):
        if not layout.is_channels_last(x) or n.wants(1):
            return None  # MaxPool's indices are defined on the NCHW layout
        return layout.wrap(pool(n, x.array, **flags, channels_last=True))

    return variant


@T.op("MaxPool", 1, channels_last=_pool_channels_last(_max_pool, dilations_ok=False, ceil_ok=False))
def max_pool_1(n, x):
    return _max_pool(n, x, dilations_ok=False, ceil_ok=False)


@T.op("MaxPool", 8, channels_last=_pool_channels_last(_max_pool, dilations_ok=False, ceil_ok=False))
def max_pool_8(n, x):
    return _max_pool(n, x, dilations_ok=False, ceil_ok=False)


@T.op("MaxPool", 10, 11, 12, 22, channels_last=_pool_channels_last(_max_pool))
def max_pool_10(n, x):
    return _max_pool(n, x)


def _avg_pool(n, x, dilations_ok: bool, ceil_ok: bool, channels_last: bool = False):
    spatial = _spatial(x, channels_last)
    kernel, strides, dilations, pads, extra = pool_geometry(n, spatial, dilations_ok=dilations_ok, ceil_ok=ceil_ok)
    padding = [(b, e + x_) for (b, e), x_ in zip(pads, extra)]
    if n.cpu_kernels:
        total = shared_kernels.sum_pool(x, kernel, strides, dilations, padding, 1 if channels_last else 2)
    else:
        total = _window(x, 0, lax.add, kernel, strides, dilations, padding, channels_last)
    counted = pads if n.attr("count_include_pad", 0) else [(0, 0)] * len(pads)
    count = shared_kernels.window_counts(spatial, kernel, strides, dilations, padding, counted)
    return total / jnp.asarray(count.reshape(_per_pixel(count.shape, channels_last, 1)), x.dtype)


@T.op("AveragePool", 7, channels_last=_pool_channels_last(_avg_pool, dilations_ok=False, ceil_ok=False))
def average_pool_7(n, x):
    return _avg_pool(n, x, dilations_ok=False, ceil_ok=False)


@T.op("AveragePool", 10, 11, channels_last=_pool_channels_last(_avg_pool, dilations_ok=False, ceil_ok=True))
def average_pool_10(n, x):
    return _avg_pool(n, x, dilations_ok=False, ceil_ok=True)


@T.op("AveragePool", 19, 22, channels_last=_pool_channels_last(_avg_pool, dilations_ok=True, ceil_ok=True))
def average_pool_19(n, x):
    return _avg_pool(n, x, dilations_ok=True, ceil_ok=True)


def _lp_pool(n, x, dilations_ok: bool, ceil_ok: bool):
    kernel, strides, dilations, pads, extra = pool_geometry(n, x.shape[2:], dilations_ok=dilations_ok, ceil_ok=ceil_ok)
    padding = [(b, e + x_) for (b, e), x_ in zip(pads, extra)]
    p = n.attr("p", 2)
    s = _window(jnp.abs(x) ** p, 0, lax.add, kernel, strides, dilations, padding)
    return s ** (1.0 / p)


@T.op("LpPool", 2, 11)
def lp_pool_2(n, x):
    return _lp_pool(n, x, dilations_ok=False, ceil_ok=False)


@T.op("LpPool", 18, 22)
def lp_pool_18(n, x):
    return _lp_pool(n, x, dilations_ok=True, ceil_ok=True)


def _global_channels_last(reduce):
    def variant(n, x):
        if not layout.is_channels_last(x):
            return None
        return layout.wrap(reduce(x.array, axis=tuple(range(1, x.ndim - 1)), keepdims=True))

    return variant


@T.op("GlobalAveragePool", 1, 22, channels_last=_global_channels_last(jnp.mean))
def global_average_pool(n, x):
    return jnp.mean(x, axis=tuple(range(2, x.ndim)), keepdims=True)


@T.op("GlobalMaxPool", 1, 22, channels_last=_global_channels_last(jnp.max))
def global_max_pool(n, x):
    return jnp.max(x, axis=tuple(range(2, x.ndim)), keepdims=True)


@T.op("GlobalLpPool", 2, 22)
def global_lp_pool(n, x):
    p = n.attr("p", 2)
    return jnp.sum(jnp.abs(x) ** p, axis=tuple(range(2, x.ndim)), keepdims=True) ** (1.0 / p)


def _lrn(n, x, channel_axis: int):
    size = n.attr("size")
    alpha, beta, bias = n.attr("alpha", 1e-4), n.attr("beta", 0.75), n.attr("bias", 1.0)
    if n.cpu_kernels:
        return shared_kernels.lrn(x, size, alpha, beta, bias, channel_axis)
    window = [1] * x.ndim
    window[channel_axis] = size
    pad = [(0, 0)] * x.ndim
    pad[channel_axis] = ((size - 1) // 2, size - 1 - (size - 1) // 2)
    sq = lax.reduce_window(x * x, np.array(0, x.dtype), lax.add, window, (1,) * x.ndim, pad)
    return x / (bias + (alpha / size) * sq) ** beta


def _lrn_channels_last(n, x):
    if not layout.is_channels_last(x):
        return None
    return layout.wrap(_lrn(n, x.array, x.ndim - 1))


@T.op("LRN", 1, 13, channels_last=_lrn_channels_last)
def lrn(n, x):
    return _lrn(n, x, 1)


@T.op("MaxUnpool", 9, 11, 22, static=(2,))
def max_unpool(n, x, indices, output_shape=None):
    nd = x.ndim - 2
    kernel = n.attr("kernel_shape")
    strides = list(n.attr("strides", [1] * nd))
    p = n.attr("pads", [0] * (2 * nd))
    if output_shape is not None:
        out_shape = tuple(int(v) for v in np.asarray(output_shape))
    else:
        sp = [(x.shape[2 + i] - 1) * strides[i] + kernel[i] - p[i] - p[i + nd] for i in range(nd)]
        out_shape = tuple(x.shape[:2]) + tuple(sp)
    flat = jnp.zeros((math.prod(out_shape),), x.dtype).at[indices.reshape(-1)].set(x.reshape(-1))
    return flat.reshape(out_shape)
