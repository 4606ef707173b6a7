"""Scaled dot-product Attention (opset 23+), following the ONNX definition step by step."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..registry import OpTable
from ._util import jax_dtype, np_dtype

T = OpTable()


def _bias_where(allowed, dtype):
    return jnp.where(allowed, jnp.zeros((), dtype), jnp.full((), -jnp.inf, dtype))


def _offset_mask(base, offset, allowed_fn):
    q, kv = base.shape[-2:]
    i = jnp.arange(q).reshape(q, 1)
    j = jnp.arange(kv).reshape(1, kv)
    if jnp.ndim(offset) > 0:  # per batch: (batch, 1, q, kv)
        allowed = allowed_fn(i + jnp.reshape(offset, (-1, 1, 1)), j)
        return base + _bias_where(allowed, base.dtype)[:, None]
    return base + _bias_where(allowed_fn(i + int(offset), j), base.dtype)


def attention(n, Q, K, V, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None):
    scale = n.attr("scale")
    causal = bool(n.attr("is_causal", 0))
    qh, kvh = n.attr("q_num_heads"), n.attr("kv_num_heads")
    softcap = n.attr("softcap")
    mode = n.attr("qk_matmul_output_mode", 0)
    precision = n.attr("softmax_precision")
    left, right = n.attr("left_window_size", -1), n.attr("right_window_size", -1)
    rank = Q.ndim
    B = Q.shape[0]
    if rank == 3:
        def heads(x, h):
            return x.reshape(B, x.shape[1], h, x.shape[2] // h).transpose(0, 2, 1, 3)

        Q, K, V = heads(Q, qh), heads(K, kvh), heads(V, kvh)
    if scale is None:
        scale = 1 / np.sqrt(Q.shape[3])
    s = jnp.asarray(np.sqrt(scale), Q.dtype)
    K = K if past_key is None else jnp.concatenate([past_key, K], axis=2)
    V = V if past_value is None else jnp.concatenate([past_value, V], axis=2)
    present_k, present_v = K, V
    q_len, kv_len = Q.shape[2], K.shape[2]
    bias = jnp.zeros((q_len, kv_len), Q.dtype)
    if attn_mask is not None:
        attn_mask = jnp.asarray(attn_mask)
        pad = kv_len - attn_mask.shape[-1]
        if pad > 0:
            fill = False if attn_mask.dtype == jnp.bool_ else -jnp.inf
            attn_mask = jnp.pad(attn_mask, [(0, 0)] * (attn_mask.ndim - 1) + [(0, pad)], constant_values=fill)
        if attn_mask.dtype == jnp.bool_:
            attn_mask = _bias_where(attn_mask, Q.dtype)
    cache_offset = past_key.shape[2] if past_key is not None else 0
    seq_offset = None if nonpad_kv_seqlen is None or past_key is not None else jnp.reshape(nonpad_kv_seqlen, (-1,)) - q_len
    offset = seq_offset if seq_offset is not None else cache_offset
    if causal:
        base = jnp.zeros((q_len, kv_len), Q.dtype) if attn_mask is None else attn_mask.astype(Q.dtype)
        bias = _offset_mask(base, offset, lambda i, j: j <= i)
    elif attn_mask is not None:
        bias = bias + attn_mask.astype(Q.dtype)
    if left >= 0 or right >= 0:
        def window(i, j):
            d = i - j
            ok = jnp.ones(d.shape, bool)
            if left >= 0:
                ok = ok & (d <= left)
            if right >= 0:
                ok = ok & (-d <= right)
            return ok

        bias = _offset_mask(jnp.zeros((q_len, kv_len), Q.dtype) + bias, offset, window)
    if nonpad_kv_seqlen is not None:
        keep = jnp.arange(kv_len) < jnp.reshape(nonpad_kv_seqlen, (-1, 1))
        bias = bias + _bias_where(keep, bias.dtype).reshape(B, 1, 1, kv_len)
    nq, nk = Q.shape[1], K.shape[1]
    if nq != nk and nq % nk == 0:  # grouped-query attention: share each K/V head
        K, V = jnp.repeat(K, nq // nk, axis=1), jnp.repeat(V, nq // nk, axis=1)
    qk = jnp.matmul(Q * s, jnp.swapaxes(K, 2, 3) * s)
    if softcap:
        qk = jnp.tanh(qk / softcap) * softcap
    with_bias = qk + bias
    qk_out = qk
    if mode == 2:
        qk_out = with_bias
    sm_in = with_bias.astype(jax_dtype(np_dtype(precision))) if precision else with_bias
    mx = jnp.max(sm_in, axis=-1, keepdims=True)
    safe = jnp.where(jnp.isneginf(mx), jnp.zeros((), sm_in.dtype), mx)
    e = jnp.exp(sm_in - safe)
    tot = jnp.sum(e, axis=-1, keepdims=True)
    sm = e / jnp.where(tot == 0, jnp.ones((), tot.dtype), tot)
    all_masked = jnp.isneginf(jnp.max(bias, axis=-1, keepdims=True))
    sm = jnp.where(all_masked, jnp.zeros((), sm.dtype), sm)
    if mode == 3:
        qk_out = sm
    sm = sm.astype(Q.dtype)
    y = jnp.matmul(sm, V)
    if rank == 3:
        y = y.transpose(0, 2, 1, 3).reshape(B, q_len, -1)
    return y, present_k, present_v, qk_out.astype(Q.dtype)


T.op("Attention", 23, 24, 25)(attention)
