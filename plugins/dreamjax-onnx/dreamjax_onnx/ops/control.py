"""Control flow: If, Loop and Scan, which run their subgraphs while tracing.

The branch an If takes must be known then (a constant or a shape); an If whose condition
depends on data runs both branches and selects with ``jnp.where`` when their outputs have the
same shapes. Loop and Scan are unrolled: the trip count and the condition must be known.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..registry import OpTable
from ._util import axis, static_value

T = OpTable()


@T.op("If", 1, 11, 13, 16, 19, 21, 23, 24, 25)
def if_(n, cond):
    if isinstance(cond, np.ndarray) or not hasattr(cond, "aval") or _concrete(cond):
        branch = "then_branch" if bool(np.asarray(cond).reshape(-1)[0]) else "else_branch"
        out = n.run_subgraph(branch, [])
    else:
        a, b = n.run_subgraph("then_branch", []), n.run_subgraph("else_branch", [])
        c = jnp.asarray(cond).reshape(())
        out = [jnp.where(c, x, y) for x, y in zip(a, b)]
    return tuple(out)


def _concrete(x) -> bool:
    import jax

    return not isinstance(x, jax.core.Tracer)


def _stack(values):
    """Scan outputs: stacked arrays, or a list when a body emits sequences."""
    if values and isinstance(values[0], list):
        return values
    return jnp.stack([jnp.asarray(v) for v in values]) if values else None


@T.op("Loop", 1, 11, 13, 16, 19, 21, 23, 24, 25, static=(0, 1))
def loop(n, trip_count=None, cond=None, *carried):
    """Unrolled while tracing: the trip count and the condition must be known then."""
    limit = None if trip_count is None else int(static_value(trip_count, "Loop trip count").reshape(-1)[0])
    keep_going = True if cond is None else bool(static_value(cond, "Loop condition").reshape(-1)[0])
    state = list(carried)
    scans: list[list] = []
    i = 0
    while keep_going and (limit is None or i < limit):
        out = n.run_subgraph("body", [np.array(i, np.int64), np.array(keep_going), *state])
        keep_going = bool(static_value(out[0], "Loop condition").reshape(-1)[0])
        state = list(out[1 : 1 + len(state)])
        extra = out[1 + len(state) :]
        if not scans:
            scans = [[] for _ in extra]
        for acc, v in zip(scans, extra):
            acc.append(v)
        i += 1
    n_scan = n.n_outputs - len(state)
    scan_out = [_stack(acc) for acc in scans] if scans else [jnp.zeros((0,), jnp.float32)] * n_scan
    return tuple(state + scan_out)


@T.op("Scan", 9, 11, 16, 19, 21, 23, 24, 25)
def scan(n, *args):
    n_in = n.attr("num_scan_inputs")
    states, xs = list(args[: len(args) - n_in]), args[len(args) - n_in :]
    in_axes = n.attr("scan_input_axes") or [0] * n_in
    in_dirs = n.attr("scan_input_directions") or [0] * n_in
    xs = [jnp.moveaxis(x, axis(a, x.ndim), 0) for x, a in zip(xs, in_axes)]
    xs = [jnp.flip(x, 0) if d else x for x, d in zip(xs, in_dirs)]
    length = xs[0].shape[0]
    collected: list[list] = []
    for t in range(length):
        out = n.run_subgraph("body", [*states, *[x[t] for x in xs]])
        states = list(out[: len(states)])
        ys = out[len(states) :]
        if not collected:
            collected = [[] for _ in ys]
        for acc, y in zip(collected, ys):
            acc.append(y)
    out_axes = n.attr("scan_output_axes") or [0] * len(collected)
    out_dirs = n.attr("scan_output_directions") or [0] * len(collected)
    results = []
    for acc, a, d in zip(collected, out_axes, out_dirs):
        y = jnp.stack(acc[::-1] if d else acc)
        results.append(jnp.moveaxis(y, 0, axis(a, y.ndim)))
    return tuple(states + results)
