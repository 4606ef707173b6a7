"""ONNX's numeric conversions written out, so results follow the spec, not a library version.

Every rounding, saturation and wrap that the ONNX spec defines is computed here on integer bit
patterns (then bitcast), never by ``astype`` into a narrow type: ml_dtypes and XLA have changed
those conversions between releases (ml_dtypes 0.7.0 sends out-of-range float -> int4 to 0 where
older releases wrapped). Only exact conversions and IEEE float <-> IEEE float (round to nearest
even, overflow to +/-inf, which is what the spec asks) are left to ``astype``.

Sources of the rules: ONNX's operator docs for Cast and QuantizeLinear, and its technical notes on
the float8, float4, int4 and int2 types.

* float -> float8 (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ): round to nearest even; out of range
  (after rounding) and +/-Inf give +/-max with ``saturate``, else Inf (E5M2) or NaN; FNUZ types
  have no -0.
* float -> float4 E2M1: round to nearest even, always saturating; NaN -> +6.
* float -> float8 E8M0: a power of two chosen by ``round_mode`` (up / down: away from / toward
  zero, nearest: ties up); out of range gives the min / max with ``saturate``, else NaN.
* float -> int4 / uint4 / int2 / uint2: round to nearest even, then keep the low bits (wrap).
* integer -> integer: keep the low bits and reinterpret (200 int16 -> -56 int8).
* Undefined by the spec, chosen here: float -> an integer type of 8 bits or more truncates toward
  zero and saturates out of range (like XLA's convert); NaN -> 0 for every integer type, and
  +/-Inf -> 0 for the sub-byte ones (wrapping infinity has no meaning); a negative number or -0
  to E8M0 uses its magnitude. The node-suite harness compares only what the spec defines.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._util import jax_dtype


class Minifloat(NamedTuple):
    """A narrow float format; codes are magnitudes, the sign bit sits just above them."""

    exp: int
    man: int
    bias: int
    max_code: int
    inf_code: int | None  # None: no infinity
    nan_code: int | None  # None: no NaN (NaN becomes +max); FNUZ: 0x80, the would-be -0
    negative_zero: bool
    always_saturates: bool = False

    @property
    def sign_bit(self) -> int:
        return 1 << (self.exp + self.man)


MINIFLOATS = {
    "float8_e4m3fn": Minifloat(4, 3, 7, 0x7E, None, 0x7F, True),
    "float8_e4m3fnuz": Minifloat(4, 3, 8, 0x7F, None, 0x80, False),
    "float8_e5m2": Minifloat(5, 2, 15, 0x7B, 0x7C, 0x7E, True),
    "float8_e5m2fnuz": Minifloat(5, 2, 16, 0x7F, None, 0x80, False),
    "float4_e2m1fn": Minifloat(2, 1, 1, 0x7, None, None, True, always_saturates=True),
}
E8M0 = "float8_e8m0fnu"
SUB_BYTE_INTS = {"int4": 4, "uint4": 4, "int2": 2, "uint2": 2}
IEEE_FLOATS = {"float16": (5, 10), "bfloat16": (8, 7), "float32": (8, 23), "float64": (11, 52)}


def is_narrow_float(dtype) -> bool:
    return np.dtype(dtype).name in MINIFLOATS or np.dtype(dtype).name == E8M0


def _code_dtype(name: str):
    return jnp.uint4 if name == "float4_e2m1fn" else jnp.uint8


@functools.cache
def _decode_table(name: str) -> np.ndarray:
    """float32 value of every code of a narrow float type, from the format's definition."""
    if name == E8M0:
        table = np.ldexp(1.0, np.arange(256) - 127)
        table[255] = np.nan
        return table.astype(np.float32)
    f = MINIFLOATS[name]
    codes = np.arange(2 * f.sign_bit)
    mag, negative = codes % f.sign_bit, codes >= f.sign_bit
    e, m = mag >> f.man, mag & ((1 << f.man) - 1)
    value = np.where(e == 0, np.ldexp(m, 1 - f.bias - f.man), np.ldexp(m + (1 << f.man), e - f.bias - f.man))
    value = np.where(negative, -value, value)
    if f.inf_code is not None:  # E5M2: IEEE-like
        value[mag == f.inf_code] = np.where(negative, -np.inf, np.inf)[mag == f.inf_code]
        value[mag > f.inf_code] = np.nan
    elif f.nan_code == f.sign_bit:  # FNUZ
        value[codes == f.sign_bit] = np.nan
    elif f.nan_code is not None:
        value[mag == f.nan_code] = np.nan
    return value.astype(np.float32)


