"""ONNX's numeric conversions (``dreamjax_onnx/ops/numeric_types.py``) at the edges of each type.

Expected codes are written by hand from the format definitions (ONNX's Cast doc and its type
notes float8 / float4 / int4 / int2), or derived from the definition (every code, every midpoint
between neighbours), never from ml_dtypes or XLA: these tests must hold whatever release of
either is installed. ml_dtypes is used only to name the dtypes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, helper

import dreamjax_onnx.backend as backend
from dreamjax_onnx.ops.numeric_types import MINIFLOATS, convert, decode

NAN, INF = float("nan"), float("inf")
F8 = ["float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz"]


def dt(name: str) -> np.dtype:
    return np.dtype(getattr(ml_dtypes, name) if hasattr(ml_dtypes, name) else name)


def codes(y) -> list[int]:
    return np.asarray(y).view(np.uint8).tolist()


def as_f32(values) -> np.ndarray:
    return np.asarray(values, np.float64).astype(np.float32)


# value, code with saturate, code without. Codes: sign bit, exponent, mantissa.
EDGES = {
    "float8_e4m3fn": [
        (448.0, 0x7E, 0x7E),  # max = 1.75 * 2**8
        (464.0, 0x7E, 0x7E),  # halfway to 480 (the NaN code): ties to even, 448
        (465.0, 0x7E, 0x7F),  # rounds past max: max, else NaN
        (-465.0, 0xFE, 0xFF),
        (INF, 0x7E, 0x7F),
        (-INF, 0xFE, 0xFF),
        (1.0, 0x38, 0x38),
        (1.0625, 0x38, 0x38),  # tie between 1 (even) and 1.125
        (1.1875, 0x3A, 0x3A),  # tie between 1.125 and 1.25 (even)
        (2.0**-6, 0x08, 0x08),  # smallest normal
        (2.0**-9, 0x01, 0x01),  # smallest subnormal
        (2.0**-10, 0x00, 0x00),  # half of it: ties to even, 0
        (1.5 * 2.0**-10, 0x01, 0x01),
        (-0.0, 0x80, 0x80),
        (-1e-40, 0x80, 0x80),  # a float32 subnormal: -0
    ],
    "float8_e4m3fnuz": [
        (240.0, 0x7F, 0x7F),  # max = 1.875 * 2**7
        (247.0, 0x7F, 0x7F),
        (248.0, 0x7F, 0x80),  # tie: 240 is odd, so it rounds to 256, past max
        (-248.0, 0xFF, 0x80),  # the only NaN, 0x80, has no sign
        (INF, 0x7F, 0x80),
        (-INF, 0xFF, 0x80),
        (1.0, 0x40, 0x40),
        (2.0**-7, 0x08, 0x08),
        (2.0**-10, 0x01, 0x01),
        (2.0**-11, 0x00, 0x00),
        (-0.0, 0x00, 0x00),  # no -0
        (-1e-40, 0x00, 0x00),
        (-(2.0**-11), 0x00, 0x00),
    ],
    "float8_e5m2": [
        (57344.0, 0x7B, 0x7B),  # max = 1.75 * 2**15
        (61439.0, 0x7B, 0x7B),
        (61440.0, 0x7B, 0x7C),  # tie: 57344 is odd, rounds to 65536: max, else Inf
        (-61440.0, 0xFB, 0xFC),
        (INF, 0x7B, 0x7C),
        (-INF, 0xFB, 0xFC),
        (1.0, 0x3C, 0x3C),
        (1.125, 0x3C, 0x3C),  # tie between 1 (even) and 1.25
        (2.0**-14, 0x04, 0x04),
        (2.0**-16, 0x01, 0x01),
        (2.0**-17, 0x00, 0x00),
        (-0.0, 0x80, 0x80),
    ],
    "float8_e5m2fnuz": [
        (57344.0, 0x7F, 0x7F),
        (61440.0, 0x7F, 0x80),
        (-INF, 0xFF, 0x80),
        (1.0, 0x40, 0x40),
        (2.0**-15, 0x04, 0x04),
        (2.0**-17, 0x01, 0x01),
        (2.0**-18, 0x00, 0x00),
        (-0.0, 0x00, 0x00),
    ],
    # ONNX's float4 note: round to nearest even, always saturating; +/-Inf -> +/-6, NaN -> +6.
    "float4_e2m1fn": [
        (6.0, 0x7, 0x7),
        (7.0, 0x7, 0x7),
        (1e6, 0x7, 0x7),
        (-7.0, 0xF, 0xF),
        (INF, 0x7, 0x7),
        (-INF, 0xF, 0xF),
        (NAN, 0x7, 0x7),
        (-NAN, 0x7, 0x7),
        (0.25, 0x0, 0x0),  # tie between 0 and 0.5
        (0.26, 0x1, 0x1),
        (0.75, 0x2, 0x2),  # tie between 0.5 and 1 (even)
        (2.5, 0x4, 0x4),  # tie between 2 (even) and 3
        (3.5, 0x6, 0x6),  # tie between 3 and 4 (even)
        (5.0, 0x6, 0x6),  # tie between 4 (even) and 6
        (-0.0, 0x8, 0x8),
    ],
}


@pytest.mark.parametrize("name", list(EDGES))
@pytest.mark.parametrize("source", ["float32", "float16", "bfloat16"])
def test_minifloat_edges(name, source):
    src = jnp.dtype(source)
    with np.errstate(over="ignore"):  # rows the source type cannot hold are left out
        rows = [r for r in EDGES[name] if np.isnan(r[0]) or abs(r[0]) < 1e-30 or np.asarray(r[0], src).astype(np.float64) == r[0]]
    x = jnp.asarray(np.asarray([r[0] for r in rows], np.float32)).astype(src)
    assert codes(convert(x, dt(name), saturate=True)) == [r[1] for r in rows]
    assert codes(convert(x, dt(name), saturate=False)) == [r[2] for r in rows]


@pytest.mark.parametrize("name", F8)
def test_nan_stays_nan(name):
    out = convert(jnp.asarray([NAN, -NAN], jnp.float32), dt(name))
    assert np.isnan(np.asarray(decode(out))).all()


def _positive_values(name):
    """Every finite non-negative value of the format, in code order, from its definition."""
    f = MINIFLOATS[name]
    step = 2.0 ** (1 - f.bias - f.man)
    values = [c * step for c in range(2 << f.man)]  # subnormals and the first binade
    for e in range(2, 1 << f.exp):
        values += [(1 + m / (1 << f.man)) * 2.0 ** (e - f.bias) for m in range(1 << f.man)]
    return values[: f.max_code + 1]


@pytest.mark.parametrize("name", list(MINIFLOATS))
def test_every_code_decodes_by_definition_and_round_trips(name):
    values = _positive_values(name)
    sign = MINIFLOATS[name].sign_bit
    x = np.asarray(values + [-v for v in values[1:]], np.float32)
    expected = list(range(len(values))) + [c | sign for c in range(1, len(values))]
    assert codes(convert(x, dt(name))) == expected
    np.testing.assert_array_equal(np.asarray(decode(convert(x, dt(name)))), x)


@pytest.mark.parametrize("name", list(MINIFLOATS))
@pytest.mark.parametrize("source", ["float32", "float16", "float64"])
def test_midpoints_round_to_even_and_neighbours_to_nearest(name, source):
    values = np.asarray(_positive_values(name))
    mids = ((values[:-1] + values[1:]) / 2).astype(source)  # exact: at most a few bits
    even = [c if c % 2 == 0 else c + 1 for c in range(len(mids))]
    below, above = np.nextafter(mids, np.asarray(0, source)), np.nextafter(mids, np.asarray(np.inf, source))
    want = even + list(range(len(mids))) + list(range(1, len(mids) + 1))
    f = MINIFLOATS[name]
    negative = [c | f.sign_bit if c or f.negative_zero else 0 for c in want]  # FNUZ: no -0
    x = np.concatenate([mids, below, above])
    with jax.enable_x64(source == "float64"):
        assert codes(convert(jnp.asarray(np.concatenate([x, -x])), dt(name))) == want + negative


E8M0_ROWS = [  # value, {(round_mode, saturate): code}; 2**(code - 127), 0xFF NaN
    (1.0, dict.fromkeys([("up", 1), ("up", 0), ("down", 1), ("nearest", 0)], 127)),
    (1.5, {("up", 1): 128, ("down", 1): 127, ("nearest", 1): 128}),  # nearest: ties up
    (1.25, {("up", 1): 128, ("down", 1): 127, ("nearest", 1): 127}),
    (1.75, {("nearest", 1): 128}),
    (2.0**127, {("up", 0): 254, ("nearest", 0): 254}),
    (3.4e38, {("up", 1): 254, ("up", 0): 255, ("down", 0): 254, ("nearest", 1): 254, ("nearest", 0): 255}),
    (INF, {("up", 1): 254, ("nearest", 0): 255}),  # spec table: saturate+up -> max; else NaN
    (0.0, {("up", 1): 0, ("nearest", 0): 255}),  # saturate+up -> min (2**-127); else NaN
    (2.0**-127, {("up", 0): 0, ("down", 0): 0, ("nearest", 0): 0}),  # a float32 subnormal
    (2.0**-128, {("up", 1): 0, ("up", 0): 255, ("nearest", 0): 255}),  # below min
    (NAN, {("up", 1): 255, ("nearest", 0): 255}),
    (-2.0, {("up", 1): 128}),  # negative: unspecified; the magnitude is used
]


@pytest.mark.parametrize("value,expected", E8M0_ROWS)
def test_e8m0(value, expected):
    for (mode, saturate), code in expected.items():
        got = codes(convert(jnp.asarray([value], jnp.float32), dt("float8_e8m0fnu"), bool(saturate), mode))
        assert got == [code], (mode, saturate)


def test_e8m0_from_half_precision():
    for source in (jnp.float16, jnp.bfloat16):
        got = convert(jnp.asarray([65504.0, 1.5], source), dt("float8_e8m0fnu"), True, "up")
        assert codes(got) == [127 + 16, 128]


def test_narrow_floats_widen_exactly():
    e8m0 = jnp.asarray(np.asarray([0, 127, 254, 255], np.uint8).view(dt("float8_e8m0fnu")))
    np.testing.assert_array_equal(np.asarray(decode(e8m0)), [2.0**-127, 1.0, 2.0**127, NAN])
    # 2**-127 is below float16's smallest subnormal and 2**127 above its max.
    np.testing.assert_array_equal(np.asarray(convert(e8m0, np.float16)), [0.0, 1.0, INF, NAN])
    f4 = convert(jnp.asarray([0.5, -6.0], jnp.float32), dt("float4_e2m1fn"))
    assert np.asarray(convert(f4, np.float16)).tolist() == [0.5, -6.0]
    assert np.asarray(convert(convert(jnp.asarray([448.0, -1.0]), dt("float8_e4m3fn")), np.int8)).tolist() == [127, -1]
    assert codes(convert(convert(jnp.asarray([57344.0]), dt("float8_e5m2")), dt("float8_e4m3fn"))) == [0x7E]


SUB_BYTE = [  # RNE, then the low bits (ONNX's int4 / int2 notes); NaN and Inf -> 0 (our choice)
    ("int4", [-9.0, -8.0, 7.0, 8.0, 15.0, 2.5, 3.5, -2.5, 7.5, 0.5, NAN, INF], [7, -8, 7, -8, -1, 2, 4, -2, -8, 0, 0, 0]),
    ("uint4", [-1.0, 15.0, 16.0, 1.5, 0.5, 31.0, -INF], [15, 15, 0, 2, 0, 15, 0]),
    ("int2", [-3.0, -2.0, 1.0, 2.0, 1.5], [1, -2, 1, -2, -2]),
    ("uint2", [-1.0, 3.0, 4.0, 2.5], [3, 3, 0, 2]),
]


@pytest.mark.parametrize("name,values,expected", SUB_BYTE)
def test_float_to_sub_byte_int_rounds_half_even_and_wraps(name, values, expected):
    for source in (jnp.float32, jnp.float16):
        got = convert(jnp.asarray(values, jnp.float32).astype(source), dt(name))
        assert np.asarray(got).astype(int).tolist() == expected


def test_float_to_int_truncates_and_saturates():
    x = as_f32([127.9, 128.0, -128.9, -129.0, -0.7, NAN, INF, -INF])
    assert np.asarray(convert(x, np.int8)).tolist() == [127, 127, -128, -128, 0, 0, 127, -128]
    assert np.asarray(convert(as_f32([-1.0, 255.5, 256.0, NAN]), np.uint8)).tolist() == [0, 255, 255, 0]
    x = as_f32([2.0**31, -(2.0**31), 2147483520.0, 3e9])  # 2147483520: the float32 below 2**31
    assert np.asarray(convert(x, np.int32)).tolist() == [2**31 - 1, -(2**31), 2147483520, 2**31 - 1]
    with jax.enable_x64(True):
        x = jnp.asarray([2.0**63, -(2.0**63), 1e30, 2.0**53 + 2])
        assert np.asarray(convert(x, np.int64)).tolist() == [2**63 - 1, -(2**63), 2**63 - 1, 2**53 + 2]
        assert np.asarray(convert(jnp.asarray([2.0**64, -1.0]), np.uint64)).tolist() == [2**64 - 1, 0]


def test_int_to_int_keeps_low_bits():
    def cast(values, src, dst):
        return np.asarray(convert(jnp.asarray(np.asarray(values, src)), dt(dst))).astype(int).tolist()

    assert cast([200, -200], np.int16, "int8") == [-56, 56]  # the spec's example
    assert cast([-1, 256, 257], np.int32, "uint8") == [255, 0, 1]
    assert cast([255, 128], np.uint8, "int8") == [-1, -128]
    assert cast([-1, -128], np.int8, "uint16") == [65535, 65408]
    assert cast([200, -1, 7, 8], np.int16, "int4") == [-8, -1, 7, -8]
    assert cast([255, 16], np.uint8, "uint4") == [15, 0]
    assert cast([5, -3], np.int32, "int2") == [1, 1]
    assert cast([-8, -1], dt("int4"), "uint4") == [8, 15]
    assert cast([-1, 7], dt("int4"), "uint8") == [255, 7]
    assert cast([15], dt("uint4"), "int8") == [15]
    assert cast([True, False], np.bool_, "int4") == [1, 0]
    with jax.enable_x64(True):
        assert cast([2**40 + 3, -(2**40) - 1], np.int64, "int32") == [3, -1]
        assert cast([2**64 - 1], np.uint64, "int64") == [-1]


def test_ieee_floats_round_half_even_and_overflow_to_inf():
    # float16: max 65504, spacing 32 there; 65520 is the tie with 65536 (odd -> even, = Inf).
    x = as_f32([65504.0, 65519.0, 65520.0, -65520.0, 2.0**-25, 1.5 * 2.0**-25, -0.0, NAN])
    got = np.asarray(convert(x, np.float16)).astype(np.float64)
    np.testing.assert_array_equal(got, [65504.0, 65504.0, INF, -INF, 0.0, 2.0**-24, -0.0, NAN])
    assert np.signbit(got[6])
    # bfloat16: 8 significant bits.
    x = as_f32([1 + 2.0**-8, 1 + 3 * 2.0**-8, 3.4e38])  # bfloat16's max is 3.3895e38
    got = np.asarray(convert(x, jnp.bfloat16)).astype(np.float64).tolist()
    assert got == [1.0, 1 + 2.0**-6, INF]
    with jax.enable_x64(True):
        got = np.asarray(convert(jnp.asarray([1 + 2.0**-24, 1 + 3 * 2.0**-24, 1e300]), np.float32))
        assert got.tolist() == [1.0, 1 + 2.0**-22, INF]


def test_bool():
    assert np.asarray(convert(as_f32([0.0, -0.0, NAN, 1e-40, -2.0]), np.bool_)).tolist() == [False, False, True, True, True]
    assert np.asarray(convert(np.asarray([0, 2, -1], np.int8), np.bool_)).tolist() == [False, True, True]
    assert codes(convert(np.asarray([True, False]), dt("float8_e4m3fn"))) == [0x38, 0x00]


def test_casts_to_narrow_floats_pass_gradients_like_astype():
    def f(x):
        return convert(convert(x, dt("float8_e4m3fn")), np.float32).sum()

    g = jax.grad(f)(jnp.asarray([0.3, 1000.0, -2.0], jnp.float32))
    np.testing.assert_array_equal(np.asarray(g), [1.0, 1.0, 1.0])


def _run(op, inputs, **attrs):
    node = helper.make_node(op, [k for k in inputs], ["y"], **attrs)
    (y,) = backend.run_node(node, list(inputs.values()), jit=True)
    return y


def _f8(values, name="float8_e4m3fn"):
    return np.asarray(values, np.float32).astype(dt(name))


def test_quantize_linear_rounds_half_even_and_saturates():
    x = as_f32([-30.0, 5.0, 7.0, 9.0, NAN, INF, -INF])
    zp = np.asarray([1], dt("int4")).reshape(())
    y = _run("QuantizeLinear", {"x": x, "s": np.float32(2.0), "zp": zp})
    assert y.dtype == dt("int4") and y.astype(int).tolist() == [-8, 3, 5, 5, 0, 7, -8]  # NaN -> 0: our choice
    y = _run("QuantizeLinear", {"x": as_f32([-1.0, 0.5, 1.5, 255.5, 300.0]), "s": np.float32(1.0)})
    assert y.dtype == np.uint8 and y.tolist() == [0, 0, 2, 255, 255]


@pytest.mark.parametrize("saturate,expected", [(1, [448.0, -448.0, 448.0]), (0, [NAN, NAN, 448.0])])
def test_quantize_linear_to_float8(saturate, expected):
    zp = _f8([0.0]).reshape(())
    y = _run("QuantizeLinear", {"x": as_f32([1e6, -1e6, 464.0]), "s": np.float32(1.0), "zp": zp}, saturate=saturate)
    np.testing.assert_array_equal(y.astype(np.float32), expected)


def test_quantize_linear_to_float4_always_saturates():
    zp = np.asarray([0.0], np.float32).astype(dt("float4_e2m1fn")).reshape(())
    y = _run("QuantizeLinear", {"x": as_f32([7.0, INF, NAN, -INF]), "s": np.float32(1.0), "zp": zp}, saturate=0)
    assert y.astype(np.float32).tolist() == [6.0, 6.0, 6.0, -6.0]


def test_quantize_linear_divides_in_the_precision_type():
    zp = np.uint16(0)
    # In float16, 2049 is a tie between 2048 (even) and 2050: the scale's type (float16) decides.
    y = _run("QuantizeLinear", {"x": as_f32([2049.0]), "s": np.float16(1.0), "zp": zp})
    assert y.tolist() == [2048]
    y = _run("QuantizeLinear", {"x": as_f32([2049.0]), "s": np.float16(1.0), "zp": zp}, precision=TensorProto.FLOAT)
    assert y.tolist() == [2049]


def test_dequantize_linear():
    y = _run("DequantizeLinear", {"x": np.asarray([-8, 7], dt("int4")), "s": np.float32(0.5), "zp": np.asarray(-1, dt("int4"))})
    assert y.dtype == np.float32 and y.tolist() == [-3.5, 4.0]
    y = _run("DequantizeLinear", {"x": _f8([448.0, 2.0**-9]), "s": np.float32(2.0)})
    assert y.tolist() == [896.0, 2.0**-8]
    e8m0_half = np.asarray([0x7E], np.uint8).view(dt("float8_e8m0fnu")).reshape(())
    y = _run("DequantizeLinear", {"x": np.asarray([3], np.int8), "s": e8m0_half}, output_dtype=TensorProto.FLOAT)
    assert y.tolist() == [1.5]
    # The output type is the multiplication's precision: the float32 scale becomes float16 1.0.
    y = _run("DequantizeLinear", {"x": np.asarray([2049], np.int16), "s": np.float32(1.0001)}, output_dtype=TensorProto.FLOAT16)
    assert y.dtype == np.float16 and y.tolist() == [2048.0]
