"""Activations and the softmax family."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ..registry import OpTable
from ._util import axis

T = OpTable()


@T.op("Relu", 6, 13, 14, channels_last="elementwise")
def relu(n, x):
    return jnp.maximum(x, jnp.zeros((), x.dtype))


@T.op("LeakyRelu", 6, 16, channels_last="elementwise")
def leaky_relu(n, x):
    return jnp.where(x >= 0, x, x * jnp.asarray(n.attr("alpha", 0.01), x.dtype))


# PRelu-7 allows only unidirectional broadcasting of the slope, a subset of what 9/16 accept.
@T.op("PRelu", 7, 9, 16, channels_last="elementwise")
def prelu(n, x, slope):
    return jnp.where(x >= 0, x, x * slope.astype(x.dtype))


@T.op("Elu", 6, 22, channels_last="elementwise")
def elu(n, x):
    alpha = jnp.asarray(n.attr("alpha", 1.0), x.dtype)
    return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0)))


@T.op("Celu", 12, 28, channels_last="elementwise")
def celu(n, x):
    alpha = jnp.asarray(n.attr("alpha", 1.0), x.dtype)
    return jnp.maximum(x, 0) + jnp.minimum(0, alpha * jnp.expm1(jnp.minimum(x, 0) / alpha))


@T.op("Selu", 6, 22, channels_last="elementwise")
def selu(n, x):
    alpha = jnp.asarray(n.attr("alpha", 1.67326319217681884765625), x.dtype)
    gamma = jnp.asarray(n.attr("gamma", 1.05070102214813232421875), x.dtype)
    return gamma * jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0)))


@T.op("Sigmoid", 6, 13, channels_last="elementwise")
def sigmoid(n, x):
    return jax.nn.sigmoid(x)


@T.op("HardSigmoid", 6, 22, channels_last="elementwise")
def hard_sigmoid(n, x):
    alpha, beta = n.attr("alpha", 0.2), n.attr("beta", 0.5)
    return jnp.clip(x * jnp.asarray(alpha, x.dtype) + jnp.asarray(beta, x.dtype), 0, 1).astype(x.dtype)


@T.op("HardSwish", 14, 22, channels_last="elementwise")
def hard_swish(n, x):
    return x * jnp.clip(x / 6 + 0.5, 0, 1).astype(x.dtype)


@T.op("Tanh", 6, 13, channels_last="elementwise")
def tanh(n, x):
    return jnp.tanh(x)


@T.op("Softplus", 1, 22, channels_last="elementwise")
def softplus(n, x):
    return jax.nn.softplus(x)


@T.op("Softsign", 1, 22, channels_last="elementwise")
def softsign(n, x):
    return x / (1 + jnp.abs(x))


@T.op("Gelu", 20, channels_last="elementwise")
def gelu(n, x):
    return jax.nn.gelu(x, approximate=n.attr("approximate", "none") == "tanh")


@T.op("Mish", 18, 22, channels_last="elementwise")
def mish(n, x):
    return x * jnp.tanh(jax.nn.softplus(x))


@T.op("ThresholdedRelu", 10, 22, channels_last="elementwise")
def thresholded_relu(n, x):
    return jnp.where(x > n.attr("alpha", 1.0), x, jnp.zeros((), x.dtype))


@T.op("Shrink", 9)
def shrink(n, x):
    lambd, bias = n.attr("lambd", 0.5), n.attr("bias", 0.0)
    zero = jnp.zeros((), x.dtype)
    return jnp.where(x < -lambd, x + jnp.asarray(bias, x.dtype), jnp.where(x > lambd, x - jnp.asarray(bias, x.dtype), zero))


@T.op("Swish", 24)
def swish(n, x):
    return x * jax.nn.sigmoid(jnp.asarray(n.attr("alpha", 1.0), x.dtype) * x)


# Softmax, LogSoftmax, Hardmax before opset 13 flatten the input to 2-D at `axis` (default 1)
# and normalise over the whole trailing block; from 13 on they act on one axis (default -1).
def _coerced(f, x, ax: int):
    shape = x.shape
    ax = axis(ax, x.ndim)
    flat = x.reshape((math.prod(shape[:ax]), -1))
    return f(flat, 1).reshape(shape)


def _hardmax(x, ax):
    idx = jnp.argmax(x, axis=ax)
    return jax.nn.one_hot(idx, x.shape[ax], axis=ax, dtype=x.dtype)


def _along_axis(name: str, f) -> None:
    """Register a softmax-like ``f(x, axis)`` at versions 1/11 (flattened, above) and 13 (one axis)."""
    T.op(name, 1, 11)(lambda n, x: _coerced(f, x, n.attr("axis", 1)))
    T.op(name, 13)(lambda n, x: f(x, axis(n.attr("axis", -1), x.ndim)))


_along_axis("Softmax", lambda v, a: jax.nn.softmax(v, axis=a))
_along_axis("LogSoftmax", lambda v, a: jax.nn.log_softmax(v, axis=a))
_along_axis("Hardmax", _hardmax)
