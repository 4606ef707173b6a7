"""Window functions of the signal-processing operators: HannWindow, HammingWindow, BlackmanWindow.

Computed with numpy from the static window size, so they fold while tracing.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..registry import OpTable
from ._util import np_dtype, static_ints

T = OpTable()


def _window(n, size, f):
    N = int(static_ints(size, "window size")[0])
    periodic = n.attr("periodic", 1)
    denom = N if periodic else N - 1
    k = np.arange(N, dtype=np.float64)
    w = f(k, denom)
    return jnp.asarray(w.astype(np_dtype(n.attr("output_datatype", 1))))


@T.op("HannWindow", 17, static=(0,))
def hann_window(n, size):
    return _window(n, size, lambda k, d: 0.5 - 0.5 * np.cos(2 * np.pi * k / d))


@T.op("HammingWindow", 17, static=(0,))
def hamming_window(n, size):
    return _window(n, size, lambda k, d: 25 / 46 - (1 - 25 / 46) * np.cos(2 * np.pi * k / d))


@T.op("BlackmanWindow", 17, static=(0,))
def blackman_window(n, size):
    return _window(n, size, lambda k, d: 0.42 - 0.5 * np.cos(2 * np.pi * k / d) + 0.08 * np.cos(4 * np.pi * k / d))
