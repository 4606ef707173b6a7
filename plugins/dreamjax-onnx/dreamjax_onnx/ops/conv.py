"""Convolutions (ONNX layout NCHW / OIHW, any number of spatial dims)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax

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


@T.op("Conv", 1, 11, 22)
def conv(n, x, w, b=None):
    nd = x.ndim - 2
    kernel = list(n.attr("kernel_shape", w.shape[2:]))
    strides = list(n.attr("strides", [1] * nd))
    dilations = list(n.attr("dilations", [1] * nd))
    padding = conv_padding(n, x.shape[2:], kernel, strides, dilations)
    group = n.attr("group", 1)
    if group > 1 and group == x.shape[1] and w.shape[1] == 1 and nd == 2 and jax.default_backend() == "cpu":
        y = depthwise_taps(x, w.astype(x.dtype), kernel, strides, dilations, padding)
        if b is not None:
            y = y + b.astype(y.dtype).reshape((1, -1, 1, 1))
        return y
    if _NHWC_ON_CPU and jax.default_backend() == "cpu" and is_pointwise(w, group, kernel, strides, padding):
        y = pointwise_matmul(x, w.astype(x.dtype))
    else:
        y = lax.conv_general_dilated(
            x,
            w.astype(x.dtype),
            window_strides=strides,
            padding=padding,
            rhs_dilation=dilations,
            dimension_numbers=_dims(nd),
            feature_group_count=group,
        )
    return _add_bias(y, b, nd)


# Switch for benchmarks/bench_onnx_conv_layout.py (before/after in one process).
_NHWC_ON_CPU = True


def is_pointwise(w, group, kernel, strides, padding) -> bool:
    """A group-1, 1x1, stride-1, unpadded 2-D conv: a matmul over channels at every pixel."""
    return (w.ndim == 4 and group == 1 and tuple(kernel) == (1, 1) and tuple(strides) == (1, 1)
            and all(p == (0, 0) for p in padding))


def pointwise_matmul(x, w):
    """1x1 conv as a channels-last dot_general, returned NCHW.

    XLA:CPU already runs NCHW convolutions channels-last (its optimised HLO is the same as for
    an explicit NHWC/HWIO conv, transposes between layers cancelled), but it copies the OIHW
    weight to HWIO on every call; as a dot the [O, I] weight is read in place. Measured
    1.2-1.6x on a 64->256->64 pair at 56x56 (benchmarks/bench_onnx_conv_layout.py).
    """
    y = lax.dot_general(jnp.transpose(x, (0, 2, 3, 1)), w[:, :, 0, 0], (((3,), (1,)), ((), ())))
    return jnp.transpose(y, (0, 3, 1, 2))


def depthwise_taps(x, w, kernel, strides, dilations, padding):
    """Depthwise conv as a sum over the k*k taps of strided slices times per-channel weights.

    XLA:CPU runs ``feature_group_count == C`` convolutions (and their input gradient) 10-30x
    slower than this (measured: /work/shared/notes/xla-cpu-depthwise.md); elsewhere the
    grouped convolution is used.
    """
    mult = w.shape[0] // x.shape[1]
    if mult > 1:  # channel multiplier: output channel c*mult + k reads input channel c
        x = jnp.repeat(x, mult, axis=1)
    xp = jnp.pad(x, ((0, 0), (0, 0), *padding))
    out = [(xp.shape[2 + i] - ((kernel[i] - 1) * dilations[i] + 1)) // strides[i] + 1 for i in range(2)]
    y = None
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            r0, c0 = i * dilations[0], j * dilations[1]
            tap = lax.slice(
                xp,
                (0, 0, r0, c0),
                (xp.shape[0], xp.shape[1], r0 + (out[0] - 1) * strides[0] + 1, c0 + (out[1] - 1) * strides[1] + 1),
                (1, 1, strides[0], strides[1]),
            )
            term = tap * w[:, 0, i, j].reshape(1, -1, 1, 1)
            y = term if y is None else y + term
    return y


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
