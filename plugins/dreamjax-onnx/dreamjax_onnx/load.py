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

TensorProto = onnx.TensorProto

# A single tensor above this many bytes is refused before it is read (overridable per call).
MAX_TENSOR_BYTES = 8 << 30
MAX_PROTOBUF_BYTES = (2 << 30) - 1


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
        if path.stat().st_size > MAX_PROTOBUF_BYTES:  # protobuf cannot parse it; don't read it all first
            raise OnnxLoadError(
                f"{str(path)!r} is {path.stat().st_size:,} bytes, over protobuf's 2 GiB limit for one message",
                "large models keep their weights in external data files",
            )
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


def iter_sparse(graph: onnx.GraphProto) -> Iterator[onnx.SparseTensorProto]:
    """Every sparse initializer of a graph and its subgraphs."""
    yield from graph.sparse_initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from iter_sparse(attr.g)
            for g in attr.graphs:
                yield from iter_sparse(g)


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
    for sparse in iter_sparse(model.graph):  # densified on load: check the dense size first
        dense = TensorProto(name=sparse.values.name, data_type=sparse.values.data_type, dims=sparse.dims)
        if any(d < 0 for d in dense.dims):
            problems.append(f"sparse tensor {dense.name!r} declares negative dims {list(dense.dims)}")
            continue
        try:
            need = declared_nbytes(dense)
        except (KeyError, TypeError, ValueError):
            continue  # reported below through its values tensor
        if need > limit:
            problems.append(f"sparse tensor {dense.name!r} declares {need:,} bytes when dense, above the {limit:,}-byte limit")
            hint = "raise max_tensor_bytes if the model is really that large"
    for tensor in iter_tensors(model.graph):
        name = tensor.name or "<unnamed>"
        if any(d < 0 for d in tensor.dims):
            problems.append(f"tensor {name!r} declares negative dims {list(tensor.dims)}")
            continue
        if tensor.data_type == onnx.TensorProto.UNDEFINED:
            problems.append(f"tensor {name!r} has no element type")
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
        elif tensor.HasField("raw_data"):
            if tensor.data_type == onnx.TensorProto.STRING:
                problems.append(f"tensor {name!r} holds strings as raw bytes, which ONNX does not allow")
            elif len(tensor.raw_data) != need:
                problems.append(
                    f"tensor {name!r} declares shape {list(tensor.dims)} ({need:,} bytes) "
                    f"but holds {len(tensor.raw_data):,} bytes"
                )
        else:
            problem = _check_typed_values(tensor)
            if problem:
                problems.append(problem)
    if problems:
        raise OnnxLoadError(f"invalid tensors in ONNX model: {'; '.join(problems)}", hint)


def _check_typed_values(tensor: onnx.TensorProto) -> str | None:
    """Values stored in a typed field (float_data, int32_data, ...) must match the declared shape."""
    try:
        field = onnx.helper.tensor_dtype_to_field(tensor.data_type)
    except (KeyError, TypeError, ValueError):
        return f"tensor {tensor.name or '<unnamed>'!r} has unknown element type {tensor.data_type}"
    count = math.prod(tensor.dims)
    per_value = {onnx.TensorProto.COMPLEX64: 2, onnx.TensorProto.COMPLEX128: 2}.get(tensor.data_type, 1)
    expected = {count * per_value}
    if tensor.data_type in (onnx.TensorProto.INT4, onnx.TensorProto.UINT4, onnx.TensorProto.FLOAT4E2M1):
        expected = {(count + 1) // 2, count}  # packed two to a value, or one each by older writers
    held = len(getattr(tensor, field))
    if held not in expected:
        return f"tensor {tensor.name or '<unnamed>'!r} declares shape {list(tensor.dims)} but holds {held} values"
    return None


def _check_external(tensor: onnx.TensorProto, base: Path | None, need: int) -> str | None:
    name = tensor.name or "<unnamed>"
    try:
        info = ExternalDataInfo(tensor)
    except (ValueError, TypeError) as exc:  # e.g. a negative or non-numeric offset or length
        return f"tensor {name!r}: malformed external data entry ({exc})"
    location = info.location or ""
    if "\0" in location:
        return f"tensor {name!r}: external data path {location!r} holds a NUL byte"
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