def _decode(x):
    """A narrow float array as float32 (exact)."""
    name = np.dtype(x.dtype).name
    codes = lax.bitcast_convert_type(x, _code_dtype(name)).astype(jnp.int32)
    return jnp.asarray(_decode_table(name))[codes]


def _decompose(x):
    """|x| = sig * 2**(k - m) with sig's leading one at bit m, from the IEEE bit pattern."""
    e_bits, m = IEEE_FLOATS[np.dtype(x.dtype).name]
    width = np.dtype(x.dtype).itemsize * 8
    signed = lax.bitcast_convert_type(x, jnp.dtype(f"int{width}"))
    work = jnp.int64 if width == 64 else jnp.int32
    mag = (signed & ((1 << (width - 1)) - 1)).astype(work)
    exponent, mantissa = mag >> m, mag & ((1 << m) - 1)
    bias, all_ones = (1 << (e_bits - 1)) - 1, (1 << e_bits) - 1
    nan = (exponent == all_ones) & (mantissa != 0)
    inf = (exponent == all_ones) & (mantissa == 0)
    # Subnormal sources: shift the mantissa up until its top bit is the implicit one.
    lead = (np.dtype(work).itemsize * 8 - 1) - lax.clz(mantissa)
    up = m - lead
    subnormal = exponent == 0
    sig = jnp.where(subnormal, mantissa << jnp.where(subnormal, up, 0), mantissa | (1 << m))
    k = jnp.where(subnormal, 1 - bias - up, exponent - bias)
    return signed < 0, nan, inf, mag == 0, k, sig, m


def _round_shift(v, s):
    """v >> s rounded to nearest, ties to even (s >= 1)."""
    one = jnp.ones((), v.dtype)
    q, rem, half = v >> s, v & ((one << s) - 1), one << (s - 1)
    return q + ((rem > half) | ((rem == half) & ((q & 1) == 1))).astype(v.dtype)


def _to_minifloat(x, name: str, saturate: bool):
    f = MINIFLOATS[name]
    negative, nan, inf, _, k, sig, m = _decompose(x)
    emin = 1 - f.bias
    shift = jnp.minimum(m - f.man + jnp.maximum(emin - k, 0), m + 2)  # past m + 1 all rounds to 0
    # Normal and subnormal results alike: a carry out of the mantissa moves up one binade.
    code = ((jnp.maximum(k + f.bias, 1) - 1) << f.man) + _round_shift(sig, shift)
    if saturate or f.always_saturates:
        fallback = f.max_code
    else:
        fallback = f.inf_code if f.inf_code is not None else f.nan_code
    code = jnp.where(inf | (code > f.max_code), fallback, code)  # compared after rounding
    code = jnp.where(nan, f.max_code if f.nan_code is None else f.nan_code, code)
    # The sign bit goes on every nonzero result; FNUZ's NaN 0x80 already has it. Zero keeps it only
    # where -0 exists, and float4's NaN is +6.
    keep_sign = negative & (f.negative_zero | (code != 0))
    if f.nan_code is None:
        keep_sign &= ~nan
    code = jnp.where(keep_sign, code | f.sign_bit, code)
    return lax.bitcast_convert_type(code.astype(jnp.uint8).astype(_code_dtype(name)), jax_dtype(name))


def _to_e8m0(x, saturate: bool, round_mode: str):
    _, nan, inf, zero, k, sig, m = _decompose(x)
    fraction = sig - (jnp.ones((), sig.dtype) << m)
    if round_mode == "up":
        k = k + (fraction != 0)
    elif round_mode == "nearest":
        k = k + (fraction >= (1 << (m - 1)))
    elif round_mode != "down":
        raise ValueError(f"round_mode must be up, down or nearest, not {round_mode!r}")
    low, high = zero | (k < -127), inf | (k > 127)
    code = jnp.where(high, 254, jnp.where(low, 0, jnp.clip(k, -127, 127) + 127))
    code = jnp.where(nan | (~jnp.asarray(saturate) & (low | high)), 255, code)
    return lax.bitcast_convert_type(code.astype(jnp.uint8), jax_dtype(E8M0))


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3))
def _float_to_float(x, target: np.dtype, saturate: bool, round_mode: str):
    if is_narrow_float(x.dtype):
        x = _decode(x)
    if target.name == E8M0:
        return _to_e8m0(x, saturate, round_mode)
    if target.name in MINIFLOATS:
        return _to_minifloat(x, target.name, saturate)
    return x.astype(target)


@_float_to_float.defjvp
def _float_to_float_jvp(target, saturate, round_mode, primals, tangents):
    # The derivative ``astype`` has: the tangent, converted (rounding is not differentiated).
    y = _float_to_float(primals[0], target, saturate, round_mode)
    return y, tangents[0].astype(y.dtype)


