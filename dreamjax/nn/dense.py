"""Dense and grouped 2-D convolutions (NHWC activations, HWIO kernels) with input gradients
that XLA:CPU runs on its fast convolution library.

XLA:CPU hands a convolution to its library (Eigen) only in canonical form: NHWC input, HWIO
kernel, no input dilation. Autodiff writes the input gradient of ``lax.conv`` as a convolution
with the kernel's I and O swapped (and, for a stride, a stride-dilated input). Where the kernel
is a constant XLA transposes it once; where it is a runtime value, as in a dream's loop over
steps, XLA:CPU lowers that gradient to naive loops: 20-30x slower than the forward (ResNet-18,
one dream step: 30-48 ms per 3x3 layer against 1-2 ms).

:func:`conv` keeps the forward and writes the input gradient itself: for each stride phase of
the input grid (input rows ``q * stride + r``) the taps that land there form a smaller kernel,
and the phase is a stride-1 convolution of the cotangent with those taps flipped, transposed
to HWIO by hand. The phases are interleaved back into the input grid (one copy). Total work
equals the forward's; no multiply ever meets a dilation zero. The kernel gradient is
autodiff's (correct, and dead code when only the input is differentiated).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax import lax

from .windows import out_size, window_slices

NHWC = ("NHWC", "HWIO", "NHWC")


def conv(x: jax.Array, w: jax.Array, strides: Sequence[int], pads: Sequence[Sequence[int]],
         dilations: Sequence[int] = (1, 1), groups: int = 1, fast_grad: bool = True) -> jax.Array:
    """``lax.conv_general_dilated`` on NHWC ``x`` and HWIO ``w`` (``[kh, kw, C / groups, O]``).

    With ``fast_grad`` the input gradient is written as stride-phase convolutions (see module
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
    geometry = _Geometry(tuple(x.shape[1:3]), tuple(w.shape[:2]), strides, pads, dilations)

    @jax.custom_vjp
    def op(x, w):
        return lax.conv_general_dilated(x, w, strides, pads, rhs_dilation=dilations, dimension_numbers=NHWC)

    def forward(x, w):
        return op(x, w), (x, w)

    def backward(res, g):
        x, w = res
        _, kernel_vjp = jax.vjp(lambda w: op.fun(x, w), w)
        return geometry.input_grad(g, w), kernel_vjp(g)[0]

    op.defvjp(forward, backward)
    return op(x, w)


@dataclass(frozen=True)
class _Phase:
    """The taps of one kernel axis that land on input rows ``q * stride + r`` (one ``r``), as a
    stride-1 convolution over the cotangent: taps ``first, first + step, ...`` (``count`` of
    them) flipped, rhs dilation ``dilation``, padding ``pads``, ``length`` rows out."""

    first: int
    step: int
    count: int
    dilation: int
    pads: tuple[int, int]
    length: int
    extra: int  # rows computed past ``length`` (a negative high padding, cropped instead)


def _phases(k: int, stride: int, dilation: int, padded: int, out: int) -> list[_Phase | None]:
    phases: list[_Phase | None] = []
    for r in range(stride):
        taps = [t for t in range(k) if (t * dilation) % stride == r]
        if not taps:
            phases.append(None)
            continue
        shifts = [(t * dilation - r) // stride for t in taps]  # cotangent row q - shift feeds row q
        step = taps[1] - taps[0] if len(taps) > 1 else 1
        gap = shifts[1] - shifts[0] if len(taps) > 1 else 1
        length = -(-(padded - r) // stride)
        high = length - out - shifts[0]
        phases.append(_Phase(taps[0], step, len(taps), gap, (shifts[-1], max(high, 0)), length, max(-high, 0)))
    return phases


@dataclass(frozen=True)
class _Geometry:
    spatial: tuple[int, int]
    kernel: tuple[int, int]
    strides: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]
    dilations: tuple[int, int]

    def input_grad(self, g: jax.Array, w: jax.Array) -> jax.Array:
        """d(loss)/dx from the cotangent ``g`` of the output, as stride-phase convolutions."""
        padded = [self.spatial[i] + sum(self.pads[i]) for i in range(2)]
        axes = [_phases(self.kernel[i], self.strides[i], self.dilations[i], padded[i], g.shape[1 + i]) for i in range(2)]
        rows = []
        for ph in axes[0]:
            row = []
            for pw in axes[1]:
                row.append(self._phase(g, w, ph, pw, [-(-padded[i] // self.strides[i]) for i in range(2)]))
            rows.append(row)
        (sh, sw), (n, cin) = self.strides, (g.shape[0], w.shape[2])
        if sh == sw == 1:
            dxp = rows[0][0]
        else:  # interleave the phases: [N, Qh, sh, Qw, sw, C] -> [N, Qh * sh, Qw * sw, C]
            stacked = jnp.stack([jnp.stack(row, axis=3) for row in rows], axis=2)
            dxp = stacked.reshape(n, stacked.shape[1] * sh, stacked.shape[3] * sw, cin)
        (top, _), (left, _) = self.pads
        return dxp[:, top:top + self.spatial[0], left:left + self.spatial[1], :]

    @staticmethod
    def _phase(g, w, ph: _Phase | None, pw: _Phase | None, lengths) -> jax.Array:
        n, cin = g.shape[0], w.shape[2]
        if ph is None or pw is None:  # no tap lands on these input rows (a kernel smaller than its stride)
            return jnp.zeros((n, *lengths, cin), g.dtype)
        sub = w[ph.first:ph.first + (ph.count - 1) * ph.step + 1:ph.step,
                pw.first:pw.first + (pw.count - 1) * pw.step + 1:pw.step]
        kernel = jnp.transpose(lax.rev(sub, (0, 1)), (0, 1, 3, 2))  # HWIO: the forward's O is this conv's I
        y = lax.conv_general_dilated(g, kernel, (1, 1), (ph.pads, pw.pads), rhs_dilation=(ph.dilation, pw.dilation),
                                     dimension_numbers=NHWC)
        y = y[:, :ph.length, :pw.length, :]
        return jnp.pad(y, ((0, 0), (0, lengths[0] - ph.length), (0, lengths[1] - pw.length), (0, 0)))


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
