"""Layer normalisation over the last axis (ConvNeXt, transformers) with a hand-written VJP.

``y = (x - mean(x)) / sqrt(var(x) + eps) * scale + bias``, statistics over the last axis.

Two things make the plain form slow in a dream step on XLA:CPU:

- XLA duplicates a cheap producer into every consumer it can fuse with. A LayerNorm reads its
  input three times (mean, variance, normalise) and its gradient twice more, so the op before it
  (in ConvNeXt a 7x7 depthwise convolution, 49 taps) ran five or six times per step instead of
  twice. Here the channel means are matrix-vector products with a ones vector, which XLA does
  not fuse into: the input is computed once and stored (measured on a ConvNeXt block at
  56x56x96: forward + gradient 44 -> 39 ms).
- Autodiff of the mean and variance chain emits more reductions than the closed form:
  ``dx = inv * (g' - mean(g') - xhat * mean(g' * xhat))`` with ``g' = g * scale``.
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
