"""Inference-mode BatchNormalization folded into the Conv it follows, on the weights.

``BN(conv(x, W) + b) == conv(x, W * s) + (b - mean) * s + beta`` with
``s = gamma / sqrt(var + eps)`` per output channel. Folded, the network skips one pass over
each such activation forward and one backward (TorchScript exports in eval mode are already
folded; other exporters, ONNX zoo models and opset-18 dynamo exports often are not).

A pair is folded only when nothing else can tell: the Conv's output is read by that
BatchNormalization alone and is no graph output, the BatchNormalization runs in inference
mode with only its first output used, and every weight involved is a float initializer of the
right shape. The folded weights get new names (the originals stay for any other reader); the
Conv takes the BatchNormalization's output name, so layers after it keep theirs. The Conv's own
output (the value before the BatchNormalization) is no longer a value of the function.
"""

from __future__ import annotations

import collections

import numpy as np
import onnx
from onnx import numpy_helper

from .graph import node_reads, subgraphs

FOLDED = "::folded_batchnorm"  # suffix of the new weight names


def _readers(graph: onnx.GraphProto) -> collections.Counter:
    counts: collections.Counter = collections.Counter()

    def walk(g: onnx.GraphProto) -> None:
        for node in g.node:
            counts.update(node_reads(node))
            for sub in subgraphs(node):
                walk(sub)

    walk(graph)
    return counts


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _foldable(conv, bn, arrays, readers, exposed) -> bool:
    if conv.domain not in ("", "ai.onnx") or bn.domain not in ("", "ai.onnx") or len(conv.input) < 2:
        return False
    out = conv.output[0]
    if readers[out] != 1 or out in exposed or len(bn.input) != 5 or any(o for o in bn.output[1:]):
        return False
    attrs = _attrs(bn)
    if attrs.get("training_mode", 0) or attrs.get("spatial", 1) != 1:
        return False
    w = arrays.get(conv.input[1])
    if w is None or w.ndim < 3 or not np.issubdtype(w.dtype, np.floating):
        return False
    bias = [conv.input[2]] if len(conv.input) > 2 and conv.input[2] else []
    vectors = [arrays.get(n) for n in [*bn.input[1:], *bias]]
    return all(v is not None and v.shape == (w.shape[0],) and np.issubdtype(v.dtype, np.floating) for v in vectors)


def fold_batchnorm(model: onnx.ModelProto, arrays: dict[str, np.ndarray]
                   ) -> tuple[onnx.ModelProto, dict[str, np.ndarray], int]:
    """``model`` with every foldable Conv -> BatchNormalization pair merged, its initializer
    arrays, and how many pairs were folded. ``arrays`` are ``model``'s initializers; neither
    is changed (the result is a copy when anything folds)."""
    graph = model.graph
    nodes = list(graph.node)
    readers = _readers(graph)
    exposed = {o.name for o in graph.output} | {i.name for i in graph.input if i.name not in arrays}
    producer = {node.output[0]: i for i, node in enumerate(nodes) if node.output}
    pairs: dict[int, int] = {}  # Conv index -> BatchNormalization index
    for j, bn in enumerate(nodes):
        i = producer.get(bn.input[0]) if bn.op_type == "BatchNormalization" and bn.input else None
        if i is not None and nodes[i].op_type == "Conv" and _foldable(nodes[i], bn, arrays, readers, exposed):
            pairs[i] = j
    if not pairs:
        return model, arrays, 0
    arrays = dict(arrays)
    involved = {n for i, j in pairs.items() for n in (*nodes[i].input[1:], *nodes[j].input[1:])}
    rewritten = [_folded_conv(node, nodes[pairs[i]], arrays) if i in pairs else node
                 for i, node in enumerate(nodes) if i not in pairs.values()]
    folded = onnx.ModelProto()
    folded.CopyFrom(model)
    del folded.graph.node[:]
    folded.graph.node.extend(rewritten)
    # Weights that only the folded pairs read would stay behind as dead params: drop them.
    unread = involved - set(_readers(folded.graph)) - exposed
    kept = [t for t in folded.graph.initializer if t.name not in unread]
    new = [numpy_helper.from_array(arrays[n], n) for j in pairs.values() for n in _new_names(nodes[j])]
    del folded.graph.initializer[:]
    folded.graph.initializer.extend(kept + new)
    kept_inputs = [v for v in folded.graph.input if v.name not in unread]
    del folded.graph.input[:]
    folded.graph.input.extend(kept_inputs)
    return folded, {n: a for n, a in arrays.items() if n not in unread}, len(pairs)


def _new_names(bn) -> tuple[str, str]:
    """Names of a folded pair's weight and bias: from the BatchNormalization's (unique) output."""
    return bn.output[0] + FOLDED + ".weight", bn.output[0] + FOLDED + ".bias"


def _folded_conv(conv, bn, arrays) -> onnx.NodeProto:
    """The Conv of a pair with the folded weights (added to ``arrays``)."""
    w = arrays[conv.input[1]]
    gamma, beta, mean, var = (arrays[n].astype(np.float64) for n in bn.input[1:])
    scale = gamma / np.sqrt(var + _attrs(bn).get("epsilon", 1e-5))
    bias = arrays[conv.input[2]].astype(np.float64) if len(conv.input) > 2 and conv.input[2] else 0.0
    w_name, b_name = _new_names(bn)
    arrays[w_name] = (w.astype(np.float64) * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
    arrays[b_name] = ((bias - mean) * scale + beta).astype(w.dtype)
    node = onnx.NodeProto()
    node.CopyFrom(conv)
    del node.input[:]
    node.input.extend([conv.input[0], w_name, b_name])
    node.output[0] = bn.output[0]
    return node
