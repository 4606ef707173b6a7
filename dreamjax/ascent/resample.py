"""Resizing between octaves, on the host: ``jax.image.resize(method="linear", antialias=True)``.

Octave programs take a canvas and give one back; the photo's resize to each octave and the
detail's resize to the next are done here, in numpy, so that no program depends on the photo's
own size. The weights are those of ``jax.image.scale_and_translate`` (a triangle kernel, widened
by the scale when shrinking, normalised per output pixel), applied as a sum over the few input
pixels each output pixel reads (a banded matrix), so a 4096-pixel side costs milliseconds.
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


def _resize_axis(x: np.ndarray, axis: int, out_size: int) -> np.ndarray:
    if x.shape[axis] == out_size:
        return x
    index, weight = _taps(x.shape[axis], out_size)
    shape = [1] * x.ndim
    shape[axis] = out_size
    out = np.zeros(x.shape[:axis] + (out_size,) + x.shape[axis + 1 :], np.float32)
    for t in range(index.shape[1]):
        out += np.take(x, index[:, t], axis=axis) * weight[:, t].reshape(shape)
    return out


def resize(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``[B, H, W, C]`` float32 to ``[B, *size, C]``, as ``jax.image.resize(..., "linear")``."""
    out = _resize_axis(np.asarray(images, np.float32), 1, size[0])
    return _resize_axis(out, 2, size[1])
