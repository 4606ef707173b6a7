"""Convolutions (ONNX layout NCHW / OIHW, any number of spatial dims)."""

from __future__ import annotations

import functools
import math
import operator

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from dreamjax import nn as shared_kernels

from .. import layout
from ..registry import OpTable

T = OpTable()


def same_pads(size: int, k: int, stride: int, dilation: int, upper: bool) -> tuple[int, int]:
    """Begin/end padding for auto_pad SAME_UPPER/SAME_LOWER: output = ceil(size / stride)."""
    eff = (k - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + eff - size, 0)
    small = total // 2
    return (small, total - small) if upper else (total - small, small)


def conv_padding(n, spatial, kernel, strides, dilations) -> list[tuple[int, int]]:
    """Explicit (begin, end) padding per spatial dim from pads / auto_pad."""
    auto = n.attr("auto_pad", "NOTSET")
    nd = len(spatial)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        return [same_pads(spatial[i], kernel[i], strides[i], dilations[i], auto == "SAME_UPPER") for i in range(nd)]
    if auto == "VALID":
        return [(0, 0)] * nd
    pads = n.attr("pads", [0] * (2 * nd))
    return [(pads[i], pads[i + nd]) for i in range(nd)]


def _dims(nd: int):
    sp = "DHW"[-nd:] if nd <= 3 else None
    if sp is None:
        raise ValueError(f"{nd} spatial dims are not supported")
    return ("NC" + sp, "OI" + sp, "NC" + sp)


def conv_geometry(n, spatial, kernel_hw):
    """(kernel, strides, dilations, explicit padding) of a Conv node over ``spatial`` dims."""
    nd = len(spatial)
    kernel = list(n.attr("kernel_shape", kernel_hw))
    strides = list(n.attr("strides", [1] * nd))
    dilations = list(n.attr("dilations", [1] * nd))
    return kernel, strides, dilations, conv_padding(n, spatial, kernel, strides, dilations)


def conv_channels_last(n, x, w, b=None):
    """2-D Conv on channels-last activations with an HWIO kernel (see :mod:`..layout`)."""
    if x.ndim != 4 or w.ndim != 4:
        return None
    x = layout.channels_last(x)
    w = layout.hwio(w).astype(x.dtype)
    kernel, strides, dilations, padding = conv_geometry(n, x.shape[1:3], w.shape[:2])
    group = n.attr("group", 1)
    if group > 1 and group == x.shape[3] and w.shape[2] == 1 and jax.default_backend() == "cpu":
        y = depthwise_taps(x, w[:, :, 0, :], strides, dilations, padding)
    elif group == 1 and tuple(kernel) == (1, 1) and padding == [(0, 0), (0, 0)]:
        # XLA:CPU runs a 1x1 convolution as a copy plus a dot; the dot alone is 1.1-1.3x faster.
        y = lax.dot_general(x[:, :: strides[0], :: strides[1], :], w[0, 0], (((3,), (0,)), ((), ())))
    elif group == 1 and tuple(dilations) == (1, 1) and _out_pixels(x, kernel, strides, padding) <= x.shape[3]:
        y = im2col_conv(x, w, strides, padding)
    else:
        y = lax.conv_general_dilated(x, w, strides, padding, rhs_dilation=dilations,
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=group)
    return layout.wrap(y if b is None else y + b.astype(y.dtype))


@T.op("Conv", 1, 11, 22, channels_last=conv_channels_last)
def conv(n, x, w, b=None):
    kernel, strides, dilations, padding = conv_geometry(n, x.shape[2:], w.shape[2:])
    y = lax.conv_general_dilated(
        x,
        w.astype(x.dtype),
        window_strides=strides,
        padding=padding,
        rhs_dilation=dilations,
        dimension_numbers=_dims(x.ndim - 2),
        feature_group_count=n.attr("group", 1),
    )
    return _add_bias(y, b, x.ndim - 2)


def out_size(padded: int, kernel: int, stride: int, dilation: int = 1) -> int:
    """Window positions along an already padded axis."""
    return (padded - ((kernel - 1) * dilation + 1)) // stride + 1


def window_slices(xp, kernel, strides, dilations, first_axis: int):
    """``(offsets, slice)`` for each kernel offset, row-major: the strided slice of the padded
    ``xp`` that this offset sees at every output position. Spatial axes start at ``first_axis``."""
    axes = range(first_axis, first_axis + len(kernel))
    out = [out_size(xp.shape[a], k, s, d) for a, k, s, d in zip(axes, kernel, strides, dilations)]
    step = [1] * xp.ndim
    for a, s in zip(axes, strides):
        step[a] = s
    for offsets in np.ndindex(*kernel):
        start, limit = [0] * xp.ndim, list(xp.shape)
        for a, o, s, d, m in zip(axes, offsets, strides, dilations, out):
            start[a] = o * d
            limit[a] = start[a] + (m - 1) * s + 1
        yield offsets, lax.slice(xp, start, limit, step)


