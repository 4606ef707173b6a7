"""ONNX graphs as Flax modules: :func:`to_nnx` (``flax.nnx``) and :func:`to_linen` (``flax.linen``).

Both wrap the pure function of :func:`~.convert.to_jax`; the float initializers it reads become
Flax variables, one per initializer, keyed by its ONNX name:

* weights (``nnx.Param``, Linen collection ``"params"``): every float initializer except
* BatchNormalization's ``input_mean`` and ``input_var`` (``nnx.BatchStat``, ``"batch_stats"``).
  The graph runs BatchNormalization in inference mode, so they are read, never updated;
* scalars that no weighted op reads (:class:`Constant`, ``"constants"``): exporters store
  GELU's sqrt(2), epsilons and Clip bounds this way. Make one trainable by replacing it:
  ``module.initializers[name] = nnx.Param(module.initializers[name].get_value())``.

Integer initializers and values that decide shapes (Reshape targets, Resize scales) stay inside
the function: they are static, not state.

Layout: as in ``to_jax``, kernels of 2-D convolutions are stored HWIO and ``transB`` Gemm
matrices ``[K, N]`` (``module.param_layouts`` names them), so gradients, optimizer states and
checkpoints are in that layout. ``onnx_initializers`` gives every variable back in ONNX layout
and ``to_onnx`` writes them into a copy of the model (fine-tune in Flax, run anywhere).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import numpy as np
import onnx
from flax import nnx
from onnx import numpy_helper

from .convert import OnnxFunction, to_jax
from .errors import OnnxGraphError
from .graph import subgraphs
from .load import load_onnx
from .registry import Registry

PARAMS, BATCH_STATS, CONSTANTS = "params", "batch_stats", "constants"

# Inputs that hold learned weights: a scalar read here is still a weight (PRelu's one slope).
WEIGHT_INPUTS = {
    "Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (0, 1, 2), "MatMul": (0, 1),
    "BatchNormalization": (1, 2), "InstanceNormalization": (1, 2), "LayerNormalization": (1, 2),
    "GroupNormalization": (1, 2), "RMSNormalization": (1,), "PRelu": (1,),
}
STATISTIC_INPUTS = {"BatchNormalization": (3, 4)}


class Constant(nnx.Variable):
    """A float initializer that is not trained (see the module docs)."""


VARIABLE_TYPES = {PARAMS: nnx.Param, BATCH_STATS: nnx.BatchStat, CONSTANTS: Constant}


def initializer_roles(model: onnx.ModelProto, arrays: Mapping[str, Any]) -> dict[str, str]:
    """The collection (``PARAMS``, ``BATCH_STATS`` or ``CONSTANTS``) of each of ``arrays``."""
    weights: set[str] = set()
    statistics: set[str] = set()

    def walk(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            for i, name in enumerate(node.input):
                if node.domain in ("", "ai.onnx") and i in WEIGHT_INPUTS.get(node.op_type, ()):
                    weights.add(name)
                if node.domain in ("", "ai.onnx") and i in STATISTIC_INPUTS.get(node.op_type, ()):
                    statistics.add(name)
            for sub in subgraphs(node):
                walk(sub)

    walk(model.graph)
    roles = {}
    for name, array in arrays.items():
        if name in statistics:
            roles[name] = BATCH_STATS
        elif np.size(array) == 1 and name not in weights:
            roles[name] = CONSTANTS
        else:
            roles[name] = PARAMS
    return roles


@dataclass(frozen=True, eq=False)
class OnnxGraph:
    """A converted model: its function, its initial variables and where each belongs.

    Hashed by identity, so modules holding it stay valid static data for ``jit``.
    """

    fn: OnnxFunction
    model: onnx.ModelProto
    arrays: Mapping[str, jax.Array]  # initial values, stored layout
    roles: Mapping[str, str]

    def run(self, values: Mapping[str, Any], inputs: Sequence[Any], capture: Sequence[str] | None) -> Any:
        if capture is not None:
            if isinstance(capture, str):
                raise OnnxGraphError(f"capture={capture!r} is a string", f"pass a list of ONNX value names: capture=[{capture!r}]")
            return self.fn.capture(values, *inputs, names=list(capture))
        outputs = self.fn(values, *inputs)
        return outputs[0] if len(outputs) == 1 else outputs

    def onnx_arrays(self, values: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """``values`` (stored layout) as numpy arrays in ONNX layout."""
        out = {}
        for name, value in values.items():
            perm = self.fn.param_layouts.get(name)
            array = np.asarray(value)
            out[name] = array.transpose(np.argsort(perm)) if perm is not None else array
        return out

    def to_onnx(self, values: Mapping[str, Any]) -> onnx.ModelProto:
        """A copy of the model with these initializer values (any subset of the variables)."""
        unknown = sorted(set(values) - set(self.roles))
        if unknown:
            raise OnnxGraphError(f"{unknown[:5]} are not variables of this model", "pass the module's own variables")
        arrays = self.onnx_arrays(values)
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        graph = model.graph
        for i, tensor in enumerate(graph.initializer):
            if tensor.name in arrays:
                graph.initializer[i].CopyFrom(_tensor(arrays.pop(tensor.name), tensor.name, tensor.data_type))
        for sparse in [s for s in graph.sparse_initializer if s.values.name in arrays]:
            graph.sparse_initializer.remove(sparse)  # a trained tensor is no longer sparse
            graph.initializer.append(_tensor(arrays.pop(sparse.values.name), sparse.values.name, sparse.values.data_type))
        return model


def _tensor(array: np.ndarray, name: str, data_type: int) -> onnx.TensorProto:
    return numpy_helper.from_array(array.astype(onnx.helper.tensor_dtype_to_np_dtype(data_type)), name)


def convert(source: Any, *, registry: Registry | None = None, max_tensor_bytes: int | None = None,
            channels_last: bool = True) -> OnnxGraph:
    """The :class:`OnnxGraph` both module kinds are built from (arguments as ``to_jax``)."""
    kwargs = {} if max_tensor_bytes is None else {"max_tensor_bytes": max_tensor_bytes}
    model = load_onnx(source, **kwargs)
    fn, params = to_jax(model, registry=registry, channels_last=channels_last, **kwargs)
    roles = initializer_roles(model, params)
    if len(fn.inputs) > 1 and PARAMS not in roles.values():
        raise OnnxGraphError(
            f"the graph takes {len(fn.inputs)} inputs {list(fn.inputs)} and has no weights, so which input is the data "
            "is unknown: its weights were probably exported as inputs",
            "export with the weights inside the model (torch.onnx.export(..., export_params=True)), "
            "or use to_jax, whose function takes every input",
        )
    return OnnxGraph(fn, model, params, roles)


class _Names:
    """The ONNX names a module exposes, read from its ``graph`` (an :class:`OnnxGraph`)."""

    @property
    def inputs(self) -> tuple[str, ...]:
        """The graph's data inputs: the module's positional arguments, in order."""
        return self.graph.fn.inputs

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.graph.fn.outputs

    @property
    def values(self) -> tuple[str, ...]:
        """Every value ``capture`` can ask for, in execution order."""
        return self.graph.fn.values

    @property
    def param_layouts(self) -> dict[str, tuple[int, ...]]:
        """Variables stored permuted: ``stored == onnx_value.transpose(perm)``."""
        return self.graph.fn.param_layouts


class OnnxModule(_Names, nnx.Module):
    """An ONNX graph as an NNX module (see :func:`to_nnx`)."""

    def __init__(self, graph: OnnxGraph):
        self.graph = graph
        self.initializers = nnx.data(
            {name: VARIABLE_TYPES[graph.roles[name]](array) for name, array in graph.arrays.items()}
        )

    def __call__(self, *inputs: Any, capture: Sequence[str] | None = None) -> Any:
        """The graph's output (a tuple if it has several), or with ``capture`` a dict of the
        named values. Under ``nnx.jit``, ``capture`` must be a Python constant (close over it)."""
        values = {name: variable.get_value() for name, variable in self.initializers.items()}
        return self.graph.run(values, inputs, capture)

    def onnx_initializers(self) -> dict[str, np.ndarray]:
        """Every variable's current value, in ONNX layout."""
        return self.graph.onnx_arrays({name: v.get_value() for name, v in self.initializers.items()})

    def to_onnx(self) -> onnx.ModelProto:
        """A copy of the ONNX model holding the current values of the variables."""
        return self.graph.to_onnx({name: v.get_value() for name, v in self.initializers.items()})


