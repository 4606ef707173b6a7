"""Graph structure: node order, the names a graph reads, initializers split into params.

ONNX asks producers to store nodes in topological order but not every exporter does, so the
order is recomputed here (Kahn's algorithm, stable w.r.t. the file order). A cycle or a value
that no node, initializer or input produces is reported with every offending node at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from .errors import OnnxGraphError


def subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    out = []
    for attr in node.attribute:
        if attr.HasField("g"):
            out.append(attr.g)
        out.extend(attr.graphs)
    return out


def free_names(graph: onnx.GraphProto) -> set[str]:
    """Names a (sub)graph reads from its enclosing scope."""
    bound = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    bound |= {s.values.name for s in graph.sparse_initializer}
    free: set[str] = set()
    for node in graph.node:
        for name in node_reads(node):
            if name and name not in bound:
                free.add(name)
        bound.update(o for o in node.output if o)
    free |= {o.name for o in graph.output if o.name not in bound}
    return free


def node_reads(node: onnx.NodeProto) -> list[str]:
    """A node's inputs plus the outer-scope names its subgraphs use."""
    names = [n for n in node.input if n]
    for g in subgraphs(node):
        names.extend(sorted(free_names(g)))
    return names


def node_label(node: onnx.NodeProto, index: int) -> str:
    return node.name or f"{node.op_type}#{index}"


def topological_order(
    nodes: Sequence[onnx.NodeProto], available: Iterable[str], where: str = "graph"
) -> list[onnx.NodeProto]:
    """Nodes in an order where every input is produced before it is read."""
    known = set(available)
    producers: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for out in node.output:
            if out:
                producers[out] = i
    missing = []
    for i, node in enumerate(nodes):
        lost = [n for n in node_reads(node) if n not in known and n not in producers]
        if lost:
            missing.append(f"{node_label(node, i)} ({node.op_type}) reads {', '.join(map(repr, lost))}")
    if missing:
        raise OnnxGraphError(
            f"{where}: values that nothing produces: " + "; ".join(missing),
            "the model is incomplete or was edited by hand",
        )
    deps = [{producers[n] for n in node_reads(node) if n in producers and n not in known} for node in nodes]
    users: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    pending = [len(d) for d in deps]
    ready = [i for i, p in enumerate(pending) if p == 0]
    order: list[int] = []
    import heapq

    heapq.heapify(ready)
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            pending[u] -= 1
            if pending[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        stuck = [node_label(nodes[i], i) for i in range(len(nodes)) if pending[i] > 0]
        raise OnnxGraphError(
            f"{where} has a cycle through nodes {', '.join(map(repr, stuck[:10]))}"
            + (f" and {len(stuck) - 10} more" if len(stuck) > 10 else ""),
            "ONNX graphs must be acyclic (use Loop for iteration)",
        )
    return [nodes[i] for i in order]


def initializer_arrays(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    arrays = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for sparse in graph.sparse_initializer:
        dense = np.zeros(tuple(sparse.dims), numpy_helper.to_array(sparse.values).dtype)
        idx = numpy_helper.to_array(sparse.indices)
        vals = numpy_helper.to_array(sparse.values)
        if idx.ndim == 1:
            dense.reshape(-1)[idx] = vals
        else:
            dense[tuple(idx.T)] = vals
        arrays[sparse.values.name] = dense
    return arrays


@dataclass(frozen=True)
class GraphInfo:
    """The names a top-level graph exposes."""

    inputs: tuple[str, ...]  # graph inputs that are not initializers, in order
    outputs: tuple[str, ...]
    values: tuple[str, ...]  # every node output, in execution order


def graph_info(graph: onnx.GraphProto, order: Sequence[onnx.NodeProto]) -> GraphInfo:
    inits = {t.name for t in graph.initializer}
    return GraphInfo(
        inputs=tuple(i.name for i in graph.input if i.name not in inits),
        outputs=tuple(o.name for o in graph.output),
        values=tuple(o for node in order for o in node.output if o),
    )
