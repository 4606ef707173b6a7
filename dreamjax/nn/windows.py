"""Strided, dilated sliding windows as static slices: the building block of pools and taps.

A window op over spatial axes ``first_axis, first_axis + 1, ...`` of an already padded array
is a fold over the window's taps, each tap being one strided slice of the input. Their
transposes (input gradients) are "stencils": a sum over the taps of the stride-dilated
cotangent, shifted back by the tap's offset (:func:`tap_stencil`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def out_size(padded: int, kernel: int, stride: int, dilation: int = 1) -> int:
    """Window positions along an already padded axis."""
    return (padded - ((kernel - 1) * dilation + 1)) // stride + 1


def window_slices(xp: jax.Array, kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
                  first_axis: int) -> Iterator[tuple[tuple[int, ...], jax.Array]]:
    """``(offsets, slice)`` for each kernel offset, row-major: the strided slice of the padded
    ``xp`` that this offset sees at every output position."""
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
        if isinstance(xp, np.ndarray):  # static values (window counts) stay numpy
            yield offsets, xp[tuple(slice(b, e, s) for b, e, s in zip(start, limit, step))]
        else:
            yield offsets, lax.slice(xp, start, limit, step)


def spatial_pads(rank: int, first_axis: int, pads: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Full-rank (low, high) padding: ``pads`` on the spatial axes, none elsewhere."""
    full = [(0, 0)] * rank
    full[first_axis : first_axis + len(pads)] = list(pads)
    return full


def tap_stencil(arrays: Sequence[jax.Array], fills: Sequence[float],
                combine: Callable[[tuple[int, ...], list[jax.Array]], jax.Array], padded_shape: Sequence[int],
                kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int], first_axis: int) -> jax.Array:
    """The transpose of a window op, on the padded input grid (``padded_shape``).

    ``arrays`` are output-shaped (the cotangent, and whatever ``combine`` needs with it, such
    as the window's argmax); each is dilated by the stride and padded with its ``fill`` so
    that, for tap ``offsets``, its slice shifted by that tap lines up with the input positions
    the tap read. ``combine(offsets, slices)`` gives the tap's contribution; contributions are
    summed. All of it is static slicing, so XLA fuses it into one loop.
    """
    nd = len(kernel)
    axes = range(first_axis, first_axis + nd)
    spans = [(k - 1) * d for k, d in zip(kernel, dilations)]
    padded = []
    for arr, fill in zip(arrays, fills):
        config = [(0, 0, 0)] * arr.ndim
        for i, a in enumerate(axes):
            dilated = (arr.shape[a] - 1) * strides[i] + 1
            config[a] = (spans[i], padded_shape[a] - dilated, strides[i] - 1)
        padded.append(lax.pad(arr, jnp.asarray(fill, arr.dtype), config))
    total = None
    for offsets in np.ndindex(*kernel):
        start, limit = [0] * len(padded_shape), list(padded_shape)
        for i, a in enumerate(axes):
            start[a] = spans[i] - offsets[i] * dilations[i]
            limit[a] = start[a] + padded_shape[a]
        term = combine(offsets, [lax.slice(p, start, limit) for p in padded])
        total = term if total is None else total + term
    return total


def crop(xp: jax.Array, first_axis: int, pads: Sequence[tuple[int, int]]) -> jax.Array:
    """Remove (low, high) padding from the spatial axes."""
    start = [0] * xp.ndim
    limit = list(xp.shape)
    for i, (lo, hi) in enumerate(pads):
        start[first_axis + i] = lo
        limit[first_axis + i] = xp.shape[first_axis + i] - hi
    return lax.slice(xp, start, limit)
