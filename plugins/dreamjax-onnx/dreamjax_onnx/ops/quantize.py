"""Linear (de)quantisation: per tensor, per axis, or per block."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..registry import OpTable
from ._util import axis as norm_axis
from ._util import jax_dtype, np_dtype
from .elementwise import cast_to

T = OpTable()


def _expand(param, x, n):
    """Broadcast a scale / zero point (scalar, per-axis vector or per-block) against ``x``."""
    param = jnp.asarray(param)
    if param.ndim == 0 or param.size == 1 and param.ndim <= 1:
        return param.reshape(())
    ax = norm_axis(n.attr("axis", 1), x.ndim)
    block = n.attr("block_size", 0)
    if block:
        return jnp.repeat(param, block, axis=ax)[tuple(slice(0, d) for d in x.shape)]
    shape = [1] * x.ndim
    shape[ax] = param.shape[0]
    return param.reshape(shape)


def _int_range(dtype):
    info = jnp.iinfo(dtype)
    return int(info.min), int(info.max)


@T.op("DequantizeLinear", 10, 13, 19, 21, 23, 24, 25, 28)
def dequantize_linear(n, x, scale, zero_point=None):
    scale = jnp.asarray(scale)
    out = np_dtype(n.attr("output_dtype")) if n.attr("output_dtype") else scale.dtype
    xf = jnp.asarray(x).astype(jnp.float32)
    if zero_point is not None:
        xf = xf - _expand(zero_point, x, n).astype(jnp.float32)
    return (xf * _expand(scale, x, n).astype(jnp.float32)).astype(jax_dtype(out))


@T.op("QuantizeLinear", 10, 13, 19, 21, 23, 24, 25, 28)
def quantize_linear(n, x, scale, zero_point=None):
    if n.attr("output_dtype"):
        target = np_dtype(n.attr("output_dtype"))
    elif zero_point is not None:
        target = np.dtype(jnp.asarray(zero_point).dtype)
    else:
        target = np.dtype(np.uint8)
    target = jax_dtype(target)
    xs = jnp.asarray(x).astype(jnp.float32) / _expand(scale, x, n).astype(jnp.float32)
    if jnp.issubdtype(target, jnp.integer):
        q = jnp.round(xs)  # half to even, as ONNX specifies
        if zero_point is not None:
            q = q + _expand(zero_point, x, n).astype(jnp.float32)
        lo, hi = _int_range(target)
        return jnp.clip(q, lo, hi).astype(target)
    if zero_point is not None:
        xs = xs + _expand(zero_point, x, n).astype(jnp.float32)
    return cast_to(xs, target, bool(n.attr("saturate", 1)))
