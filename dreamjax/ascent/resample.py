"""Resizing between octaves, on the host: ``jax.image.resize(method="linear", antialias=True)``.

Octave programs take a canvas and give one back; the photo's resize to each octave and the
detail's resize to the next are done here, in numpy, so that no program depends on the photo's
own size. The weights are those of ``jax.image.scale_and_translate`` (a triangle kernel, widened
by the scale when shrinking, normalised per output pixel), applied as a sum over the few input
rows each output row reads (a banded matrix), rows by whole rows, then columns the same way.
Results match ``jax.image.resize`` to float32 rounding (tests/test_buckets.py).
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=64)
def _taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(index [out, taps], weight [out, taps])`` of a linear antialiased resize along one axis."""
    scale = np.float32(out_size / in_size)
    inv_scale = np.float32(1.0) / scale
    kernel_scale = max(inv_scale, np.float32(1.0))
    centre = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * inv_scale - np.float32(0.5)
    reach = int(np.ceil(kernel_scale)) + 1
    first = np.floor(centre).astype(np.int64) - reach + 1
    index = first[:, None] + np.arange(2 * reach)[None, :]
    x = np.abs(centre[:, None] - index.astype(np.float32)) / kernel_scale
    weight = np.maximum(np.float32(0.0), np.float32(1.0) - x)
    weight = np.where((index >= 0) & (index < in_size), weight, np.float32(0.0))
    total = weight.sum(axis=1, keepdims=True, dtype=np.float32)
    weight = np.where(np.abs(total) > 1000.0 * np.finfo(np.float32).eps, weight / np.where(total != 0, total, 1), 0)
    inside = (centre >= -0.5) & (centre <= in_size - 0.5)
    weight = np.where(inside[:, None], weight, 0).astype(np.float32)
    return np.clip(index, 0, in_size - 1), weight


def _resize_rows(x: np.ndarray, out_size: int) -> np.ndarray:
    """``[B, H, R]`` to ``[B, out_size, R]`` along H: a sum over taps of gathered rows."""
    if x.shape[1] == out_size:
        return x
    index, weight = _taps(x.shape[1], out_size)
    out = np.zeros((x.shape[0], out_size, x.shape[2]), np.float32)
    for t in range(index.shape[1]):
        term = x[:, index[:, t]]  # fancy indexing: much faster than np.take(..., out=)
        term *= weight[None, :, t, None]
        out += term
    return out


def resize(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``[B, H, W, C]`` float32 to ``[B, *size, C]``, as ``jax.image.resize(..., "linear")``."""
    x = np.asarray(images, np.float32)
    b, h, w, c = x.shape
    x = _resize_rows(x.reshape(b, h, w * c), size[0]).reshape(b, size[0], w, c)
    if w == size[1]:
        return x
    # Columns as rows (whole rows gather fastest), then back.
    cols = np.ascontiguousarray(x.transpose(0, 2, 1, 3)).reshape(b, w, size[0] * c)
    cols = _resize_rows(cols, size[1]).reshape(b, size[1], size[0], c)
    return np.ascontiguousarray(cols.transpose(0, 2, 1, 3))
