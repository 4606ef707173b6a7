"""TensorFlow "SAME" padding, as the EfficientNet-Lite checkpoints (and TF exports) expect."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def tf_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding of one axis: output ceil(size/stride), odd extra pixel at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: jax.Array, k: int, stride: int) -> tuple[jax.Array, tuple[int, int], tuple[tuple[int, int], ...]]:
    """Zero-pad H and W of NHWC ``x`` for a k x k, strided "SAME" window: (padded, out_hw, pads)."""
    h, w = x.shape[1], x.shape[2]
    ph, pw = tf_same_pads(h, k, stride), tf_same_pads(w, k, stride)
    xp = jnp.pad(x, ((0, 0), ph, pw, (0, 0)))
    return xp, (-(-h // stride), -(-w // stride)), (ph, pw)
