"""The shared kernels (dreamjax.nn) agree with XLA's grouped convolution, in value and gradient."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from dreamjax import nn

# (height, width, kernel, stride): odd and even sizes give uneven TF-"SAME" pads; tiny inputs
# have outputs that see mostly padding.
SHAPES = [(7, 7, 3, 1), (8, 9, 3, 2), (9, 8, 5, 2), (6, 7, 5, 1), (2, 3, 5, 2), (1, 1, 3, 2)]


@pytest.mark.parametrize("h, w, k, stride", SHAPES)
def test_depthwise_matches_grouped_conv(h, w, k, stride):
    rng = np.random.default_rng(h * 100 + w * 10 + k)
    x = jnp.asarray(rng.standard_normal((2, h, w, 4)), jnp.float32)
    kernel = jnp.asarray(rng.standard_normal((k, k, 4)), jnp.float32)
    bias = jnp.asarray(rng.standard_normal(4), jnp.float32)

    @jax.jit
    def value_and_grads(x, kernel):
        out = {}
        for impl in nn.DEPTHWISE_IMPLS:
            # A non-linear loss so that the cotangent differs from pixel to pixel.
            def loss(x, kernel, impl=impl):
                return jnp.sum(jnp.sin(nn.depthwise(x, kernel, bias, stride, impl)))

            out[impl] = (nn.depthwise(x, kernel, bias, stride, impl), *jax.grad(loss, argnums=(0, 1))(x, kernel))
        return out

    results = value_and_grads(x, kernel)
    want_y, want_dx, want_dk = results["conv"]
    assert want_y.shape == (2, -(-h // stride), -(-w // stride), 4)
    for impl in ("taps", "taps_vjp"):
        y, dx, dk = results[impl]
        np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-5, err_msg=impl)
        np.testing.assert_allclose(dx, want_dx, rtol=1e-5, atol=1e-5, err_msg=impl)
        np.testing.assert_allclose(dk, want_dk, rtol=1e-5, atol=5e-5, err_msg=impl)


@pytest.mark.parametrize("size, k, stride, pads", [(224, 3, 2, (0, 1)), (224, 5, 2, (1, 2)), (7, 3, 2, (1, 1)), (14, 5, 1, (2, 2)), (1, 3, 2, (1, 1))])
def test_tf_same_pads(size, k, stride, pads):
    # TensorFlow "SAME": the odd pixel of padding goes after the image, not before.
    assert nn.tf_same_pads(size, k, stride) == pads


def test_unknown_depthwise_impl():
    with pytest.raises(ValueError, match="unknown depthwise implementation"):
        nn.depthwise(jnp.zeros((1, 4, 4, 2)), jnp.zeros((3, 3, 2)), jnp.zeros(2), 1, "fft")


@pytest.mark.parametrize("h, w, stride", [(9, 8, 2), (6, 7, 1)])
def test_dense_conv_matches_lax_conv(h, w, stride):
    rng = np.random.default_rng(h + w)
    x = jnp.asarray(rng.standard_normal((2, h, w, 3)), jnp.float32)
    kernel = jnp.asarray(rng.standard_normal((3, 3, 3, 5)), jnp.float32)
    bias = jnp.asarray(rng.standard_normal(5), jnp.float32)

    def reference(x):
        return jax.lax.conv_general_dilated(x, kernel, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")) + bias

    @jax.jit
    def both(x):
        return [(f(x), jax.grad(lambda x: jnp.sum(jnp.sin(f(x))))(x)) for f in (reference, lambda x: nn.conv2d(x, kernel, bias, stride))]

    (want, want_dx), (got, got_dx) = both(x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_dx, want_dx, rtol=1e-5, atol=1e-5)


def test_relu6_derivative_is_a_mask_of_the_open_interval():
    x = jnp.asarray([-1.0, 0.0, 0.5, 6.0, 7.0])
    np.testing.assert_array_equal(nn.relu6(x), [0.0, 0.0, 0.5, 6.0, 6.0])
    np.testing.assert_array_equal(jax.grad(lambda x: jnp.sum(nn.relu6(x) * 3.0))(x), [0.0, 0.0, 3.0, 0.0, 0.0])


@pytest.mark.parametrize("h, w, k, stride", [(7, 7, 3, 1), (9, 8, 5, 2), (2, 3, 5, 2)])
def test_valid_taps_vjp_matches_autodiff_and_finite_differences(h, w, k, stride):
    # valid_taps carries its own VJP; the plain form is the same taps sum, left to autodiff.
    rng = np.random.default_rng(h * 7 + w + k)
    xp, out_hw, _ = nn.pad_same(jnp.asarray(rng.standard_normal((2, h, w, 3)), jnp.float32), k, stride)
    kernel = jnp.asarray(rng.standard_normal((k, k, 3)), jnp.float32)

    def plain(xp, kernel):
        return sum(nn.window(xp, i, j, stride, out_hw) * kernel[i, j] for i in range(k) for j in range(k))

    def loss(f):
        return lambda xp, kernel: jnp.sum(jnp.sin(f(xp, kernel)))

    got = jax.jit(jax.grad(loss(lambda a, b: nn.valid_taps(a, b, stride, out_hw)), argnums=(0, 1)))(xp, kernel)
    want = jax.jit(jax.grad(loss(plain), argnums=(0, 1)))(xp, kernel)
    for g, w_ in zip(got, want):
        np.testing.assert_allclose(g, w_, rtol=1e-5, atol=1e-5)
    check_grads(jax.jit(lambda a, b: nn.valid_taps(a, b, stride, out_hw)), (xp, kernel), order=1, modes=["rev"],
                atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("h, w, k, stride", [(8, 9, 3, 2), (7, 6, 5, 1)])
def test_expand_depthwise_matches_its_plain_form(h, w, k, stride):
    rng = np.random.default_rng(h + w * 3 + k)
    x = jnp.asarray(rng.standard_normal((2, h, w, 3)), jnp.float32)
    ek, eb = jnp.asarray(rng.standard_normal((3, 8)), jnp.float32), jnp.asarray(rng.standard_normal(8), jnp.float32)
    dk, db = jnp.asarray(rng.standard_normal((k, k, 8)), jnp.float32), jnp.asarray(rng.standard_normal(8), jnp.float32)

    def plain(x, ek, dk):
        return nn.depthwise(nn.relu6(nn.pointwise(x, ek, eb)), dk, db, stride, "conv")

    def fused(x, ek, dk):
        return nn.expand_depthwise(x, ek, eb, dk, db, stride)

    np.testing.assert_allclose(jax.jit(fused)(x, ek, dk), jax.jit(plain)(x, ek, dk), rtol=1e-5, atol=1e-5)
    got, want = (jax.jit(jax.grad(lambda *a, f=f: jnp.sum(jnp.sin(f(*a))), argnums=(0, 1, 2)))(x, ek, dk) for f in (fused, plain))
    for g, w_ in zip(got, want):
        np.testing.assert_allclose(g, w_, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("h, w, k, stride", [(8, 9, 3, 2), (6, 7, 5, 1)])
def test_depthwise_taps_vjp_against_finite_differences(h, w, k, stride):
    rng = np.random.default_rng(h + w + k + stride)
    x = jnp.asarray(rng.standard_normal((1, h, w, 2)), jnp.float32)
    kernel = jnp.asarray(rng.standard_normal((k, k, 2)), jnp.float32)
    bias = jnp.zeros(2, jnp.float32)
    check_grads(jax.jit(lambda a, b: nn.depthwise(a, b, bias, stride, "taps_vjp")), (x, kernel), order=1,
                modes=["rev"], atol=2e-2, rtol=2e-2)


# Pools: (kernel, strides, dilations, pads) over 2 spatial axes; pads include ceil-mode style
# uneven ends, dilations and strides larger than the kernel.
POOLS = [((3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))), ((3, 3), (2, 2), (1, 1), ((1, 1), (1, 1))),
         ((2, 3), (2, 1), (1, 1), ((0, 1), (1, 0))), ((2, 2), (1, 2), (2, 2), ((0, 0), (0, 0))),
         ((2, 3), (2, 2), (2, 1), ((1, 1), (0, 1))), ((1, 1), (3, 2), (1, 1), ((0, 0), (0, 0)))]


def _plain_pool(x, init, op, kernel, strides, dilations, pads, first_axis):
    window = [1] * x.ndim
    stride, dilation, padding = list(window), list(window), [(0, 0)] * x.ndim
    for i in range(2):
        window[first_axis + i], stride[first_axis + i] = kernel[i], strides[i]
        dilation[first_axis + i], padding[first_axis + i] = dilations[i], pads[i]
    return jax.lax.reduce_window(x, np.array(init, x.dtype), op, window, stride, padding, window_dilation=dilation)


@pytest.mark.parametrize("first_axis", [1, 2])
@pytest.mark.parametrize("kernel, strides, dilations, pads", POOLS)
def test_pools_match_reduce_window_in_value_and_gradient(kernel, strides, dilations, pads, first_axis):
    rng = np.random.default_rng(sum(kernel) + 10 * sum(strides) + first_axis)
    # Integer values: many ties, where the max pool's gradient must go to the first maximum,
    # as reduce_window's select-and-scatter (and onnxruntime / PyTorch) route it.
    x = jnp.asarray(rng.integers(-3, 4, (2, 9, 11, 3)), jnp.float32)
    x = x if first_axis == 1 else jnp.moveaxis(x, 3, 1)
    args = (kernel, strides, dilations, pads, first_axis)
    for fast, init, op in ((nn.max_pool, -np.inf, jax.lax.max), (nn.sum_pool, 0.0, jax.lax.add)):
        def plain(x, init=init, op=op):
            if dilations != (1, 1) and op is jax.lax.max:  # JAX has no VJP for dilated max windows
                xp = jnp.pad(x, [(0, 0)] * first_axis + list(pads) + [(0, 0)] * (x.ndim - first_axis - 2), constant_values=-np.inf)
                return functools.reduce(jnp.maximum, (s for _, s in nn.window_slices(xp, kernel, strides, dilations, first_axis)))
            return _plain_pool(x, init, op, *args)

        def loss(f, x):
            return jnp.sum(jnp.sin(f(x) * 0.7 + 0.1))

        np.testing.assert_array_equal(fast(x, *args), plain(x))
        if dilations != (1, 1) and op is jax.lax.max:
            x = x + jnp.asarray(rng.standard_normal(x.shape) * 1e-3, x.dtype)  # the fold's autodiff splits ties
        np.testing.assert_allclose(jax.grad(lambda x: loss(lambda v: fast(v, *args), x))(x), jax.grad(lambda x: loss(plain, x))(x),
                                   rtol=1e-6, atol=1e-6, err_msg=fast.__name__)


@pytest.mark.parametrize("kernel, strides, dilations, pads", POOLS[:3])
def test_pool_gradients_match_finite_differences(kernel, strides, dilations, pads):
    with jax.enable_x64(True):
        x = jnp.asarray(np.random.default_rng(1).standard_normal((1, 7, 8, 2)))
        for pool in (nn.max_pool, nn.sum_pool):
            check_grads(lambda x, pool=pool: pool(x, kernel, strides, dilations, pads, 1), (x,), order=1, modes=["rev"], eps=1e-6)


# Dense convolutions: (kernel, strides, dilations, pads, groups), with pads wider than the kernel
# reaches and strides that leave input rows unread.
CONVS = [((3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), 1), ((3, 3), (2, 2), (1, 1), ((1, 1), (1, 1)), 1),
         ((7, 7), (2, 2), (1, 1), ((3, 3), (3, 3)), 1), ((2, 3), (3, 2), (2, 1), ((1, 2), (0, 3)), 1),
         ((1, 1), (2, 2), (1, 1), ((0, 0), (0, 0)), 1), ((3, 3), (2, 1), (1, 2), ((2, 2), (1, 1)), 2),
         ((1, 3), (1, 1), (1, 1), ((0, 0), (4, 4)), 1)]


@pytest.mark.parametrize("kernel, strides, dilations, pads, groups", CONVS)
def test_conv_gradients_match_lax_conv(kernel, strides, dilations, pads, groups):
    rng = np.random.default_rng(sum(kernel) * 7 + sum(strides))
    x = jnp.asarray(rng.standard_normal((2, 11, 10, 4)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((*kernel, 4 // groups, 6)), jnp.float32)

    @jax.jit
    def both(x, w):
        out = []
        for fast in (False, True):
            def loss(x, w, fast=fast):
                return jnp.sum(jnp.sin(nn.conv(x, w, strides, pads, dilations, groups, fast_grad=fast)))

            out.append((nn.conv(x, w, strides, pads, dilations, groups, fast_grad=fast), *jax.grad(loss, argnums=(0, 1))(x, w)))
        return out

    for want, got in zip(*both(x, w)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kernel, strides, dilations, pads, groups", CONVS[1::2])
def test_conv_gradients_match_finite_differences(kernel, strides, dilations, pads, groups):
    with jax.enable_x64(True):
        rng = np.random.default_rng(3)
        x = jnp.asarray(rng.standard_normal((1, 9, 8, 2 * groups)))
        w = jnp.asarray(rng.standard_normal((*kernel, 2, 3 * groups)))
        check_grads(lambda x, w: nn.conv(x, w, strides, pads, dilations, groups), (x, w), order=1, modes=["rev"], eps=1e-6)


def test_conv_input_gradient_stays_on_the_convolution_library_inside_a_loop():
    # With the kernel a loop-carried runtime value, autodiff's swapped-feature kernel made
    # XLA:CPU emit naive loops (marked by its own thread partitioning of the convolution).
    x = jnp.ones((1, 12, 12, 8))
    w = jnp.ones((3, 3, 8, 8)) * 0.01

    def dream(x, w, fast):
        def step(_, x):
            return x + jax.grad(lambda x: jnp.sum(nn.conv(x, w, (1, 1), ((1, 1), (1, 1)), fast_grad=fast) ** 2))(x)
        return jax.lax.fori_loop(0, 2, step, x)

    def naive_convolutions(fast):
        text = jax.jit(dream, static_argnums=2).lower(x, w, fast).compile().as_text()
        return [line for line in text.splitlines() if "convolution(" in line and "outer_dimension_partitions" in line]

    assert naive_convolutions(True) == []
    assert naive_convolutions(False), "XLA now handles autodiff's form: the hand-written gradient may be unneeded"


@pytest.mark.parametrize("size, axis", [(5, 3), (4, 1), (1, 3)])
def test_lrn_gradient_matches_autodiff_of_the_formula(size, axis):
    x = jnp.asarray(np.random.default_rng(size).standard_normal((2, 5, 4, 7)), jnp.float32)
    alpha, beta, bias = 0.02, 0.75, 1.5

    def formula(x):
        window = [1] * 4
        window[axis] = size
        pads = [(0, 0)] * 4
        pads[axis] = ((size - 1) // 2, size - 1 - (size - 1) // 2)
        sq = jax.lax.reduce_window(x * x, np.array(0.0, x.dtype), jax.lax.add, window, (1,) * 4, pads)
        return x / (bias + alpha / size * sq) ** beta

    def loss(f):
        return lambda x: jnp.sum(jnp.sin(f(x) * 1.3))

    fast = functools.partial(nn.lrn, size=size, alpha=alpha, beta=beta, bias=bias, axis=axis)
    np.testing.assert_allclose(fast(x), formula(x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(jax.grad(loss(fast))(x), jax.grad(loss(formula))(x), rtol=1e-5, atol=1e-5)
    with jax.enable_x64(True):
        check_grads(fast, (x.astype(jnp.float64),), order=1, modes=["rev"], eps=1e-6)


@pytest.mark.parametrize("shape, param_shape, with_bias", [((2, 5, 4, 7), (7,), True), ((3, 6), (6,), False),
                                                          ((2, 3, 5), (1, 3, 5), True)])
def test_layer_norm_vjp_matches_autodiff_of_the_formula(shape, param_shape, with_bias):
    rng = np.random.default_rng(len(shape))
    x = jnp.asarray(rng.standard_normal(shape) * 3 + 1, jnp.float32)
    scale = jnp.asarray(rng.standard_normal(param_shape), jnp.float32)
    bias = jnp.asarray(rng.standard_normal(param_shape), jnp.float32) if with_bias else None
    eps = 1e-5

    def formula(x, scale, bias):
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
        y = (x - mean) / jnp.sqrt(var + eps) * scale
        return y if bias is None else y + bias

    def loss(f):
        return lambda *args: jnp.sum(jnp.sin(f(*args) * 1.3))

    args = (x, scale, bias)
    argnums = (0, 1, 2) if with_bias else (0, 1)
    np.testing.assert_allclose(nn.layer_norm(x, scale, bias, eps), formula(*args), rtol=1e-5, atol=1e-5)
    got = jax.grad(loss(lambda x, s, b: nn.layer_norm(x, s, b, eps)), argnums=argnums)(*args)
    want = jax.grad(loss(formula), argnums=argnums)(*args)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    with jax.enable_x64(True):
        wide = tuple(a.astype(jnp.float64) for a in args if a is not None)
        check_grads(lambda *a: nn.layer_norm(a[0], a[1], a[2] if with_bias else None, eps), wide, order=1,
                    modes=["rev"], eps=1e-6)
