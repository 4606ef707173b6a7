"""Linear (de)quantisation: per tensor, per axis, or per block."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..registry import OpTable
from ._util import axis as norm_axis
from ._util import jax_dtype, np_dtype
from .numeric_types import IEEE_FLOATS, convert, decode, is_narrow_float

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


def _float_type(dtype) -> np.dtype:
    """``dtype`` if it is an IEEE float type, else float32 (for int32 or E8M0 scales)."""
    dtype = np.dtype(dtype)
    return jax_dtype(dtype) if dtype.name in IEEE_FLOATS else np.dtype(np.float32)


@T.op("DequantizeLinear", 10, 13, 19, 21, 23, 24, 25, 28)
def dequantize_linear(n, x, scale, zero_point=None):
    # y = (x - zero_point) * scale; the output type is also the multiplication's precision.
    scale = jnp.asarray(scale)
    out = jax_dtype(np_dtype(n.attr("output_dtype"))) if n.attr("output_dtype") else _float_type(scale.dtype)
    x = jnp.asarray(x)
    if is_narrow_float(x.dtype):
        diff = decode(x)
        if zero_point is not None:
            diff = diff - decode(_expand(zero_point, x, n))
    else:
        diff = convert(x, jnp.int32 if x.dtype != jnp.int32 else x.dtype)  # exact: 16 bits or less
        if zero_point is not None:
            diff = diff - convert(_expand(zero_point, x, n), jnp.int32)
    return convert(diff, out) * convert(decode(_expand(scale, x, n)), out)


@T.op("QuantizeLinear", 10, 13, 19, 21, 23, 24, 25, 28)
def quantize_linear(n, x, scale, zero_point=None):
    # y = saturate(round(x / scale) + zero_point), round to nearest even; the division runs in
    # the `precision` attribute's type, else in the scale's.
    if n.attr("output_dtype"):
        target = np_dtype(n.attr("output_dtype"))
    elif zero_point is not None:
        target = np.dtype(jnp.asarray(zero_point).dtype)
    else:
        target = np.dtype(np.uint8)
    scale = decode(_expand(scale, x, n))
    precision = _float_type(np_dtype(n.attr("precision")) if n.attr("precision") else scale.dtype)
    xs = convert(x, precision) / convert(scale, precision)
    zp = 0.0 if zero_point is None else decode(_expand(zero_point, x, n)).astype(jnp.float32)
    if is_narrow_float(target):
        return convert(xs.astype(jnp.float32) + zp, target, bool(n.attr("saturate", 1)))
    info = jnp.iinfo(jax_dtype(target))
    q = jnp.clip(jnp.round(xs).astype(jnp.float32) + zp, int(info.min), int(info.max))
    return convert(q, target)  # integral and in range: exact (NaN -> 0, the module's choice)
