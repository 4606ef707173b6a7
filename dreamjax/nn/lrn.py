"""Local response normalisation (AlexNet, the Caffe GoogLeNet) with a hand-written VJP.

``y = x / (bias + alpha / size * S(x^2))^beta``, where ``S`` sums a window of ``size``
channels. Autodiff differentiates the power twice over (a log and an exp per element, each
way) and ran 3-4x the forward on a GoogLeNet LRN; written out, the backward reuses the
forward's ``d^-beta`` and needs one more window sum:
``dx = g * d^-beta - (2 alpha beta / size) * x * S^T(g * y / d)``.
"""

from __future__ import annotations

import jax

from .pool import sum_pool


def lrn(x: jax.Array, size: int, alpha: float, beta: float, bias: float, axis: int) -> jax.Array:
    """ONNX LRN over ``axis`` (the window has ``(size - 1) // 2`` channels before the centre)."""
    low, high = (size - 1) // 2, size - 1 - (size - 1) // 2

    def window_sum(v, pads):
        return sum_pool(v, (size,), (1,), (1,), (pads,), axis)

    def forward(x):
        d = bias + (alpha / size) * window_sum(x * x, (low, high))
        scale = d ** -beta
        y = x * scale
        return y, (x, y, scale, d)

    @jax.custom_vjp
    def op(x):
        return forward(x)[0]

    def backward(res, g):
        x, y, scale, d = res
        # S^T: a window with the pads swapped (the same window when size is odd).
        return (g * scale - (2 * alpha * beta / size) * x * window_sum(g * y / d, (high, low)),)

    op.defvjp(forward, backward)
    return op(x)
