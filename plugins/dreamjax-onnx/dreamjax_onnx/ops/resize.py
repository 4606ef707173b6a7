"""Resize and Upsample, as one separable interpolation per resized axis.

For each axis the (output x input) interpolation weights are computed in numpy from static
sizes (the same coordinate transforms and kernels as the ONNX reference); the data side is one
gather (nearest) or one contraction (linear, cubic, antialiased), so it is differentiable and
fuses well under XLA. A channels-last value (after a Conv) is resized in its own axis order.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import layout
from ..registry import OpTable
from ._util import axis, static_value

T = OpTable()


def source_coords(mode: str, out_len: int, in_len: int, scale: float, roi: tuple[float, float] | None):
    y = np.arange(out_len, dtype=np.float64)
    out_f = scale * in_len
    extrapolated = None
    if mode == "align_corners":
        x = np.zeros(out_len) if out_f == 1 else y * (in_len - 1) / (out_f - 1)
    elif mode == "asymmetric":
        x = y / scale
    elif mode == "tf_crop_and_resize":
        start, end = roi
        x = np.full(out_len, (end - start) * (in_len - 1) / 2) if out_f == 1 else y * (end - start) * (in_len - 1) / (out_f - 1)
        x = x + start * (in_len - 1)
        extrapolated = (x < 0) | (x > in_len - 1)
    elif mode == "pytorch_half_pixel":
        x = np.full(out_len, -0.5) if out_f == 1 else (y + 0.5) / scale - 0.5
    elif mode == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif mode == "half_pixel_symmetric":
        offset = in_len / 2 * (1 - out_len / out_f)
        x = offset + (y + 0.5) / scale - 0.5
    else:
        raise ValueError(f"unknown coordinate_transformation_mode {mode!r}")
    return x, extrapolated


def _nearest(ratio, mode):
    if ratio == 1 or float(ratio).is_integer():
        return np.array([0.0, 1.0])
    up = {
        "round_prefer_floor": ratio > 0.5,
        "round_prefer_ceil": ratio >= 0.5,
        "floor": False,
        "ceil": True,
    }[mode]
    return np.array([0.0, 1.0]) if up else np.array([1.0, 0.0])


def _cubic(ratio, scale, a, antialias):
    if antialias:
        s = min(scale, 1.0)
        i0 = int(np.floor(-2 / s) + 1)
        t = np.abs(s * (np.arange(i0, 2 - i0) - ratio))
        c = np.where(t <= 1, (a + 2) * t**3 - (a + 3) * t**2 + 1, np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0))
        return c / c.sum()
    r = ratio
    return np.array(
        [
            ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
            ((a + 2) * r - (a + 3)) * r * r + 1,
            ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
            ((a * ((1 - r) + 1) - 5 * a) * ((1 - r) + 1) + 8 * a) * ((1 - r) + 1) - 4 * a,
        ]
    )


def _linear(ratio, scale, antialias):
    if antialias:
        s = min(scale, 1.0)
        start = int(np.floor(-1 / s) + 1)
        c = np.clip(1 - np.abs((np.arange(start, 2 - start) - ratio) * s), 0, 1)
        return c / c.sum()
    return np.array([1 - ratio, ratio])


def axis_weights(in_len, out_len, scale, *, mode, coord_mode, nearest_mode, cubic_a, exclude_outside, antialias, roi):
    """Dense ``[out_len, in_len]`` weights and the positions to fill with the extrapolation value."""
    x, extrapolated = source_coords(coord_mode, out_len, in_len, scale, roi)
    xi = np.floor(x).astype(np.int64)
    ratios = np.where(x == xi, 1.0, x - xi)
    if mode == "nearest":
        coeffs = np.stack([_nearest(r, nearest_mode) for r in ratios]) if out_len else np.zeros((0, 2))
    elif mode == "linear":
        coeffs = np.stack([_linear(r, scale, antialias) for r in ratios]) if out_len else np.zeros((0, 2))
    elif mode == "cubic":
        coeffs = np.stack([_cubic(r, scale, cubic_a, antialias) for r in ratios]) if out_len else np.zeros((0, 4))
    else:
        raise ValueError(f"unknown Resize mode {mode!r}")
    k = coeffs.shape[1]
    # The k input positions nearest to x (ties to the smaller index), as in the reference.
    pad = math.ceil(k / 2)
    xp = x + pad
    p = np.floor(xp).astype(np.int64)
    frac = xp - p
    if k % 2 == 0:
        off = np.where(frac == 0, -(k // 2), -(k // 2) + 1)
    else:
        off = np.where(frac <= 0.5, -((k - 1) // 2), -((k - 1) // 2) + 1)
    idx = (p + off)[:, None] + np.arange(k)[None, :] - pad
    if exclude_outside:
        coeffs = np.where((idx < 0) | (idx >= in_len), 0.0, coeffs)
        total = coeffs.sum(axis=1, keepdims=True)
        coeffs = coeffs / np.where(total == 0, 1.0, total)
    idx = np.clip(idx, 0, in_len - 1)
    weights = np.zeros((out_len, in_len))
    np.add.at(weights, (np.repeat(np.arange(out_len), k), idx.reshape(-1)), coeffs.reshape(-1))
    return weights, extrapolated


def _pick(x, ax, index: np.ndarray):
    """``jnp.take(x, index, axis=ax)``, as a strided slice or a repeat where the indices allow:
    those transpose to a pad and a sum, where a gather's gradient is a (serial) scatter."""
    n, size = len(index), x.shape[ax]
    if n and size and n % size == 0 and np.array_equal(index, np.repeat(np.arange(size), n // size)):
        return jnp.repeat(x, n // size, axis=ax, total_repeat_length=n)
    step = int(index[1] - index[0]) if n > 1 else 1
    if n and step > 0 and index[0] >= 0 and np.array_equal(index, index[0] + step * np.arange(n)):
        return lax.slice_in_dim(x, int(index[0]), int(index[-1]) + 1, step, axis=ax)
    return jnp.take(x, index, axis=ax)


def _apply_axis(x, ax, weights, extrapolated, extrapolation_value, nearest: bool):
    if nearest and np.all((weights == 0) | (weights == 1)) and np.all(weights.sum(1) == 1):
        y = _pick(x, ax, np.argmax(weights, axis=1))
    else:
        xf = x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)
        y = jnp.moveaxis(jnp.tensordot(jnp.asarray(weights, xf.dtype), jnp.moveaxis(xf, ax, 0), axes=(1, 0)), 0, ax)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            y = jnp.round(y).astype(x.dtype)
    if extrapolated is not None and extrapolated.any():
        shape = [1] * x.ndim
        shape[ax] = len(extrapolated)
        y = jnp.where(extrapolated.reshape(shape), jnp.asarray(extrapolation_value, y.dtype), y)
    return y


def resize(x, *, scales=None, sizes=None, axes=None, roi=None, mode="nearest", coord_mode="half_pixel",
           nearest_mode="round_prefer_floor", cubic_a=-0.75, exclude_outside=False, antialias=False,
           extrapolation_value=0.0, keep_aspect_ratio_policy="stretch", perm=None):
    """Resize ``x``; ``perm``: ``x`` holds the ONNX value with its axes permuted
    (``x == transpose(value, perm)``, a channels-last value), axes and sizes stay ONNX's."""
    r = x.ndim
    where = list(range(r)) if perm is None else [list(perm).index(i) for i in range(r)]
    shape = [x.shape[where[i]] for i in range(r)]
    axes = list(range(r)) if axes is None else [axis(a, r) for a in axes]
    if roi is not None and np.asarray(roi).size == 0:
        roi = None
    if roi is not None:
        roi = np.asarray(roi, np.float64).reshape(-1)
        full = [0.0] * r + [1.0] * r
        for i, a in enumerate(axes):
            full[a], full[r + a] = roi[i], roi[len(axes) + i]
        roi = full
    if sizes is not None:
        out = list(shape)
        for i, a in enumerate(axes):
            out[a] = int(sizes[i])
        scale_of = [out[i] / shape[i] if shape[i] else 1.0 for i in range(r)]
        if keep_aspect_ratio_policy != "stretch":
            pick = min if keep_aspect_ratio_policy == "not_larger" else max
            s = pick(scale_of[a] for a in axes)
            scale_of = [s if i in axes else 1.0 for i in range(r)]
            out = [int(s * shape[i] + 0.5) if i in axes else shape[i] for i in range(r)]
    else:
        scale_of = [1.0] * r
        for i, a in enumerate(axes):
            scale_of[a] = float(scales[i])
        # In float32, as onnxruntime does: 10 * 0.7f is 7, not 6.99...
        out = [int(np.floor(np.float32(shape[i]) * np.float32(scale_of[i]))) for i in range(r)]
    y = x
    for a in axes:
        ident_roi = roi is None or (math.isclose(roi[a], 0.0) and math.isclose(roi[a + r], 1.0))
        if math.isclose(scale_of[a], 1.0) and out[a] == shape[a] and ident_roi:
            continue
        w, extr = axis_weights(
            shape[a], out[a], scale_of[a], mode=mode, coord_mode=coord_mode, nearest_mode=nearest_mode,
            cubic_a=cubic_a, exclude_outside=exclude_outside, antialias=antialias,
            roi=None if roi is None else (roi[a], roi[a + r]),
        )
        y = _apply_axis(y, where[a], w, extr, extrapolation_value, mode == "nearest")
    return y


def _floats(v, what):
    return None if v is None or np.asarray(static_value(v, what)).size == 0 else [float(s) for s in np.asarray(static_value(v, what)).reshape(-1)]


def _ints(v, what):
    return None if v is None or np.asarray(static_value(v, what)).size == 0 else [int(s) for s in np.asarray(static_value(v, what)).reshape(-1)]


def _upsample_mode(n):
    mode = n.attr("mode", "nearest")
    # Upsample's "bilinear"/"linear" use asymmetric coordinates; nearest rounds down.
    return ("linear" if mode in ("linear", "bilinear") else "nearest"), "asymmetric", "floor"


def _channels_last(kernel):
    """The variant of a resize kernel for a channels-last value: the same kernel on its array,
    told the axis order, so no transpose is needed either side."""

    def variant(n, x, *rest):
        if not layout.is_channels_last(x) or any(isinstance(v, layout.Relaid) for v in rest):
            return None
        return layout.wrap(kernel(n, x.array, *rest, perm=x.perm))

    return variant


def _upsample_7(n, x, perm=None):
    mode, coord, near = _upsample_mode(n)
    return resize(x, scales=n.attr("scales"), mode=mode, coord_mode=coord, nearest_mode=near, perm=perm)


T.op("Upsample", 7, channels_last=_channels_last(_upsample_7))(_upsample_7)


def _scales_only(n, x, scales, perm=None):
    mode, coord, near = _upsample_mode(n)
    return resize(x, scales=_floats(scales, f"{n.op_type} scales"), mode=mode, coord_mode=coord, nearest_mode=near,
                  perm=perm)


T.op("Upsample", 9, 10, static=(1,), channels_last=_channels_last(_scales_only))(_scales_only)
T.op("Resize", 10, static=(1,), channels_last=_channels_last(_scales_only))(_scales_only)


def _resize_attrs(n):
    return dict(
        mode=n.attr("mode", "nearest"),
        coord_mode=n.attr("coordinate_transformation_mode", "half_pixel"),
        nearest_mode=n.attr("nearest_mode", "round_prefer_floor"),
        cubic_a=n.attr("cubic_coeff_a", -0.75),
        exclude_outside=bool(n.attr("exclude_outside", 0)),
        extrapolation_value=n.attr("extrapolation_value", 0.0),
    )


def resize_11(n, x, roi=None, scales=None, sizes=None, perm=None):
    return resize(
        x, roi=_floats(roi, "Resize roi"), scales=_floats(scales, "Resize scales"), sizes=_ints(sizes, "Resize sizes"),
        perm=perm, **_resize_attrs(n),
    )


T.op("Resize", 11, 13, static=(1, 2, 3), channels_last=_channels_last(resize_11))(resize_11)


def resize_18(n, x, roi=None, scales=None, sizes=None, perm=None):
    return resize(
        x, roi=_floats(roi, "Resize roi"), scales=_floats(scales, "Resize scales"), sizes=_ints(sizes, "Resize sizes"),
        axes=n.attr("axes"), antialias=bool(n.attr("antialias", 0)),
        keep_aspect_ratio_policy=n.attr("keep_aspect_ratio_policy", "stretch"), perm=perm, **_resize_attrs(n),
    )


T.op("Resize", 18, 19, static=(1, 2, 3), channels_last=_channels_last(resize_18))(resize_18)
