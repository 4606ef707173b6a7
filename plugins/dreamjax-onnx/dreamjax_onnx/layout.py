"""Channels-last execution: an NCHW graph runs NHWC inside, transposed only at its edges.

XLA runs convolutions channels-last (NHWC activations, HWIO kernels) on CPU, and prefers it
on GPU. A literal translation of an ONNX (NCHW) graph makes XLA:CPU transpose the activations
around every convolution, because the elementwise ops, pools and residual adds between them
stay NCHW, and copy every OIHW kernel to HWIO on every call, because kernels are params.

So the converter keeps a 4-D activation that leaves a Conv channels-last, as a :class:`Relaid`
value, through every op registered with a channels-last variant (elementwise ops, pools,
BatchNormalization, LRN, Concat, Resize, Transpose, Conv itself), and transposes it back to ONNX order only
for an op without one (Reshape, Flatten, Transpose, Softmax over channels...) or when it
leaves the function. Kernels of 2-D convolutions are stored HWIO in params, once, at
conversion, and transposed Gemm matrices [K, N] (:func:`weight_layouts`).

A channels-last variant is called like its kernel but with :class:`Relaid` values among its
arguments; it returns its result (with :class:`Relaid` values) or ``None`` when it cannot
handle the case, and then the plain kernel runs on ONNX-order arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import onnx

from .graph import node_reads, subgraphs

# array = transpose(value, perm)
HWIO = (2, 3, 1, 0)  # a 2-D Conv kernel, OIHW in ONNX
GEMM_B = (1, 0)  # Gemm's B with transB=1: [N, K] in ONNX, stored [K, N]


def channels_last_perm(rank: int) -> tuple[int, ...]:
    """N, spatial..., C from ONNX's N, C, spatial..."""
    return (0, *range(2, rank), 1)


@dataclass(frozen=True)
class Relaid:
    """An ONNX value stored with its axes permuted: ``array == transpose(value, perm)``."""

    array: Any
    perm: tuple[int, ...]

    def onnx(self) -> jax.Array:
        """The value in ONNX's axis order."""
        return jnp.transpose(self.array, tuple(int(i) for i in np.argsort(self.perm)))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[i] for i in np.argsort(self.perm))

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def is_channels_last(self) -> bool:
        return self.perm == channels_last_perm(self.ndim)


def standard(x: Any) -> Any:
    """``x`` in ONNX's axis order (lists of values included)."""
    if isinstance(x, Relaid):
        return x.onnx()
    if isinstance(x, list):
        return [standard(v) for v in x]
    return x


def channels_last(x: Any) -> jax.Array:
    """An ONNX-order or channels-last value as a channels-last array."""
    if isinstance(x, Relaid):
        return x.array if x.is_channels_last else jnp.transpose(x.onnx(), channels_last_perm(x.ndim))
    return jnp.transpose(x, channels_last_perm(jnp.ndim(x)))


def wrap(y: Any) -> Relaid:
    """A channels-last array as the ONNX value it stands for."""
    return Relaid(y, channels_last_perm(y.ndim))


def hwio(w: Any) -> jax.Array:
    """A 2-D Conv kernel as an HWIO array (stored that way in params, or transposed here)."""
    if isinstance(w, Relaid) and w.perm == HWIO:
        return w.array
    return jnp.transpose(standard(w), HWIO)


def is_channels_last(x: Any) -> bool:
    """Whether ``x`` is a value held channels-last (what the channels-last variants take)."""
    return isinstance(x, Relaid) and x.is_channels_last


def relaid_rank(args) -> int | None:
    """The rank of the channels-last arguments, or None if there are none (or mixed ranks)."""
    ranks = {a.ndim for a in args if is_channels_last(a)}
    return ranks.pop() if len(ranks) == 1 else None


