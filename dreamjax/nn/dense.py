"""Dense and grouped 2-D convolutions (NHWC activations, HWIO kernels) with input gradients
that XLA:CPU runs on its convolution library.

XLA:CPU hands a convolution to its library (Eigen) only in canonical form: NHWC input and an
HWIO kernel. Autodiff writes the input gradient of ``lax.conv`` as a convolution of the
(stride-dilated) cotangent with the flipped kernel read with its I and O swapped. Where the
kernel is a constant XLA transposes it once; where it is a runtime value inside a loop, as in
a dream's loop over steps, XLA:CPU lowered that gradient to naive loops, 20-30x slower than
the forward (ResNet-18, one dream step: 30-48 ms per 3x3 layer against 1-2 ms).

:func:`conv` keeps the forward and writes the input gradient itself, with the kernel flipped
and transposed to HWIO by hand, so it stays canonical. (Splitting a strided gradient into one
stride-1 convolution per stride phase was tried: 1.2-9x slower than XLA's input dilation.)
The kernel gradient is autodiff's (correct, and dead code when only the input is differentiated).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from .windows import out_size, window_slices

NHWC = ("NHWC", "HWIO", "NHWC")


def conv(x: jax.Array, w: jax.Array, strides: Sequence[int], pads: Sequence[Sequence[int]],
         dilations: Sequence[int] = (1, 1), groups: int = 1, fast_grad: bool = True) -> jax.Array:
    """``lax.conv_general_dilated`` on NHWC ``x`` and HWIO ``w`` (``[kh, kw, C / groups, O]``).

    With ``fast_grad`` the input gradient is written out with a canonical kernel (see module
    docs), and a grouped convolution runs as one such convolution per group (XLA:CPU runs
    ``feature_group_count`` > 1 on naive loops); without it, plain ``lax.conv`` and autodiff.
    """
    strides, dilations = tuple(map(int, strides)), tuple(map(int, dilations))
    pads = tuple((int(lo), int(hi)) for lo, hi in pads)
    if not fast_grad:
        return lax.conv_general_dilated(x, w, strides, pads, rhs_dilation=dilations, dimension_numbers=NHWC,
                                        feature_group_count=groups)
    if groups > 1:
        cin, cout = w.shape[2], w.shape[3] // groups
        parts = [conv(x[..., g * cin:(g + 1) * cin], w[..., g * cout:(g + 1) * cout], strides, pads, dilations)
                 for g in range(groups)]
        return jnp.concatenate(parts, axis=3)
    spatial = tuple(x.shape[1:3])

    @jax.custom_vjp
    def op(x, w):
        return lax.conv_general_dilated(x, w, strides, pads, rhs_dilation=dilations, dimension_numbers=NHWC)

    def forward(x, w):
        return op(x, w), (x, w)

    def backward(res, g):
        x, w = res
        _, kernel_vjp = jax.vjp(lambda w: op.fun(x, w), w)
        return input_grad(g, w, spatial, strides, pads, dilations), kernel_vjp(g)[0]

    op.defvjp(forward, backward)
    return op(x, w)


def conv_transpose(x: jax.Array, w: jax.Array, out_spatial: Sequence[int], strides: Sequence[int],
                   pads: Sequence[Sequence[int]], dilations: Sequence[int] = (1, 1), groups: int = 1) -> jax.Array:
    """The transposed convolution of NHWC ``x`` (ONNX ConvTranspose): the input gradient of
    :func:`conv` with HWIO kernel ``w`` (``[kh, kw, O / groups, C]``, its forward's shape) from an
    input of ``out_spatial`` size. Its own gradient is that forward convolution, canonical too."""
    strides, dilations = tuple(map(int, strides)), tuple(map(int, dilations))
    pads = tuple((int(lo), int(hi)) for lo, hi in pads)
    out_spatial = tuple(map(int, out_spatial))
    if groups > 1:
        cin = x.shape[3] // groups
        parts = [conv_transpose(x[..., g * cin:(g + 1) * cin], w[..., g * cin:(g + 1) * cin], out_spatial, strides,
                                pads, dilations) for g in range(groups)]
        return jnp.concatenate(parts, axis=3)

    @jax.custom_vjp
    def op(x, w):
        return input_grad(x, w, out_spatial, strides, pads, dilations)

    # The forward convolution that this transposes, from g back to x's size: the high padding
    # covers exactly the rows x's last window reads (negative: rows no window reads).
    spans = [(w.shape[i] - 1) * dilations[i] for i in range(2)]
    back_pads = [(pads[i][0], (x.shape[1 + i] - 1) * strides[i] + spans[i] + 1 - pads[i][0] - out_spatial[i])
                 for i in range(2)]

    def backward(res, g):
        x, w = res
        _, kernel_vjp = jax.vjp(lambda w: op.fun(x, w), w)
        dx = lax.conv_general_dilated(g, w, strides, back_pads, rhs_dilation=dilations, dimension_numbers=NHWC)
        return dx, kernel_vjp(g)[0]

    op.defvjp(lambda x, w: (op(x, w), (x, w)), backward)
    return op(x, w)


def input_grad(g: jax.Array, w: jax.Array, spatial: Sequence[int], strides: Sequence[int],
               pads: Sequence[Sequence[int]], dilations: Sequence[int]) -> jax.Array:
    """d(loss)/dx of a convolution over an input of ``spatial`` size, from the cotangent ``g``
    of its output: the stride-dilated cotangent correlated with the flipped kernel, padded so
    that the result has the input's size. (This is also a transposed convolution.)"""
    padding = []
    for i in range(2):
        span = (w.shape[i] - 1) * dilations[i]
        dilated = (g.shape[1 + i] - 1) * strides[i] + 1
        low = span - pads[i][0]
        padding.append((low, spatial[i] + span - low - dilated))
    kernel = jnp.transpose(lax.rev(w, (0, 1)), (0, 1, 3, 2))  # HWIO: the forward's O is this conv's I
    return lax.conv_general_dilated(g, kernel, (1, 1), padding, lhs_dilation=tuple(strides),
                                    rhs_dilation=tuple(dilations), dimension_numbers=NHWC)


def im2col(x: jax.Array, w: jax.Array, strides: Sequence[int], pads: Sequence[Sequence[int]]) -> jax.Array:
    """Conv (NHWC, HWIO, no dilation) as one dot over the kernel's patches.

    XLA:CPU's convolution is slow when there are fewer output pixels than input channels (deep
    layers at small sizes: 3x3 512->512 on 7x7 runs 2-3x faster this way, forward and
    gradient); with many pixels the patch matrix costs more than it saves.
    """
    kh, kw, cin, cout = w.shape
    xp = jnp.pad(x, ((0, 0), *pads, (0, 0)))
    patches = jnp.concatenate([part for _, part in window_slices(xp, (kh, kw), strides, (1, 1), 1)], axis=3)
    return lax.dot_general(patches, w.reshape(kh * kw * cin, cout), (((3,), (0,)), ((), ())))


def out_pixels(x_shape: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
               pads: Sequence[Sequence[int]], dilations: Sequence[int] = (1, 1)) -> int:
    """Output pixels (batch included) of a convolution over NHWC ``x_shape``."""
    hw = [out_size(x_shape[1 + i] + sum(pads[i]), kernel[i], strides[i], dilations[i]) for i in range(2)]
    return x_shape[0] * math.prod(hw)
