"""Elementwise arithmetic, math, comparison, logic, casts and selection."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..registry import OpTable
from ._util import np_dtype
from .numeric_types import convert

T = OpTable()


def _unary(name: str, f, *versions: int) -> None:
    T.op(name, *versions, channels_last="elementwise")(lambda n, x: f(x))


def _binary(name: str, f, *versions: int, channels_last: str | None = None) -> None:
    T.op(name, *versions, channels_last=channels_last)(lambda n, a, b: f(a, b))


_unary("Abs", jnp.abs, 6, 13)
_unary("Neg", jnp.negative, 6, 13)
_unary("Sqrt", jnp.sqrt, 6, 13)
_unary("Exp", jnp.exp, 6, 13)
_unary("Log", jnp.log, 6, 13)
_unary("Reciprocal", jnp.reciprocal, 6, 13)
_unary("Floor", jnp.floor, 6, 13)
_unary("Ceil", jnp.ceil, 6, 13)
_unary("Round", jnp.round, 11, 22)  # round half to even, like ONNX
_unary("Sign", jnp.sign, 9, 13)
_unary("Erf", lax.erf, 9, 13)
_unary("Sin", jnp.sin, 7, 22)
_unary("Cos", jnp.cos, 7, 22)
_unary("Tan", jnp.tan, 7, 22)
_unary("Asin", jnp.arcsin, 7, 22)
_unary("Acos", jnp.arccos, 7, 22)
_unary("Atan", jnp.arctan, 7, 22)
_unary("Sinh", jnp.sinh, 9, 22)
_unary("Cosh", jnp.cosh, 9, 22)
_unary("Asinh", jnp.arcsinh, 9, 22)
_unary("Acosh", jnp.arccosh, 9, 22)
_unary("Atanh", jnp.arctanh, 9, 22)
_unary("Not", jnp.logical_not, 1)
_unary("BitwiseNot", jnp.bitwise_not, 18)
_unary("IsNaN", jnp.isnan, 9, 13, 20)


@T.op("IsInf", 10, 20)
def is_inf(n, x):
    pos, neg = n.attr("detect_positive", 1), n.attr("detect_negative", 1)
    return (jnp.isposinf(x) & bool(pos)) | (jnp.isneginf(x) & bool(neg))


_binary("Add", jnp.add, 7, 13, 14, channels_last="elementwise")
_binary("Sub", jnp.subtract, 7, 13, 14, channels_last="elementwise")
_binary("Mul", jnp.multiply, 7, 13, 14, channels_last="elementwise")


@T.op("Div", 7, 13, 14, channels_last="elementwise")
def div(n, a, b):
    a, b = jnp.asarray(a), jnp.asarray(b)
    if jnp.issubdtype(a.dtype, jnp.integer):
        return lax.div(*jnp.broadcast_arrays(a, b))  # C semantics: truncate toward zero
    return jnp.divide(a, b)


@T.op("Mod", 10, 13, 28)
def mod(n, a, b):
    a, b = jnp.broadcast_arrays(jnp.asarray(a), jnp.asarray(b))
    if n.attr("fmod", 0):
        return lax.rem(a, b)  # sign of the dividend, like C fmod
    return jnp.mod(a, b)  # sign of the divisor, like Python


@T.op("Pow", 7, 12, 13, 15, channels_last="elementwise")
def pow_(n, x, y):
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.dtype == y.dtype:
        return jnp.power(x, y)
    if jnp.issubdtype(x.dtype, jnp.floating):  # any exponent: in the base's type
        return jnp.power(x, y.astype(x.dtype))
    # Integer base, other exponent: compute wide, return the base's type (as ONNX does).
    return jnp.power(x.astype(jnp.float64 if jax.config.jax_enable_x64 else jnp.float32), y).astype(x.dtype)


@T.op("BitShift", 11, 28)
def bit_shift(n, x, y):
    y = jnp.asarray(y).astype(jnp.asarray(x).dtype)
    return jnp.left_shift(x, y) if n.attr("direction") == "LEFT" else jnp.right_shift(x, y)


_binary("And", jnp.logical_and, 7)
_binary("Or", jnp.logical_or, 7)
_binary("Xor", jnp.logical_xor, 7)
_binary("BitwiseAnd", jnp.bitwise_and, 18)
_binary("BitwiseOr", jnp.bitwise_or, 18)
_binary("BitwiseXor", jnp.bitwise_xor, 18)


@T.op("Equal", 7, 11, 13, 19)
def equal(n, a, b):
    if any(isinstance(v, np.ndarray) and v.dtype.kind in "OSU" for v in (a, b)):
        return np.equal(np.asarray(a, object), np.asarray(b, object))  # strings never reach JAX
    return jnp.equal(a, b)


_binary("Less", jnp.less, 7, 9, 13)
_binary("LessOrEqual", jnp.less_equal, 12, 16)
_binary("Greater", jnp.greater, 7, 9, 13)
_binary("GreaterOrEqual", jnp.greater_equal, 12, 16)


# Max/Min/Sum/Mean-6 do not broadcast; broadcasting is a superset, so one kernel serves all.
def _variadic(name: str, f, *versions: int) -> None:
    """An elementwise op over any number of inputs: ``f`` folded left to right."""
    T.op(name, *versions, channels_last="elementwise")(lambda n, *xs: jnp.asarray(functools.reduce(f, xs)))


_variadic("Max", jnp.maximum, 6, 8, 12, 13)
_variadic("Min", jnp.minimum, 6, 8, 12, 13)
_variadic("Sum", jnp.add, 6, 8, 13)


@T.op("Mean", 6, 8, 13, channels_last="elementwise")
def mean(n, *xs):
    return functools.reduce(jnp.add, xs) / len(xs)


@T.op("Where", 9, 16, channels_last="elementwise")
def where(n, cond, x, y):
    return jnp.where(cond, x, y)


@T.op("Identity", 1, 13, 14, 16, 19, 21, 23, 24, 25, channels_last="elementwise")
def identity(n, x):
    return x


@T.op("Clip", 6, channels_last="elementwise")
def clip_6(n, x):
    lo, hi = n.attr("min", -np.inf), n.attr("max", np.inf)
    return jnp.minimum(jnp.maximum(x, jnp.asarray(lo, x.dtype)), jnp.asarray(hi, x.dtype))


@T.op("Clip", 11, 12, 13, channels_last="elementwise")
def clip_11(n, x, lo=None, hi=None):
    # min > max gives max everywhere, as the spec says: apply max after min.
    if lo is not None:
        x = jnp.maximum(x, jnp.asarray(lo).astype(x.dtype))
    if hi is not None:
        x = jnp.minimum(x, jnp.asarray(hi).astype(x.dtype))
    return jnp.asarray(x)


# Conversions follow ONNX's rules written out in numeric_types.py, not ``astype``.
@T.op("Cast", 6, 9, 13)
def cast(n, x):
    return convert(x, np_dtype(n.attr("to")))


@T.op("Cast", 19, 21, 23, 24, 25, 28)
def cast_19(n, x):
    return convert(x, np_dtype(n.attr("to")), bool(n.attr("saturate", 1)), n.attr("round_mode", "up"))


@T.op("CastLike", 15)
def cast_like(n, x, like):
    return convert(x, like.dtype)


@T.op("CastLike", 19, 21, 23, 24, 25)
def cast_like_19(n, x, like):
    return convert(x, like.dtype, bool(n.attr("saturate", 1)), n.attr("round_mode", "up"))
