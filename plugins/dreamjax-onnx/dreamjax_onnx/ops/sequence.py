"""Sequences (Python lists of arrays), optionals (None when empty) and If.

Sequence and optional values only exist while tracing: they are Python containers of arrays,
so their lengths and the branch an If takes must be known then (constants or shapes); an If
whose condition depends on data runs both branches and selects with ``jnp.where`` when their
outputs have the same shapes.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..registry import OpTable
from ._util import axis, jax_dtype, np_dtype, static_ints, static_value

T = OpTable()


@T.op("SequenceConstruct", 11)
def sequence_construct(n, *xs):
    return list(xs)


@T.op("SequenceEmpty", 11)
def sequence_empty(n):
    return []


@T.op("SequenceLength", 11)
def sequence_length(n, seq):
    return np.array(len(seq), np.int64)


def _position(pos, length, what):
    p = static_ints(pos, what)[0]
    return p + length if p < 0 else p


@T.op("SequenceAt", 11, static=(1,))
def sequence_at(n, seq, pos):
    return seq[_position(pos, len(seq), "SequenceAt position")]


@T.op("SequenceInsert", 11, static=(2,))
def sequence_insert(n, seq, x, pos=None):
    out = list(seq)
    out.insert(len(out) if pos is None else _position(pos, len(out), "SequenceInsert position"), x)
    return out


@T.op("SequenceErase", 11, static=(1,))
def sequence_erase(n, seq, pos=None):
    out = list(seq)
    del out[-1 if pos is None else _position(pos, len(out), "SequenceErase position")]
    return out


@T.op("ConcatFromSequence", 11)
def concat_from_sequence(n, seq):
    a = n.attr("axis")
    if n.attr("new_axis", 0):
        return jnp.stack(seq, axis=axis(a, jnp.ndim(seq[0]) + 1))
    return jnp.concatenate(seq, axis=axis(a, jnp.ndim(seq[0])))


@T.op("SplitToSequence", 11, 24, static=(1,))
def split_to_sequence(n, x, split=None):
    a = axis(n.attr("axis", 0), x.ndim)
    if split is None:
        parts = [jnp.take(x, i, axis=a) for i in range(x.shape[a])]
        return parts if not n.attr("keepdims", 1) else [jnp.expand_dims(p, a) for p in parts]
    sizes = static_ints(split, "SplitToSequence split")
    if np.asarray(static_value(split, "split")).ndim == 0:
        k = sizes[0]
        sizes = [k] * (x.shape[a] // k) + ([x.shape[a] % k] if x.shape[a] % k else [])
    return list(jnp.split(x, np.cumsum(sizes)[:-1].tolist(), axis=a))


@T.op("Optional", 15, 28)
def optional(n, x=None):
    return x


@T.op("OptionalHasElement", 15, 18, 28)
def optional_has_element(n, x=None):
    return np.array(x is not None)


@T.op("OptionalGetElement", 15, 18, 28)
def optional_get_element(n, x):
    if x is None:
        raise ValueError("OptionalGetElement on an empty optional")
    return x


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
