"""Helpers shared by the kernels: static values, dtypes, axes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
import onnx

from ..errors import StaticValueError


def static_value(x: Any, what: str) -> np.ndarray:
    """``x`` as a numpy array; it must not depend on traced data (a shape, pads, axes...)."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, jax.core.Tracer):
        raise StaticValueError(
            f"{what} must be known while tracing, but it is computed from input data",
            "only shape-derived values and constants can decide shapes under jit; "
            "run the function without jit or make this value a constant",
        )
    return np.asarray(x)


def static_ints(x: Any, what: str) -> list[int]:
    return [int(v) for v in np.asarray(static_value(x, what)).reshape(-1)]


def np_dtype(onnx_type: int) -> np.dtype:
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(onnx_type))


def jax_dtype(dtype: Any) -> np.dtype:
    """The dtype JAX will really use (64-bit types narrow when x64 is off)."""
    return jax.dtypes.canonicalize_dtype(np.dtype(dtype))


def axis(a: int, rank: int) -> int:
    return a + rank if a < 0 else a


def axes(a: Sequence[int], rank: int) -> tuple[int, ...]:
    return tuple(sorted(axis(int(i), rank) for i in a))
