"""Tensors made from attributes and shapes: Constant, ConstantOfShape, Range, EyeLike.

Their shapes come from static values (attributes, shapes, constants), so they fold while tracing.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..registry import OpTable
from ._util import jax_dtype, np_dtype, static_ints, static_value

T = OpTable()
INT64 = np.int64


@T.op("ConstantOfShape", 9, 20, 21, 23, 24, 25, static=(0,))
def constant_of_shape(n, shape):
    value = n.attr("value")
    value = np.zeros((1,), np.float32) if value is None else value
    return np.full(tuple(static_ints(shape, "ConstantOfShape shape")), value.reshape(-1)[0], value.dtype)


@T.op("Constant", 1, 9, 11, 12, 13, 19, 21, 23, 24, 25)
def constant(n):
    a = n.attrs
    if "value" in a:
        return np.asarray(a["value"])
    if "value_float" in a:
        return np.array(a["value_float"], np.float32)
    if "value_floats" in a:
        return np.array(a["value_floats"], np.float32)
    if "value_int" in a:
        return np.array(a["value_int"], INT64)
    if "value_ints" in a:
        return np.array(a["value_ints"], INT64)
    if "value_string" in a:
        return np.array(a["value_string"], object)
    if "value_strings" in a:
        return np.array(a["value_strings"], object)
    if "sparse_value" in a:
        from onnx import numpy_helper

        sp = a["sparse_value"]
        vals, idx = numpy_helper.to_array(sp.values), numpy_helper.to_array(sp.indices)
        dense = np.zeros(tuple(sp.dims), vals.dtype)
        dense.reshape(-1)[idx.reshape(-1)] = vals
        return dense
    raise ValueError("Constant node has no value attribute")


@T.op("Range", 11, 27, static=(0, 1, 2))
def range_(n, start, limit, delta):
    s, l_, d = (np.asarray(static_value(v, "Range bounds")) for v in (start, limit, delta))
    dtype = s.dtype
    s, l_, d = (v.reshape(-1)[0] for v in (s, l_, d))  # scalars (some exporters emit shape [1])
    count = max(int(np.ceil((l_ - s) / d)), 0)
    return (s + np.arange(count, dtype=dtype) * d).astype(dtype)


@T.op("EyeLike", 9, 22)
def eye_like(n, x):
    dt = np_dtype(n.attr("dtype")) if n.attr("dtype") is not None else x.dtype
    return jnp.eye(x.shape[0], x.shape[1], k=n.attr("k", 0), dtype=jax_dtype(dt))