def broadcast_operand(v: Any, rank: int) -> Any:
    """An ONNX-order operand of a broadcasting op, laid out to broadcast against channels-last
    values of ``rank``. Rank-0 operands are left alone (kernels may read them as scalars)."""
    if v is None:
        return None
    if isinstance(v, Relaid):
        return channels_last(v)
    if jnp.ndim(v) == 0:
        return v
    shape = (1,) * (rank - jnp.ndim(v)) + tuple(jnp.shape(v))
    perm = channels_last_perm(rank)
    moved = [p for p in perm if shape[p] != 1]
    if moved == sorted(moved):  # only size-1 axes move (a per-channel [C, 1, 1] vector...)
        return jnp.reshape(v, tuple(shape[p] for p in perm))
    if isinstance(v, np.ndarray):
        return v.reshape(shape).transpose(perm)
    return jnp.transpose(jnp.reshape(v, shape), perm)


def elementwise(kernel: Callable) -> Callable:
    """The channels-last variant of a broadcasting elementwise kernel: the same kernel, run on
    channels-last operands (which broadcast exactly as their ONNX-order originals do)."""

    def variant(n, *args):
        rank = relaid_rank(args)
        if rank is None or any(jnp.ndim(a) > rank for a in args if a is not None and not isinstance(a, Relaid)):
            return None
        out = kernel(n, *(broadcast_operand(a, rank) for a in args))
        outs = out if isinstance(out, tuple) else (out,)
        if any(jnp.ndim(y) != rank for y in outs):
            raise AssertionError(f"{n.op_type}: an elementwise output changed rank")
        wrapped = tuple(wrap(jnp.asarray(y)) for y in outs)
        return wrapped if isinstance(out, tuple) else wrapped[0]

    return variant


def transpose(n, x) -> Any:
    """The channels-last variant of Transpose: no data moves when the result is the array a
    channels-last value already holds, or when an NHWC array is transposed to NCHW (the result
    is then held channels-last). ConvNeXt's blocks (Conv, to NHWC for LayerNorm and the
    MLP, back to NCHW) were a copy each way, forward and backward."""
    rank = jnp.ndim(x.array if isinstance(x, Relaid) else x)
    perm = tuple(n.attr("perm") or reversed(range(rank)))
    if rank != 4:
        return None
    if isinstance(x, Relaid):
        held = tuple(perm.index(p) for p in x.perm)  # x.array == transpose(result, held)
        if held == tuple(range(rank)):
            return x.array
        return Relaid(x.array, held) if held == channels_last_perm(rank) else None
    if perm == tuple(int(i) for i in np.argsort(channels_last_perm(rank))):
        return wrap(x)
    return None


def _weight_slot(node: onnx.NodeProto) -> tuple[int, tuple[int, ...], int] | None:
    """(input index, storage perm, rank) of a node's weight input that is better stored permuted:
    a Conv kernel as HWIO, a ``transB`` Gemm matrix as [K, N] (XLA:CPU copies a transposed
    matrix operand on every call: 2.4 ms per call for MobileNetV2's 1280x1000 classifier)."""
    if node.domain not in ("", "ai.onnx") or len(node.input) < 2:
        return None
    if node.op_type == "Conv":
        return 1, HWIO, 4
    if node.op_type == "Gemm" and any(a.name == "transB" and a.i == 1 for a in node.attribute):
        return 1, GEMM_B, 2
    return None


def weight_layouts(model: onnx.ModelProto, params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Params to store permuted (:func:`_weight_slot`), with the permutation: those read only in
    that slot, by every reader agreeing on it (in any subgraph too), never a graph input or output."""
    graph = model.graph
    exposed = {i.name for i in graph.input} | {o.name for o in graph.output}
    slots: dict[str, set[tuple[tuple[int, ...], int]]] = {}
    other: set[str] = set()

    def walk(g: onnx.GraphProto) -> None:
        for node in g.node:
            slot = _weight_slot(node)
            if slot is not None:
                index, perm, rank = slot
                slots.setdefault(node.input[index], set()).add((perm, rank))
                other.update(r for i, r in enumerate(node.input) if i != index)
            else:
                other.update(node_reads(node))
            for sub in subgraphs(node):
                walk(sub)

    walk(graph)
    layouts = {}
    for name, kinds in slots.items():
        if len(kinds) == 1 and name in params and name not in other and name not in exposed:
            ((perm, rank),) = kinds
            if params[name].ndim == rank:
                layouts[name] = perm
    return dict(sorted(layouts.items()))
