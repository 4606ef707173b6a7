"""The operators issue 3 requires at every opset version from 7 to the newest onnx defines."""

from __future__ import annotations

import onnx.defs

from dreamjax_onnx.registry import schema_version, schema_versions

LISTED_OPS = (
    "Conv ConvTranspose BatchNormalization InstanceNormalization LayerNormalization LRN "
    "Relu LeakyRelu PRelu Elu Selu Sigmoid HardSigmoid HardSwish Tanh Softplus Erf Gelu "
    "Softmax LogSoftmax Clip MaxPool AveragePool GlobalAveragePool GlobalMaxPool Gemm MatMul "
    "Add Sub Mul Div Pow Sqrt Exp Neg Abs Max Min Sum Mean Concat Split Flatten Reshape "
    "Transpose Squeeze Unsqueeze Shape Gather Slice Pad Constant ConstantOfShape Identity "
    "Dropout Cast Expand Tile Where Equal Range ReduceMean ReduceSum ReduceMax ReduceL2 "
    "Resize Upsample Einsum"
).split()

OLDEST_OPSET = 7
NEWEST_OPSET = onnx.defs.onnx_opset_version()


def required_versions(op: str) -> list[int]:
    """since_versions in force at some opset in [7, newest]: the one active at 7, then later ones."""
    active = schema_version(op, OLDEST_OPSET)
    return [v for v in schema_versions(op) if (active is None or v >= active) and v <= NEWEST_OPSET]


def op_versions() -> list[tuple[str, int]]:
    return [(op, v) for op in LISTED_OPS for v in required_versions(op)]
