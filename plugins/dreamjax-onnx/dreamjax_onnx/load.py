"""Reading ONNX files safely.

Nothing in a model file is executed: it is parsed as protobuf, tensors are checked against the
sizes they declare before anything is allocated, and external-data references must stay inside
the model's folder (no absolute paths, no ``..``, no symlinks leading out).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx.external_data_helper import ExternalDataInfo, load_external_data_for_model, uses_external_data

from .errors import OnnxLoadError

# A single tensor above this many bytes is refused before it is read (overridable per call).
MAX_TENSOR_BYTES = 8 << 30


def load_onnx(source: str | os.PathLike | bytes | onnx.ModelProto, *, max_tensor_bytes: int = MAX_TENSOR_BYTES) -> onnx.ModelProto:
    """A checked ``ModelProto`` from a path, serialized bytes or an in-memory model."""
    if isinstance(source, onnx.ModelProto):
        model, base = source, None
    elif isinstance(source, (bytes, bytearray)):
        model, base = _parse(bytes(source), "<bytes>"), None
    else:
        path = Path(source)
        if not path.is_file():
            raise OnnxLoadError(f"cannot read model {str(path)!r}: no such file", "check the path")
        model, base = _parse(path.read_bytes(), str(path)), path.parent
    if not model.HasField("graph"):
        raise OnnxLoadError("the ONNX model has no graph", "is this an ONNX model file?")
    _check_tensors(model, base, max_tensor_bytes)
    if base is not None and any(uses_external_data(t) for t in iter_tensors(model.graph)):
        load_external_data_for_model(model, str(base))
    return model


def _parse(data: bytes, where: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise OnnxLoadError(
            f"{where} is not a valid ONNX file: protobuf could not be parsed ({exc})",
            "the file may be truncated or not an ONNX model",
        ) from exc
    return model


def iter_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    """Every tensor stored in a graph: initializers and tensor attributes, subgraphs included."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from iter_tensors(attr.g)
            for g in attr.graphs:
                yield from iter_tensors(g)


def declared_nbytes(tensor: onnx.TensorProto) -> int:
    """Bytes the tensor claims to hold, from its dims and element type (before reading any)."""
    if tensor.data_type in (onnx.TensorProto.STRING, onnx.TensorProto.UNDEFINED):
        return 0
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)
    bits = {onnx.TensorProto.INT4, onnx.TensorProto.UINT4, onnx.TensorProto.FLOAT4E2M1}
    count = math.prod(tensor.dims)
    if tensor.data_type in bits:
        return (count + 1) // 2
    return count * np.dtype(dtype).itemsize


def _check_tensors(model: onnx.ModelProto, base: Path | None, limit: int) -> None:
    problems: list[str] = []
    hint = None
    for tensor in iter_tensors(model.graph):
        name = tensor.name or "<unnamed>"
        if any(d < 0 for d in tensor.dims):
            problems.append(f"tensor {name!r} declares negative dims {list(tensor.dims)}")
            continue
        try:
            need = declared_nbytes(tensor)
        except (KeyError, TypeError, ValueError):
            problems.append(f"tensor {name!r} has unknown element type {tensor.data_type}")
            continue
        if need > limit:
            problems.append(f"tensor {name!r} declares {need:,} bytes, above the {limit:,}-byte limit")
            hint = "raise max_tensor_bytes if the model is really that large"
            continue
        if uses_external_data(tensor):
            problem = _check_external(tensor, base, need)
            if problem:
                problems.append(problem)
                hint = "external data must be files inside the model's folder"
        elif tensor.HasField("raw_data") and len(tensor.raw_data) != need:
            problems.append(
                f"tensor {name!r} declares shape {list(tensor.dims)} ({need:,} bytes) "
                f"but holds {len(tensor.raw_data):,} bytes"
            )
    if problems:
        raise OnnxLoadError(f"invalid tensors in ONNX model: {'; '.join(problems)}", hint)


def _check_external(tensor: onnx.TensorProto, base: Path | None, need: int) -> str | None:
    name = tensor.name or "<unnamed>"
    info = ExternalDataInfo(tensor)
    location = info.location or ""
    if base is None:
        return f"tensor {name!r} uses external data {location!r} but the model was not loaded from a file"
    if not location or os.path.isabs(location) or Path(location).is_absolute() or location.startswith(("/", "\\")):
        return f"tensor {name!r}: external data path {location!r} is absolute"
    if ".." in Path(location.replace("\\", "/")).parts:
        return f"tensor {name!r}: external data path {location!r} leaves the model folder"
    root = base.resolve()
    target = (base / location).resolve()
    if root != target and root not in target.parents:
        return f"tensor {name!r}: external data path {location!r} resolves outside the model folder (symlink?)"
    if not target.is_file():
        return f"tensor {name!r}: external data file {location!r} is missing"
    size = target.stat().st_size
    offset = int(info.offset or 0)
    length = int(info.length) if info.length else size - offset
    if length != need or offset + length > size:
        return (
            f"tensor {name!r}: external data {location!r} holds {max(size - offset, 0):,} bytes from offset "
            f"{offset} but the tensor needs {need:,}"
        )
    return None
