"""Dropout: the identity at inference, plus the mask output its versions define.

Training mode draws the mask from numpy's RandomState(seed) once per trace, as the ONNX
reference does: deterministic, meant for conformance, not for training.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..registry import OpTable
from ._util import static_value

T = OpTable()


@T.op("Dropout", 7)
def dropout_7(n, x):
    return x, jnp.ones(x.shape, x.dtype)  # Dropout-7's mask has the input's type


@T.op("Dropout", 10)
def dropout_10(n, x):
    return x, jnp.ones(x.shape, bool)


@T.op("Dropout", 12, 13, 22, static=(1, 2))
def dropout_12(n, x, ratio=None, training_mode=None):
    training = training_mode is not None and bool(static_value(training_mode, "Dropout training_mode"))
    r = 0.5 if ratio is None else float(static_value(ratio, "Dropout ratio"))
    if not training or r == 0:
        return x, jnp.ones(x.shape, bool)
    # Training mode: the mask comes from numpy's RandomState(seed), as in the ONNX reference,
    # drawn once while tracing. Deterministic per seed; this converter targets inference.
    mask = np.random.RandomState(n.attr("seed", 0)).uniform(0, 1.0, x.shape) >= r
    scale = jnp.asarray(1.0 / (1.0 - r), x.dtype)
    return x * mask.astype(x.dtype) * scale, jnp.asarray(mask)
