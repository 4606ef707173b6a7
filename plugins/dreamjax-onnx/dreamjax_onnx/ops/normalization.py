"""Batch, instance, layer, group, RMS and Lp normalisation."""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from dreamjax import nn as shared_kernels

from .. import layout
from ..registry import OpTable
from ._util import axis, np_dtype

T = OpTable()


def _per_channel(v, x):
    """Broadcast a per-channel vector ``[C]`` (or ``[C, ...]`` for BN-7 spatial=0) over NC..."""
    v = jnp.asarray(v).astype(x.dtype)
    if v.ndim == 1:
        return v.reshape((1, -1) + (1,) * (x.ndim - 2))
    return v.reshape((1,) + v.shape)


def _bn_inference(n, x, scale, bias, mean, var):
    eps = n.attr("epsilon", 1e-5)
    inv = lax.rsqrt(_per_channel(var, x) + jnp.asarray(eps, x.dtype))
    return (x - _per_channel(mean, x)) * inv * _per_channel(scale, x) + _per_channel(bias, x)


def _bn_channels_last(n, x, scale, bias, mean, var):
    """Inference-mode BatchNormalization of channels-last values: [C] vectors broadcast as is."""
    vectors = (scale, bias, mean, var)
    if not layout.is_channels_last(x) or n.attr("training_mode", 0) or n.wants(1):
        return None
    if any(isinstance(v, layout.Relaid) or jnp.ndim(v) != 1 for v in vectors):
        return None
    y = x.array
    scale, bias, mean, var = (jnp.asarray(v).astype(y.dtype) for v in vectors)
    inv = lax.rsqrt(var + jnp.asarray(n.attr("epsilon", 1e-5), y.dtype))
    return layout.wrap((y - mean) * inv * scale + bias)


@T.op("BatchNormalization", 7, 9, channels_last=_bn_channels_last)
def batch_norm_7(n, x, scale, bias, mean, var):
    return _bn_inference(n, x, scale, bias, mean, var)


@T.op("BatchNormalization", 14, 15, channels_last=_bn_channels_last)
def batch_norm_14(n, x, scale, bias, mean, var):
    if not n.attr("training_mode", 0):
        return _bn_inference(n, x, scale, bias, mean, var)
    # Training mode: normalise with batch statistics and return updated running stats.
    eps, momentum = n.attr("epsilon", 1e-5), n.attr("momentum", 0.9)
    red = (0,) + tuple(range(2, x.ndim))
    bmean = jnp.mean(x, axis=red)
    bvar = jnp.var(x, axis=red)
    y = (x - _per_channel(bmean, x)) * lax.rsqrt(_per_channel(bvar, x) + jnp.asarray(eps, x.dtype))
    y = y * _per_channel(scale, x) + _per_channel(bias, x)
    run_mean = (mean * momentum + bmean.astype(mean.dtype) * (1 - momentum)).astype(mean.dtype)
    run_var = (var * momentum + bvar.astype(var.dtype) * (1 - momentum)).astype(var.dtype)
    return y, run_mean, run_var


@T.op("InstanceNormalization", 6, 22)
def instance_norm(n, x, scale, bias):
    eps = n.attr("epsilon", 1e-5)
    red = tuple(range(2, x.ndim))
    mean = jnp.mean(x, axis=red, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=red, keepdims=True)
    return (x - mean) * lax.rsqrt(var + jnp.asarray(eps, x.dtype)) * _per_channel(scale, x) + _per_channel(bias, x)


def _stash(n, x):
    """LayerNorm-style ops compute in ``stash_type`` (float32 by default)."""
    t = np_dtype(n.attr("stash_type", 1))
    return x.astype(jnp.promote_types(t, jnp.float32) if x.dtype != jnp.float64 else x.dtype)


@T.op("LayerNormalization", 17)
def layer_norm(n, x, scale, bias=None):
    ax = axis(n.attr("axis", -1), x.ndim)
    eps = n.attr("epsilon", 1e-5)
    red = tuple(range(ax, x.ndim))
    xs = _stash(n, x)
    if n.cpu_kernels and ax == x.ndim - 1 and xs.dtype == x.dtype and not (n.wants(1) or n.wants(2)):
        # Over the last axis (ConvNeXt, transformers), the shared kernel with its own VJP;
        # the statistics outputs are not asked for.
        return (shared_kernels.layer_norm(x, scale.astype(x.dtype), None if bias is None else bias.astype(x.dtype), eps),)
    mean = jnp.mean(xs, axis=red, keepdims=True)
    var = jnp.mean(jnp.square(xs - mean), axis=red, keepdims=True)
    inv = lax.rsqrt(var + eps)
    y = ((xs - mean) * inv).astype(x.dtype) * scale.astype(x.dtype)
    if bias is not None:
        y = y + bias.astype(x.dtype)
    return y, mean.astype(xs.dtype), inv.astype(xs.dtype)


def _group_norm(n, x, scale, bias, per_channel: bool):
    g = n.attr("num_groups")
    eps = n.attr("epsilon", 1e-5)
    N, C = x.shape[:2]
    xs = _stash(n, x) if per_channel else x
    xg = xs.reshape((N, g, -1))
    mean = jnp.mean(xg, axis=2, keepdims=True)
    var = jnp.mean(jnp.square(xg - mean), axis=2, keepdims=True)
    y = ((xg - mean) * lax.rsqrt(var + eps)).reshape(x.shape).astype(x.dtype)
    if not per_channel:  # GroupNormalization-18: scale and bias per group
        scale = jnp.repeat(scale, C // g)
        bias = jnp.repeat(bias, C // g)
    return y * _per_channel(scale, x) + _per_channel(bias, x)


@T.op("GroupNormalization", 18)
def group_norm_18(n, x, scale, bias):
    return _group_norm(n, x, scale, bias, per_channel=False)


@T.op("GroupNormalization", 21)
def group_norm_21(n, x, scale, bias):
    return _group_norm(n, x, scale, bias, per_channel=True)


@T.op("RMSNormalization", 23)
def rms_norm(n, x, scale):
    ax = axis(n.attr("axis", -1), x.ndim)
    eps = n.attr("epsilon", 1e-5)
    xs = _stash(n, x)
    ms = jnp.mean(jnp.square(xs), axis=tuple(range(ax, x.ndim)), keepdims=True)
    return (xs * lax.rsqrt(ms + eps)).astype(x.dtype) * scale.astype(x.dtype)


@T.op("LpNormalization", 1, 22)
def lp_norm(n, x):
    ax = n.attr("axis", -1)
    p = n.attr("p", 2)
    norm = jnp.sum(jnp.abs(x), axis=ax, keepdims=True) if p == 1 else jnp.sqrt(jnp.sum(x * x, axis=ax, keepdims=True))
    return x / norm


@T.op("MeanVarianceNormalization", 9, 13)
def mean_variance_norm(n, x):
    red = tuple(axis(a, x.ndim) for a in n.attr("axes", [0, 2, 3]))
    mean = jnp.mean(x, axis=red, keepdims=True)
    var = jnp.mean(jnp.square(x), axis=red, keepdims=True) - jnp.square(mean)
    return (x - mean) / (jnp.sqrt(var) + jnp.asarray(1e-9, x.dtype))
