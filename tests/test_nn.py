"""The shared kernels (dreamjax.nn) agree with XLA's grouped convolution, in value and gradient."""

from __future__ import annotations

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
