"""Training losses that exported graphs sometimes keep: NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..registry import OpTable

T = OpTable()


def nll(n, logp, target, weight=None):
    """ONNX NLL: ``-logp[n, target, d...] * w[target]``, ignored targets weigh 0."""
    C = logp.shape[1]
    target = jnp.asarray(target)
    ignore = n.attr("ignore_index")
    keep = jnp.ones(target.shape, bool) if ignore is None else target != ignore
    safe = jnp.where(keep, target, 0)
    picked = jnp.take_along_axis(logp, jnp.expand_dims(safe, 1), axis=1).squeeze(1)
    w = jnp.ones((C,), logp.dtype) if weight is None else jnp.asarray(weight).astype(logp.dtype)
    wt = jnp.where(keep, w[safe], jnp.zeros((), logp.dtype))
    loss = -picked * wt
    reduction = n.attr("reduction", "mean")
    if reduction == "none":
        return loss
    if reduction == "sum":
        return jnp.sum(loss)
    return jnp.sum(loss) / jnp.sum(wt)


@T.op("NegativeLogLikelihoodLoss", 12, 13, 22)
def negative_log_likelihood_loss(n, x, target, weight=None):
    return nll(n, x, target, weight)


@T.op("SoftmaxCrossEntropyLoss", 12, 13)
def softmax_cross_entropy_loss(n, scores, labels, weight=None):
    logp = jax.nn.log_softmax(scores, axis=1)
    loss = nll(n, logp, labels, weight)
    return (loss, logp) if n.wants(1) else loss