class OnnxLinen(_Names, nn.Module):
    """An ONNX graph as a Linen module (see :func:`to_linen`)."""

    graph: OnnxGraph

    @nn.compact
    def __call__(self, *inputs: Any, capture: Sequence[str] | None = None) -> Any:
        """As :meth:`OnnxModule.__call__`; ``init`` gives the model's own weights."""
        values = {}
        for name, array in self.graph.arrays.items():
            role = self.graph.roles[name]
            if role == PARAMS:
                values[name] = self.param(name, lambda _rng, a=array: a)
            else:
                values[name] = self.variable(role, name, lambda a=array: a).value
        return self.graph.run(values, inputs, capture)

    def onnx_initializers(self, variables: Mapping[str, Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """The variables of this module (``variables[collection][name]``) in ONNX layout."""
        return self.graph.onnx_arrays(_flat(variables))

    def to_onnx(self, variables: Mapping[str, Mapping[str, Any]]) -> onnx.ModelProto:
        """A copy of the ONNX model holding these variables (this module's own collections)."""
        return self.graph.to_onnx(_flat(variables))


def _flat(variables: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {name: value for collection in (PARAMS, BATCH_STATS, CONSTANTS) for name, value in variables.get(collection, {}).items()}


def to_nnx(source: Any, *, registry: Registry | None = None, max_tensor_bytes: int | None = None,
           channels_last: bool = True) -> OnnxModule:
    """An ONNX model (path, bytes or ``ModelProto``) as a ``flax.nnx`` module.

    ``module(x)`` returns the graph's output (a tuple when it has several);
    ``module(x, capture=[names])`` a dict by ONNX value name. Variables are in
    ``module.initializers`` (see the module docs for which are ``nnx.Param``). Errors as
    :func:`~.convert.to_jax`, plus :class:`OnnxGraphError` for a graph whose data input is unknown.
    """
    return OnnxModule(convert(source, registry=registry, max_tensor_bytes=max_tensor_bytes, channels_last=channels_last))


def to_linen(source: Any, *, registry: Registry | None = None, max_tensor_bytes: int | None = None,
             channels_last: bool = True) -> tuple[OnnxLinen, dict[str, dict[str, jax.Array]]]:
    """An ONNX model as ``(module, variables)`` for ``flax.linen``.

    ``module.apply(variables, x)`` runs it; ``module.init(rng, x)`` returns the same
    ``variables`` (the model's weights, not random ones), also when the module is a submodule
    of a larger ``nn.Module``. Collections: ``"params"``, ``"batch_stats"``, ``"constants"``
    (empty ones left out, as ``init`` does).
    """
    graph = convert(source, registry=registry, max_tensor_bytes=max_tensor_bytes, channels_last=channels_last)
    variables: dict[str, dict[str, jax.Array]] = {}
    for name, array in graph.arrays.items():
        variables.setdefault(graph.roles[name], {})[name] = array
    return OnnxLinen(graph), variables
