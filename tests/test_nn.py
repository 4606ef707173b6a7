"""The shared kernels (dreamjax.nn) agree with XLA's grouped convolution, in value and gradient."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

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
