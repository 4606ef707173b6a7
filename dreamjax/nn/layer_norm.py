"""Layer normalisation over the last axis (ConvNeXt, transformers) with a hand-written VJP.

``y = (x - mean(x)) / sqrt(var(x) + eps) * scale + bias``, statistics over the last axis.

Autodiff of the mean and variance chain gives a backward pass of many reductions, and XLA:CPU
recomputes cheap producers (in ConvNeXt the 7x7 depthwise convolution before each LayerNorm,
49 taps) inside every fusion that reads them. Written out, the backward is one expression,
``dx = inv * (g' - mean(g') - xhat * mean(g' * xhat))`` with ``g' = g * scale``, and the channel
means are products with a ones vector, which XLA hands to its matrix library instead of fusing.
Measured on three ConvNeXt blocks at 56x56x96 (forward + input gradient): 44 ms plain, 43 ms
with this VJP and ``jnp.mean``, 39 ms with this VJP and the ones-vector means; ConvNeXt-Tiny
to ``features.5`` at 224x224: 147 -> 135 ms.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def channel_mean(v: jax.Array) -> jax.Array:
    """Mean over the last axis, kept as an axis of size 1, as a product with a ones vector."""
    c = v.shape[-1]
    return lax.dot_general(v, jnp.full((c, 1), 1.0 / c, v.dtype), (((v.ndim - 1,), (0,)), ((), ())))


def layer_norm(x: jax.Array, scale: jax.Array, bias: jax.Array | None, eps: float) -> jax.Array:
    """LayerNorm of ``x`` over its last axis; ``scale`` and ``bias`` broadcast against ``x``
    (``bias`` None: no bias). The gradient flows to all three."""
    if bias is None:
        bias = jnp.zeros((), x.dtype)

    def statistics(x):
        mean = channel_mean(x)
        centred = x - mean
        return mean, lax.rsqrt(channel_mean(centred * centred) + jnp.asarray(eps, x.dtype))

    def forward(x, scale, bias):
        mean, inv = statistics(x)
        return (x - mean) * inv * scale + bias, (x, mean, inv, scale, bias)

    @jax.custom_vjp
    def op(x, scale, bias):
        return forward(x, scale, bias)[0]

    def backward(res, g):
        x, mean, inv, scale, bias = res
        xhat = (x - mean) * inv
        gs = g * scale
        dx = inv * (gs - channel_mean(gs) - xhat * channel_mean(gs * xhat))
        return dx, _unbroadcast(g * xhat, scale), _unbroadcast(g, bias)

    op.defvjp(forward, backward)
    return op(x, scale, bias)


def _unbroadcast(v: jax.Array, like: jax.Array) -> jax.Array:
    """``v`` summed down to the shape ``like`` was broadcast from (its cotangent)."""
    lead = v.ndim - jnp.ndim(like)
    v = jnp.sum(v, axis=tuple(range(lead))) if lead else v
    ones = tuple(i for i, n in enumerate(jnp.shape(like)) if n == 1 and v.shape[i] != 1)
    return (jnp.sum(v, axis=ones, keepdims=True) if ones else v).astype(like.dtype)