def _float_to_int(x, target: np.dtype):
    work = jnp.float64 if x.dtype == jnp.float64 else jnp.float32
    x = x.astype(work)  # exact: narrow floats are decoded before this
    bits = SUB_BYTE_INTS.get(target.name)
    if bits is not None:
        # ONNX's int4 / int2 notes: round to nearest even, then keep the low bits.
        low = jnp.mod(jnp.round(x), float(1 << bits))  # fmod by a power of two is exact
        low = jnp.where(jnp.isfinite(low), low, 0).astype(jnp.int32)
        if target.name.startswith("int"):
            low = jnp.where(low >= 1 << (bits - 1), low - (1 << bits), low)
        return low.astype(target)
    info = np.iinfo(target)
    t = jnp.where(jnp.isnan(x), 0, jnp.trunc(x))
    below = float(info.max) + 1  # a power of two: exact in every float type
    inside = jnp.clip(t, float(info.min), np.nextafter(np.asarray(below, work), 0)).astype(target)
    return jnp.where(t >= below, jnp.asarray(info.max, target), inside)


def _int_to_int(x, target: np.dtype):
    if np.dtype(x.dtype).name in SUB_BYTE_INTS:  # widen first: XLA's 4-bit arithmetic is thin
        x = x.astype(jnp.int8 if jnp.issubdtype(x.dtype, jnp.signedinteger) else jnp.uint8)
    src_bits, dst_bits = np.dtype(x.dtype).itemsize * 8, SUB_BYTE_INTS.get(target.name, target.itemsize * 8)
    src_signed, dst_signed = jnp.issubdtype(x.dtype, jnp.signedinteger), jnp.issubdtype(target, jnp.signedinteger)
    if dst_bits >= src_bits and (src_signed == dst_signed or (dst_bits > src_bits and not src_signed)):
        return x.astype(target)  # every value fits
    if dst_bits >= src_bits:  # signed -> unsigned as wide or wider: sign-extend, reinterpret
        return lax.bitcast_convert_type(x.astype(_int_type(dst_bits, True)), target)
    low = lax.bitcast_convert_type(x, _int_type(src_bits, False)) & ((1 << dst_bits) - 1)
    low = low.astype(_int_type(dst_bits, False))
    return lax.bitcast_convert_type(low, target) if dst_signed else low


def _int_type(bits: int, signed: bool):
    return getattr(jnp, f"{'' if signed else 'u'}int{bits}")


def _nonzero(x):
    """x != 0 from the bits: XLA on CPU compares subnormals as zero, the spec counts them."""
    if is_narrow_float(x.dtype):
        x = _decode(x)
    width = np.dtype(x.dtype).itemsize * 8
    return (lax.bitcast_convert_type(x, jnp.dtype(f"int{width}")) & ((1 << (width - 1)) - 1)) != 0


def convert(x, dtype, saturate: bool = True, round_mode: str = "up"):
    """``x`` as ``dtype`` by ONNX's Cast rules (module docstring); ``saturate`` and ``round_mode``
    apply to float8 / E8M0 targets."""
    x = jnp.asarray(x)
    target = jax_dtype(dtype)
    if target == x.dtype:
        return x
    # One compiled program per call when run eagerly (the node suite), instead of ~40 small ones.
    return _convert(x, target, bool(saturate), round_mode)


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _convert(x, target: np.dtype, saturate: bool, round_mode: str):
    if target == np.bool_:
        return _nonzero(x) if jnp.issubdtype(x.dtype, jnp.floating) else x != 0
    if x.dtype == jnp.bool_:
        x = x.astype(jnp.int32)
    floating = jnp.issubdtype(x.dtype, jnp.floating)
    if floating and not (is_narrow_float(x.dtype) or is_narrow_float(target)) and jnp.issubdtype(target, jnp.floating):
        return x.astype(target)  # IEEE -> IEEE: round to nearest even, overflow to +/-inf
    if jnp.issubdtype(target, jnp.floating):
        if not floating:
            if not is_narrow_float(target):
                return x.astype(target)
            x = x.astype(jax_dtype(np.float64))  # exact below 2**53 (x64) or 2**24
        return _float_to_float(x, target, saturate, round_mode)
    if floating:
        return _float_to_int(_decode(x) if is_narrow_float(x.dtype) else x, target)
    return _int_to_int(x, target)


def decode(x):
    """``x`` as a float32 array if it is a narrow float type (exact), else unchanged."""
    x = jnp.asarray(x)
    return _float_to_float(x, np.dtype(np.float32), True, "up") if is_narrow_float(x.dtype) else x
