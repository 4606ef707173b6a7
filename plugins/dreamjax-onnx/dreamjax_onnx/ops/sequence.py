"""Sequences (Python lists of arrays) and optionals (None when empty).

Sequence and optional values only exist while tracing: they are Python containers of arrays,
so their lengths and the positions they are read at must be known then (constants or shapes).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..registry import OpTable
from ._util import axis, static_ints, static_value

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
