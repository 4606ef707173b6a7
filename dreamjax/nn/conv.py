"""Dense and 1x1 convolutions on NHWC data as slices and matmuls (cheap gradients on XLA:CPU)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from .padding import pad_same


def conv2d(x: jax.Array, kernel: jax.Array, bias: jax.Array, stride: int) -> jax.Array:
    """Dense convolution, NHWC input and HWIO kernel, TF-"SAME" padding, as im2col + matmul.

    Meant for few input channels (a stem): XLA:CPU computes the input gradient of a strided
    ``lax.conv`` as a slow dilated convolution (~12% of a DeepDream step at 224x224), while the
    gradient of k*k slices and one matmul is cheap.
    """
    k = kernel.shape[0]
    xp, out_hw, _ = pad_same(x, k, stride)
    windows = [window(xp, i, j, stride, out_hw) for i in range(k) for j in range(k)]
    patches = jnp.concatenate(windows, axis=-1)  # [B, oh, ow, k*k*C_in], tap-major like HWIO
    return jnp.dot(patches, kernel.reshape(-1, kernel.shape[-1])) + bias


def pointwise(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    """1x1 convolution as a matmul over channels; ``kernel`` is ``[C_in, C_out]``."""
    return jnp.dot(x, kernel) + bias


def window(xp: jax.Array, i: int, j: int, stride: int, out_hw: tuple[int, int]) -> jax.Array:
    """The inputs that tap (i, j) of a strided kernel sees, one per output pixel."""
    end = (xp.shape[0], i + (out_hw[0] - 1) * stride + 1, j + (out_hw[1] - 1) * stride + 1, xp.shape[3])
    return lax.slice(xp, (0, i, j, 0), end, (1, stride, stride, 1))
