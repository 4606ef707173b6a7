"""Convolutions (ONNX layout NCHW / OIHW, any number of spatial dims)."""

from __future__ import annotations

import functools
import math
import operator

import jax.numpy as jnp
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
    """2-D Conv on channels-last activations with an HWIO kernel (see :mod:`..layout`).

    With the XLA:CPU kernels (``n.cpu_kernels``), depthwise convolutions run as taps, 1x1 as a
    dot, deep layers at small sizes as im2col, the rest as ``lax.conv`` with a hand-written
    input gradient (:func:`dreamjax.nn.conv`); otherwise everything is plain ``lax.conv``.
    """
    if x.ndim != 4 or w.ndim != 4:
        return None
    x = layout.channels_last(x)
    w = layout.hwio(w).astype(x.dtype)
    kernel, strides, dilations, padding = conv_geometry(n, x.shape[1:3], w.shape[:2])
    group = n.attr("group", 1)
    fast = n.cpu_kernels
    few_pixels = shared_kernels.out_pixels(x.shape, kernel, strides, padding) <= x.shape[3]
    if fast and group > 1 and group == x.shape[3] and w.shape[2] == 1:
        y = depthwise_taps(x, w[:, :, 0, :], strides, dilations, padding)
    elif fast and group == 1 and tuple(kernel) == (1, 1) and padding == [(0, 0), (0, 0)]:
        # XLA:CPU runs a 1x1 convolution as a copy plus a dot; the dot alone is 1.1-1.3x faster.
        y = lax.dot_general(x[:, :: strides[0], :: strides[1], :], w[0, 0], (((3,), (0,)), ((), ())))
    elif fast and group == 1 and tuple(dilations) == (1, 1) and few_pixels:
        y = shared_kernels.im2col(x, w, strides, padding)
    else:
        y = shared_kernels.conv(x, w, strides, padding, dilations, group, fast_grad=fast)
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
        out = tuple(shared_kernels.out_size(xp.shape[1 + i], kh, strides[0]) for i in range(2))
        return shared_kernels.valid_taps(xp, w, strides[0], out)
    terms = (part * w[offsets] for offsets, part in shared_kernels.window_slices(xp, (kh, kw), strides, dilations, 1))
    return functools.reduce(operator.add, terms)


def transpose_geometry(n, spatial, kernel):
    """(strides, dilations, output_padding, (begin, end) pads) of a ConvTranspose node: the
    output is ``stride * (in - 1) + output_padding + (kernel - 1) * dilation + 1 - begin - end``."""
    nd = len(spatial)
    strides = list(n.attr("strides", [1] * nd))
    dilations = list(n.attr("dilations", [1] * nd))
    out_pad = list(n.attr("output_padding", [0] * nd))
    auto = n.attr("auto_pad", "NOTSET")
    output_shape = n.attr("output_shape")
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
    return strides, dilations, out_pad, pads, [natural[i] - sum(pads[i]) for i in range(nd)]


def conv_transpose_channels_last(n, x, w, b=None):
    """2-D ConvTranspose of channels-last activations, with the XLA:CPU kernels: the input
    gradient of the Conv it transposes (:func:`dreamjax.nn.conv_transpose`), whose own
    gradient is that Conv, both with canonical kernels."""
    if x.ndim != 4 or w.ndim != 4 or not n.cpu_kernels:
        return None
    x = layout.channels_last(x)
    w = layout.standard(w).astype(x.dtype)  # [C_in, C_out / group, kh, kw]
    strides, dilations, _, pads, out = transpose_geometry(n, x.shape[1:3], w.shape[2:])
    y = shared_kernels.conv_transpose(x, jnp.transpose(w, (2, 3, 1, 0)), out, strides, pads, dilations,
                                      n.attr("group", 1))
    return layout.wrap(y if b is None else y + b.astype(y.dtype))


@T.op("ConvTranspose", 1, 11, 22, channels_last=conv_transpose_channels_last)
def conv_transpose(n, x, w, b=None):
    nd = x.ndim - 2
    group = n.attr("group", 1)
    kernel = list(w.shape[2:])
    strides, dilations, out_pad, pads, _ = transpose_geometry(n, x.shape[2:], kernel)
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
