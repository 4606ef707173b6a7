"""Depthwise convolutions on NHWC data, with TensorFlow "SAME" padding.

Depthwise convolution comes in three implementations (``DEPTHWISE_IMPLS``):

* ``"conv"``: ``lax.conv_general_dilated(feature_group_count=C)``. Best on GPU; on XLA:CPU it
  (and above all its input gradient) runs many times slower than PyTorch.
* ``"taps"``: a sum of k*k shifted (strided) slices times per-channel weights. Fast forward on
  CPU, but its autodiff gradient scatters k*k padded copies of the cotangent.
* ``"taps_vjp"`` (CPU default): the same forward with a hand-written VJP; the input gradient
  is itself a taps sum over the stride-dilated cotangent with the flipped kernel.

All three agree to float32 rounding, in value and in gradient (tests/test_nn.py).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from .activations import relu6
from .conv import pointwise, window
from .padding import pad_same

DEPTHWISE_IMPLS = ("taps", "taps_vjp", "conv")


def default_depthwise() -> str:
    """The faster depthwise implementation for the default JAX backend."""
    return "taps_vjp" if jax.default_backend() == "cpu" else "conv"


def depthwise(x: jax.Array, kernel: jax.Array, bias: jax.Array, stride: int, impl: str) -> jax.Array:
    """Depthwise convolution with TF-"SAME" padding; ``kernel`` is ``[k, k, C]``."""
    if impl == "conv":
        y = lax.conv_general_dilated(
            x,
            kernel[:, :, None, :],
            (stride, stride),
            "SAME",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=x.shape[-1],
        )
    elif impl == "taps":
        y = _depthwise_taps(x, kernel, stride)
    elif impl == "taps_vjp":
        y = _depthwise_taps_vjp(x, kernel, stride)
    else:
        raise ValueError(f"unknown depthwise implementation {impl!r}; choose from {DEPTHWISE_IMPLS}")
    return y + bias


def _taps(xp: jax.Array, kernel: jax.Array, stride: int, out_hw: tuple[int, int]) -> jax.Array:
    """Sum over taps of a (strided) shifted window of padded ``xp`` times its channel weights."""
    k = kernel.shape[0]
    acc = None
    for i in range(k):
        for j in range(k):
            term = window(xp, i, j, stride, out_hw) * kernel[i, j]
            acc = term if acc is None else acc + term
    return acc


def _depthwise_taps(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    xp, out_hw, _ = pad_same(x, kernel.shape[0], stride)
    return _taps(xp, kernel, stride, out_hw)


# The same forward, with a hand-written backward: autodiff of the taps builds k*k pads of the
# cotangent (one per strided slice) and sums them. The input gradient of a depthwise
# convolution is itself a depthwise convolution of the (stride-dilated) cotangent with the
# flipped kernel, which we run as taps too; the kernel gradient is k*k channel-wise products.
@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _depthwise_taps_vjp(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    return _depthwise_taps(x, kernel, stride)


def _dw_fwd(x, kernel, stride):
    return _depthwise_taps(x, kernel, stride), (x, kernel)


def _dw_bwd(stride, res, g):
    x, kernel = res
    xp, out_hw, ((pt, _), (pl, _)) = pad_same(x, kernel.shape[0], stride)
    return _taps_grads(xp, kernel, stride, out_hw, g, x.shape[1:3], (pt, pl))


def _taps_grads(xp, kernel, stride, out_hw, g, grid, before):
    """Input and kernel gradients of ``_taps(xp, kernel, stride, out_hw)`` for the cotangent ``g``.

    The input gradient is a "full" correlation of the cotangent, dilated by the stride, with the
    flipped kernel. The dilated cotangent is padded so that the taps land exactly on ``grid``
    (``(h, w)``, which starts ``before`` = ``(rows, cols)`` into ``xp``): low k-1-before, high
    whatever completes the grid. The kernel gradient is k*k channel-wise products.
    """
    k = kernel.shape[0]
    (h, w), (pt, pl) = grid, before
    span_h, span_w = (out_hw[0] - 1) * stride + 1, (out_hw[1] - 1) * stride + 1
    gd = lax.pad(
        g,
        jnp.zeros((), g.dtype),
        (
            (0, 0, 0),
            (k - 1 - pt, h + pt - span_h, stride - 1),
            (k - 1 - pl, w + pl - span_w, stride - 1),
            (0, 0, 0),
        ),
    )
    dx = _taps(gd, kernel[::-1, ::-1], 1, (h, w))
    dk = jnp.stack(
        [jnp.stack([jnp.sum(window(xp, i, j, stride, out_hw) * g, axis=(0, 1, 2)) for j in range(k)]) for i in range(k)]
    )
    return dx, dk.astype(kernel.dtype)


_depthwise_taps_vjp.defvjp(_dw_fwd, _dw_bwd)


# --- expand (1x1) + depthwise without a padded copy of the wide tensor (CPU) ---------------
#
# The depthwise taps need their input zero-padded. Padding the expanded (6x wider) activation
# costs XLA:CPU a full write and read of it, because a pad read by k*k slices is never fused
# into the taps. Padding the narrow block input instead and running the 1x1 conv on the padded
# grid gives the padded wide tensor straight from the matmul; its border (bias only) is masked
# to zero inside the taps fusion. Measured: 13-20% less CPU time per dream step at 512x512.


def expand_depthwise(x: jax.Array, expand_kernel: jax.Array, expand_bias: jax.Array, dw_kernel: jax.Array,
                     dw_bias: jax.Array, stride: int) -> jax.Array:
    """``depthwise(relu6(pointwise(x)))`` (depthwise bias added, no activation after it)."""
    k = dw_kernel.shape[0]
    h, w = x.shape[1], x.shape[2]
    xp, out_hw, (ph, pw) = pad_same(x, k, stride)
    inside = _interior(h, w, ph, pw)
    yp = relu6(jnp.where(inside, pointwise(xp, expand_kernel, expand_bias), 0.0))  # relu6(0) = 0 on the border
    return valid_taps(yp, dw_kernel, stride, out_hw) + dw_bias


def _interior(h: int, w: int, ph: tuple[int, int], pw: tuple[int, int]) -> jax.Array:
    """[1, H+pads, W+pads, 1] booleans: True on the original pixels, False on the padding."""
    shape = (1, h + ph[0] + ph[1], w + pw[0] + pw[1], 1)
    rows = lax.broadcasted_iota(jnp.int32, shape, 1)
    cols = lax.broadcasted_iota(jnp.int32, shape, 2)
    return (rows >= ph[0]) & (rows < ph[0] + h) & (cols >= pw[0]) & (cols < pw[0] + w)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def valid_taps(xp: jax.Array, kernel: jax.Array, stride: int, out_hw: tuple[int, int]) -> jax.Array:
    """Depthwise taps over an already padded input (a "valid" correlation)."""
    return _taps(xp, kernel, stride, out_hw)


def _valid_taps_fwd(xp, kernel, stride, out_hw):
    return _taps(xp, kernel, stride, out_hw), (xp, kernel)


def _valid_taps_bwd(stride, out_hw, res, g):
    xp, kernel = res
    return _taps_grads(xp, kernel, stride, out_hw, g, xp.shape[1:3], (0, 0))  # on the padded grid


valid_taps.defvjp(_valid_taps_fwd, _valid_taps_bwd)
