"""``onnx.backend.base`` conventions, like ``onnxruntime.backend``.

    import dreamjax_onnx.backend as backend
    rep = backend.prepare(model, "CPU")
    outputs = rep.run([x])                       # tuple of numpy arrays
    outputs = backend.run_node(node, [x, y])

This is the conformance interface (the ONNX backend test suite runs against it): it runs
with 64-bit types enabled so that int64/float64 models keep their types, and executes eagerly
unless ``jit=True`` is passed to ``prepare``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep, Device, DeviceType

from .convert import OnnxFunction, to_jax


class DreamjaxRep(BackendRep):
    """A prepared model: ``run(inputs)`` returns the outputs as a tuple of numpy arrays."""

    def __init__(self, fn: OnnxFunction, params: Mapping[str, Any], device: str, jit: bool):
        self.fn = fn
        self.params = params
        self.device = jax.devices(_platform(device))[0]
        self._call = jax.jit(fn) if jit else fn

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        if isinstance(inputs, Mapping):
            inputs = [inputs[name] for name in self.fn.inputs]
        elif isinstance(inputs, np.ndarray) or not isinstance(inputs, Sequence):
            inputs = [inputs]
        with jax.enable_x64(True), jax.default_device(self.device):
            outputs = self._call(self.params, *[_to_host(x) for x in inputs])
            return tuple(_to_host(o) for o in outputs)


def _to_host(x: Any) -> Any:
    """numpy arrays, keeping sequences as lists and absent optionals as None."""
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return [_to_host(v) for v in x]
    return np.asarray(x)


def _platform(device: str) -> str:
    kind = Device(device).type
    return "gpu" if kind == DeviceType.CUDA else "cpu"


class DreamjaxBackend(Backend):
    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        try:
            return bool(jax.devices(_platform(device)))
        except RuntimeError:
            return False

    @classmethod
    def prepare(cls, model: onnx.ModelProto | str | bytes, device: str = "CPU", **kwargs: Any) -> DreamjaxRep:
        jit = bool(kwargs.pop("jit", False))
        with jax.enable_x64(True):
            fn, params = to_jax(model)
        return DreamjaxRep(fn, params, device, jit)

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any) -> tuple[np.ndarray, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(
        cls,
        node: onnx.NodeProto,
        inputs: Any,
        device: str = "CPU",
        outputs_info: Sequence[tuple[Any, tuple[int, ...]]] | None = None,
        **kwargs: Any,
    ) -> tuple[np.ndarray, ...]:
        """Run a single node; ``opset_version`` (kwarg) picks the opset, default the newest."""
        opset = kwargs.pop("opset_version", onnx.defs.onnx_opset_version())
        if isinstance(inputs, Mapping):
            named = dict(inputs)
        else:
            named = {name: value for name, value in zip(node.input, inputs) if name}
        graph_inputs = [
            onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype), np.shape(v))
            for name, v in named.items()
        ]
        graph_outputs = [onnx.helper.make_empty_tensor_value_info(o) for o in node.output if o]
        graph = onnx.helper.make_graph([node], "run_node", graph_inputs, graph_outputs)
        opsets = [onnx.helper.make_opsetid("", opset)]
        if node.domain not in ("", "ai.onnx"):
            opsets.append(onnx.helper.make_opsetid(node.domain, 1))
        model = onnx.helper.make_model(graph, opset_imports=opsets)
        return cls.prepare(model, device, **kwargs).run([named[i.name] for i in graph_inputs])


prepare = DreamjaxBackend.prepare
run_model = DreamjaxBackend.run_model
run_node = DreamjaxBackend.run_node
supports_device = DreamjaxBackend.supports_device
is_compatible = DreamjaxBackend.is_compatible
