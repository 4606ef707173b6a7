"""Building one-node (or small) ONNX models in code and running the references on them.

The reference is onnxruntime; where onnxruntime has no kernel for an opset version (it raises
on load), ``onnx.reference`` (the ONNX project's own numpy implementation) is used instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

IR_VERSION = 10  # accepted by onnxruntime for every opset the installed onnx defines


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Mapping[str, np.ndarray],
    outputs: Sequence[str],
    opset: int,
    initializers: Mapping[str, np.ndarray] | None = None,
    dynamic: bool = False,
) -> onnx.ModelProto:
    """A model whose graph inputs are ``inputs`` (typed from the arrays) and ``initializers``."""
    def info(name, arr):
        shape = [None] * arr.ndim if dynamic else list(arr.shape)
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(arr.dtype), shape)

    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()]
    graph = helper.make_graph(
        list(nodes), "test", [info(k, v) for k, v in inputs.items()], [helper.make_empty_tensor_value_info(o) for o in outputs], inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = IR_VERSION
    inferred = onnx.shape_inference.infer_shapes(model)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for out in model.graph.output:
        if out.name in known and known[out.name].type.HasField("tensor_type"):
            out.type.CopyFrom(known[out.name].type)
    return model


def run_reference(model: onnx.ModelProto, inputs: Mapping[str, np.ndarray]) -> tuple[list[np.ndarray], str]:
    """Outputs from onnxruntime, or from onnx.reference where onnxruntime lacks the kernel."""
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # errors only: old opsets make onnxruntime chatty
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        return sess.run(None, dict(inputs)), "onnxruntime"
    except Exception:  # noqa: BLE001 - onnxruntime has no kernel for this opset: use the ONNX reference
        return list(ReferenceEvaluator(model).run(None, dict(inputs))), "onnx.reference"