def _out_pixels(x, kernel, strides, padding) -> int:
    hw = [out_size(x.shape[1 + i] + sum(padding[i]), kernel[i], strides[i]) for i in range(2)]
    return x.shape[0] * hw[0] * hw[1]


def im2col_conv(x, w, strides, padding):
    """Conv (NHWC, HWIO) as one dot over the kernel's patches.

    XLA:CPU's convolution is slow when there are fewer output pixels than input channels (deep
    layers at small sizes: 3x3 512->512 on 7x7 runs 2-3x faster this way, forward and
    gradient); with many pixels the patch matrix costs more than it saves.
    """
    kh, kw, cin, cout = w.shape
    xp = jnp.pad(x, ((0, 0), *padding, (0, 0)))
    patches = jnp.concatenate([part for _, part in window_slices(xp, (kh, kw), strides, (1, 1), 1)], axis=3)
    return lax.dot_general(patches, w.reshape(kh * kw * cin, cout), (((3,), (0,)), ((), ())))


def depthwise_taps(x, w, strides, dilations, padding):
    """Depthwise conv (NHWC input, [kh, kw, C * mult] kernel) as a sum over the kernel's taps
    of strided slices times per-channel weights.

    XLA:CPU runs ``feature_group_count == C`` convolutions, and above all their input gradient,
    10-30x slower than this (measured: benchmarks/depthwise_grad.py, benchmarks/RESULTS.md);
    elsewhere the grouped convolution is used. Square kernels with equal strides and no dilation
    use dreamjax.nn's taps, which have a hand-written gradient (4-10x faster than autodiff's).
    """
    mult = w.shape[2] // x.shape[3]
    if mult > 1:  # channel multiplier: output channel c*mult + k reads input channel c
        x = jnp.repeat(x, mult, axis=3)
    xp = jnp.pad(x, ((0, 0), *padding, (0, 0)))
    kh, kw = w.shape[:2]
    if kh == kw and strides[0] == strides[1] and tuple(dilations) == (1, 1):
        out = tuple(out_size(xp.shape[1 + i], kh, strides[0]) for i in range(2))
        return shared_kernels.valid_taps(xp, w, strides[0], out)
    terms = (part * w[offsets] for offsets, part in window_slices(xp, (kh, kw), strides, dilations, 1))
    return functools.reduce(operator.add, terms)


@T.op("ConvTranspose", 1, 11, 22)
def conv_transpose(n, x, w, b=None):
    nd = x.ndim - 2
    group = n.attr("group", 1)
    kernel = list(w.shape[2:])
    strides = list(n.attr("strides", [1] * nd))
    dilations = list(n.attr("dilations", [1] * nd))
    out_pad = list(n.attr("output_padding", [0] * nd))
    auto = n.attr("auto_pad", "NOTSET")
    output_shape = n.attr("output_shape")
    spatial = x.shape[2:]
    natural = [strides[i] * (spatial[i] - 1) + out_pad[i] + (kernel[i] - 1) * dilations[i] + 1 for i in range(nd)]
    if output_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        if output_shape is None:
            output_shape = [spatial[i] * strides[i] for i in range(nd)]
        output_shape = list(output_shape)[-nd:]
        pads = []
        for i in range(nd):
            total = natural[i] - output_shape[i]
            half = total // 2
            pads.append((half, total - half) if auto == "SAME_UPPER" else (total - half, half))
    else:
        p = n.attr("pads", [0] * (2 * nd)) if auto != "VALID" else [0] * (2 * nd)
        pads = [(p[i], p[i + nd]) for i in range(nd)]
    # A transposed conv is a conv over the stride-dilated input with the flipped, transposed
    # kernel; ONNX pads remove border from that full output.
    padding = [
        ((kernel[i] - 1) * dilations[i] - pads[i][0], (kernel[i] - 1) * dilations[i] - pads[i][1] + out_pad[i])
        for i in range(nd)
    ]
    cin = w.shape[0]
    cout_g = w.shape[1]
    wk = w.astype(x.dtype).reshape((group, cin // group, cout_g) + tuple(kernel))
    wk = jnp.swapaxes(wk, 1, 2).reshape((group * cout_g, cin // group) + tuple(kernel))
    wk = jnp.flip(wk, axis=tuple(range(2, 2 + nd)))
    y = lax.conv_general_dilated(
        x,
        wk,
        window_strides=[1] * nd,
        padding=padding,
        lhs_dilation=strides,
        rhs_dilation=dilations,
        dimension_numbers=_dims(nd),
        feature_group_count=group,
    )
    return _add_bias(y, b, nd)


def _add_bias(y, b, nd: int):
    """Add a per-channel bias to an NC... result (ONNX's optional third input)."""
    return y if b is None else y + b.astype(y.dtype).reshape((1, -1) + (1,) * nd)
