"""ONNX graph -> pure JAX function plus a params pytree.

``fn, params = to_jax(model)``; ``fn(params, *inputs)`` returns the graph outputs as a tuple.
It is pure (no state, no I/O), jit-able and differentiable with respect to its inputs and
params. ``fn.capture(params, *inputs, names=[...])`` returns any values by their ONNX names
(intermediate or output) as a dict, running only the nodes those values need.

Static values. Values derived only from constants and shapes (``Shape -> Gather -> Concat ->
Reshape`` chains, Constant nodes, integer initializers) are kept as numpy arrays and folded
while tracing, using the same kernels run eagerly (with 64-bit types, so int64 sentinels such as
``INT64_MAX`` in Slice stay exact). Because they come from the *traced* shapes, one converted
function serves every input size the graph allows; nothing is pinned to the export size.

Params. Floating-point initializers become ``params`` (a flat dict name -> array) unless an
operator needs their value to decide a shape (Resize scales, Upsample scales...); those, and
all integer/bool initializers, stay constants inside ``fn``.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import onnx
from onnx import numpy_helper

from dreamjax import nn as shared_kernels
from dreamjax.errors import UnknownNameError

from . import fold, layout
from .errors import OnnxGraphError, OpCoverage, UnsupportedOpsError
from .graph import GraphInfo, graph_info, initializer_arrays, node_label, subgraphs, topological_order
from .load import load_onnx
from .registry import OpSpec, Registry, canonical_domain, default_registry, schema_version

# Ops whose value is not a function of their inputs; never folded as constants.
NONDETERMINISTIC = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
)


# Ops whose output may be an empty optional (represented as None).
EMPTY_OPTIONAL_OK = frozenset({"Optional", "Identity"})


def attribute_value(attr: onnx.AttributeProto) -> Any:
    """A node attribute as a plain Python / numpy value (subgraphs stay GraphProto)."""
    A = onnx.AttributeProto
    if attr.type == A.TENSOR:
        return numpy_helper.to_array(attr.t)
    if attr.type == A.TENSORS:
        return [numpy_helper.to_array(t) for t in attr.tensors]
    if attr.type == A.STRING:
        return attr.s.decode("utf-8", "replace")
    if attr.type == A.STRINGS:
        return [s.decode("utf-8", "replace") for s in attr.strings]
    if attr.type == A.INTS:
        return [int(i) for i in attr.ints]
    if attr.type == A.FLOATS:
        return [float(f) for f in attr.floats]
    return onnx.helper.get_attribute_value(attr)


@dataclass
class Node:
    """What a kernel sees of its node: attributes, opset, outputs, and its subgraphs."""

    op_type: str
    name: str
    opset: int
    attrs: Mapping[str, Any]
    outputs: tuple[str, ...]
    _executor: Executor | None = field(default=None, repr=False)
    _scope: Mapping[str, Any] | None = field(default=None, repr=False)
    kernels: str = "auto"

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    @property
    def cpu_kernels(self) -> bool:
        """Whether this trace uses the kernels written for XLA:CPU (:mod:`dreamjax.nn.platform`)."""
        return shared_kernels.cpu_kernels(self.kernels)

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    def wants(self, index: int) -> bool:
        """Whether output ``index`` is used (present and named)."""
        return index < len(self.outputs) and bool(self.outputs[index])

    def run_subgraph(self, key: str, feeds: Sequence[Any]) -> list[Any]:
        """Run the subgraph attribute ``key`` with positional ``feeds``; outer values visible."""
        graph = self.attrs[key]
        assert self._executor is not None and self._scope is not None
        return self._executor.run_subgraph(graph, feeds, self._scope)


@dataclass(frozen=True)
class PlannedNode:
    proto: onnx.NodeProto
    spec: OpSpec
    node: Node


class Executor:
    """Runs (sub)graphs of one model with kernels chosen for that model's opsets.

    With ``channels_last``, ops that have a channels-last variant get the chance to run it
    (:mod:`.layout`); the values in ``env`` may then be :class:`~.layout.Relaid`.
    """

    def __init__(self, registry: Registry, opsets: Mapping[str, int], channels_last: bool = False,
                 kernels: str = "auto"):
        self.registry = registry
        self.opsets = dict(opsets)
        self.channels_last = channels_last
        self.kernels = kernels
        self._plans: dict[int, list[PlannedNode]] = {}

    def plan(self, graph: onnx.GraphProto, available: set[str], where: str = "graph") -> list[PlannedNode]:
        key = id(graph)
        if key not in self._plans:
            order = topological_order(list(graph.node), available, where)
            planned = []
            for i, proto in enumerate(order):
                domain = canonical_domain(proto.domain)
                spec = self.registry.lookup(proto.op_type, self.opsets.get(domain, 0), domain)
                attrs = {a.name: attribute_value(a) for a in proto.attribute}
                node = Node(proto.op_type, node_label(proto, i), self.opsets[domain], attrs, tuple(proto.output),
                            kernels=self.kernels)
                planned.append(PlannedNode(proto, spec, node))
            self._plans[key] = (graph, planned)  # keep graph alive so id() stays unique
        return self._plans[key][1]

    def run(self, planned: Sequence[PlannedNode], env: dict[str, Any]) -> dict[str, Any]:
        for p in planned:
            args = [env[n] if n else None for n in p.proto.input]
            node = p.node
            if p.node.attrs and any(isinstance(v, onnx.GraphProto) for v in p.node.attrs.values()):
                node = Node(node.op_type, node.name, node.opset, node.attrs, node.outputs, self, env, self.kernels)
            static = p.proto.op_type not in NONDETERMINISTIC and all(
                a is None or isinstance(a, np.ndarray) for a in args
            )
            try:
                if static:
                    with jax.enable_x64(True), jax.ensure_compile_time_eval():
                        result = p.spec.kernel(node, *args)
                        result = _map(result, _to_numpy)
                else:
                    result = None
                    if self.channels_last and p.spec.channels_last is not None:
                        result = p.spec.channels_last(node, *args)
                    if result is None:
                        args = [layout.standard(a) for a in args]
                        result = p.spec.kernel(node, *args)
            except (OnnxGraphError, UnknownNameError):
                raise
            except Exception as exc:
                from dreamjax.errors import DreamjaxError

                if isinstance(exc, DreamjaxError):
                    raise
                raise OnnxGraphError(
                    f"{p.node.op_type} node {p.node.name!r} (opset {p.node.opset}) failed: {type(exc).__name__}: {exc}",
                    "input shapes: " + ", ".join(str(getattr(a, "shape", None)) for a in args),
                ) from exc
            # A tuple is several outputs; a list is one sequence-typed value.
            results = result if isinstance(result, tuple) else (result,)
            for i, name in enumerate(p.proto.output):
                if not name:
                    continue
                if i >= len(results) or (results[i] is None and p.proto.op_type not in EMPTY_OPTIONAL_OK):
                    raise OnnxGraphError(f"{p.node.op_type} node {p.node.name!r} does not produce output {i} ({name!r})")
                env[name] = results[i]
        return env

    def run_subgraph(self, graph: onnx.GraphProto, feeds: Sequence[Any], scope: Mapping[str, Any]) -> list[Any]:
        env: dict[str, Any] = collections.ChainMap({}, scope)  # type: ignore[assignment]
        for t in graph.initializer:
            env[t.name] = numpy_helper.to_array(t)
        for inp, val in zip(graph.input, feeds):
            env[inp.name] = val
        planned = self.plan(graph, set(env.keys()) | set(scope.keys()), f"subgraph {graph.name!r}")
        self.run(planned, env)
        return [layout.standard(env[o.name]) for o in graph.output]


def _as_input(x: Any) -> Any:
    """Graph inputs become jax arrays (data); sequences stay lists and absent optionals None."""
    if x is None or isinstance(x, jax.Array):
        return x
    if isinstance(x, (list, tuple)):
        return [_as_input(v) for v in x]
    if isinstance(x, np.ndarray) and x.dtype.kind in "OSU":
        return x  # string tensors: JAX has no string type, a few ops handle them in numpy
    return jnp.asarray(x)


def _to_numpy(x: Any) -> Any:
    if x is None or isinstance(x, (list, tuple)):
        return x
    return np.asarray(x)


def _map(result: Any, f) -> Any:
    if isinstance(result, tuple):
        return tuple(f(r) for r in result)
    if isinstance(result, list):
        return [f(r) for r in result]
    return f(result)


def model_opsets(model: onnx.ModelProto) -> dict[str, int]:
    return {canonical_domain(o.domain): int(o.version) for o in model.opset_import}


def check_model(source: Any, registry: Registry | None = None) -> list[OpCoverage]:
    """Coverage of every (domain, op_type, opset) in a model, subgraphs included.

    Accepts a path, bytes or ``ModelProto``. Sorted by domain then op type.
    """
    model = load_onnx(source)
    return coverage(model, registry or default_registry())


def coverage(model: onnx.ModelProto, registry: Registry) -> list[OpCoverage]:
    opsets = model_opsets(model)
    found: dict[tuple[str, str], list[str]] = collections.defaultdict(list)

    def walk(graph: onnx.GraphProto) -> None:
        for i, node in enumerate(graph.node):
            found[(canonical_domain(node.domain), node.op_type)].append(node_label(node, i))
            for g in subgraphs(node):
                walk(g)

    walk(model.graph)
    table = []
    for (domain, op_type), nodes in sorted(found.items()):
        opset = opsets.get(domain)
        since = schema_version(op_type, opset, domain) if opset is not None else None
        supported = since is not None and registry.resolve(op_type, opset, domain) is not None
        table.append(OpCoverage(domain, op_type, opset if opset is not None else -1, since, supported, tuple(nodes)))
    return table


def _static_names(model: onnx.ModelProto, registry: Registry, opsets: Mapping[str, int]) -> set[str]:
    """Names read at some kernel's static input positions (anywhere in the model)."""
    names: set[str] = set()

    def walk(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            domain = canonical_domain(node.domain)
            spec = registry.resolve(node.op_type, opsets.get(domain, 0), domain)
            if spec is not None:
                names.update(node.input[i] for i in spec.static_inputs if i < len(node.input))
            for g in subgraphs(node):
                walk(g)

    walk(model.graph)
    return names


class OnnxFunction:
    """The converted graph. Call it as ``fn(params, *inputs) -> tuple`` (see module docs).

    ``inputs`` / ``outputs`` are the ONNX names of the graph inputs and outputs; ``values`` the
    names of every node output in execution order (all capturable).
    """

    def __init__(self, model: onnx.ModelProto, registry: Registry, constants: dict[str, np.ndarray],
                 param_shapes: Mapping[str, tuple[int, ...]], *, channels_last: bool = False,
                 param_layouts: Mapping[str, tuple[int, ...]] | None = None, kernels: str = "auto"):
        self._graph = model.graph
        self.param_layouts = dict(param_layouts or {})
        self._executor = Executor(registry, model_opsets(model), channels_last, kernels)
        self._constants = constants
        self._param_shapes = dict(param_shapes)
        available = set(constants) | set(param_shapes) | {i.name for i in model.graph.input}
        self._order = self._executor.plan(model.graph, available)
        info: GraphInfo = graph_info(model.graph, [p.proto for p in self._order])
        self.inputs = info.inputs
        self.outputs = info.outputs
        self.values = info.values
        self._producer = {o: i for i, p in enumerate(self._order) for o in p.proto.output if o}
        self._pruned: dict[frozenset[str], list[PlannedNode]] = {}
        self._known = set(self.values) | set(self.inputs) | set(constants) | set(param_shapes)

    def __call__(self, params: Mapping[str, Any], *inputs: Any) -> tuple[jax.Array, ...]:
        got = self.capture(params, *inputs, names=self.outputs)
        return tuple(got[n] for n in self.outputs)

    def capture(self, params: Mapping[str, Any], *inputs: Any, names: Sequence[str]) -> dict[str, jax.Array]:
        """The values called ``names`` (ONNX value names) for these inputs, as a dict."""
        names = list(names)
        for n in names:
            if n not in self._known:
                raise UnknownNameError("ONNX value", n, self.values)
        if len(inputs) != len(self.inputs):
            raise OnnxGraphError(
                f"the graph takes {len(self.inputs)} input(s) {list(self.inputs)}, got {len(inputs)}"
            )
        env: dict[str, Any] = dict(self._constants)
        missing = [n for n in self._param_shapes if n not in params]
        if missing:
            raise OnnxGraphError(f"params lack {missing[:5]}", "pass the params returned by to_jax")
        env.update({n: params[n] for n in self._param_shapes})
        for name, perm in self.param_layouts.items():
            if tuple(params[name].shape) != self._param_shapes[name]:
                raise OnnxGraphError(
                    f"params[{name!r}] has shape {tuple(params[name].shape)}, but this function stores that "
                    f"Conv/Gemm weight permuted by {perm} as {self._param_shapes[name]}",
                    "pass the params returned by the same to_jax call (see fn.param_layouts)",
                )
            env[name] = layout.Relaid(params[name], perm)
        for name, x in zip(self.inputs, inputs):
            env[name] = _as_input(x)
        self._executor.run(self._needed(frozenset(names)), env)
        return {n: layout.standard(env[n]) for n in names}

    def _needed(self, wanted: frozenset[str]) -> list[PlannedNode]:
        if wanted not in self._pruned:
            keep: set[int] = set()
            stack = [self._producer[n] for n in wanted if n in self._producer]
            while stack:
                i = stack.pop()
                if i in keep:
                    continue
                keep.add(i)
                from .graph import node_reads

                stack.extend(self._producer[n] for n in node_reads(self._order[i].proto) if n in self._producer)
            self._pruned[wanted] = [p for i, p in enumerate(self._order) if i in keep]
        return self._pruned[wanted]


def to_jax(source: Any, *, registry: Registry | None = None, max_tensor_bytes: int | None = None,
           channels_last: bool = True, kernels: str = "auto",
           fold_batchnorm: bool = False) -> tuple[OnnxFunction, dict[str, jax.Array]]:
    """Convert an ONNX model (path, bytes or ModelProto) to ``(fn, params)``.

    ``kernels`` picks how convolutions and pools are written (:mod:`dreamjax.nn.platform`):
    ``"cpu"`` as slices and hand-written gradients that XLA:CPU runs fast, ``"plain"`` as
    ``lax.conv`` / ``reduce_window`` (what cuDNN runs well), ``"auto"`` (default) by the default
    JAX backend when the function is traced. Values and gradients agree either way.
    ``fold_batchnorm`` merges inference-mode BatchNormalizations into the Conv before them, on
    the weights (:mod:`.fold`): faster, but their params and the Conv's own output are gone.

    ``params`` maps initializer names to arrays in ONNX layout, except that with
    ``channels_last`` (the default: convolutional graphs run NHWC inside, see :mod:`.layout`)
    the kernels of 2-D convolutions are stored HWIO and ``transB`` Gemm matrices transposed;
    ``fn.param_layouts`` names them, with the axis permutation applied (``params[name] == initializer.transpose(perm)``).

    Raises :class:`UnsupportedOpsError` listing *every* unsupported operator before anything
    is converted, :class:`OnnxLoadError` for unreadable files and :class:`OnnxGraphError` for
    broken graphs.
    """
    kwargs = {} if max_tensor_bytes is None else {"max_tensor_bytes": max_tensor_bytes}
    model = load_onnx(source, **kwargs)
    registry = registry or default_registry()
    missing = [c for c in coverage(model, registry) if not c.supported]
    if missing:
        raise UnsupportedOpsError(missing)
    opsets = model_opsets(model)
    arrays = initializer_arrays(model.graph)
    if fold_batchnorm:
        model, arrays, _ = fold.fold_batchnorm(model, arrays)
    static = _static_names(model, registry, opsets)
    constants, weights = {}, {}
    for name, arr in arrays.items():
        if np.issubdtype(arr.dtype, np.floating) and name not in static:
            weights[name] = arr
        else:
            constants[name] = arr
    layouts = layout.weight_layouts(model, weights) if channels_last else {}
    params = {
        name: jnp.asarray(np.ascontiguousarray(arr.transpose(layouts[name])) if name in layouts else arr)
        for name, arr in weights.items()
    }
    shapes = {name: tuple(p.shape) for name, p in params.items()}
    shared_kernels.cpu_kernels(kernels)  # an unknown choice fails here, not at the first call
    fn = OnnxFunction(model, registry, constants, shapes, channels_last=channels_last, param_layouts=layouts,
                      kernels=kernels)
    return fn, params
