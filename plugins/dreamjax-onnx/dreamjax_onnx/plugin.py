"""The dreamjax Backend published under the ``dreamjax.backends`` entry point as ``onnx``.

``dreamjax.load_model("net.onnx", mean=..., std=..., size=...)`` lands here. The model's
``apply`` takes ``[B, H, W, 3]`` RGB images in ``[0, 1]``, applies the network's input
normalisation, runs the converted graph in NCHW and returns the captured values NHWC.

Options: ``mean``/``std`` (per channel, in [0, 1] units; default ImageNet), ``size`` (native
input size when the graph leaves it open; default 224), ``pixel_scale`` (multiply images first,
e.g. 255 for Caffe-era models), ``bgr`` (feed channels in BGR order), ``kernels`` (``"auto"``,
``"cpu"`` or ``"plain"``: see ``to_jax``).

Layers. ``layers`` lists the outputs of the graph's module scopes (``inception4c``,
``layer3.1``; see :mod:`.scopes`), or every 4-D float value where the graph names no scopes;
``all_layers`` holds every 4-D float value, each with the scopes it is the output of as
aliases. ``apply`` captures any of these names.

The graph is converted for dreaming: BatchNormalizations after a Conv are folded into it
(``to_jax(fold_batchnorm=True)``), so the value between such a Conv and its BatchNormalization
is not a layer.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dreamjax.errors import DreamjaxError
from dreamjax.nn import KERNEL_CHOICES
from dreamjax.model import InputSpec, LayerInfo

from .convert import OnnxFunction, to_jax
from .errors import OnnxGraphError
from .scopes import find_scopes

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_SIZE = 224
MAX_NATIVE_SIDE = 16384
# Sizes tried (smallest first) to find the smallest input the graph accepts.
_PROBE_SIZES = (16, 32, 48, 64, 96, 128, 160, 192)


@dataclass
class OnnxDreamModel:
    """An ONNX graph as a dreamjax DreamModel (see module docs)."""

    name: str
    fn: OnnxFunction = field(repr=False)  # the converted graph; ``params`` are its weights
    params: Any
    layers: tuple[LayerInfo, ...]
    input_spec: InputSpec
    logits_layer: str | None
    class_names: tuple[str, ...] | None
    pixel_scale: float = 1.0
    bgr: bool = False
    all_layers: tuple[LayerInfo, ...] = ()
    value_of: dict[str, str] = field(default_factory=dict, repr=False)  # scope name -> graph value

    def preprocess(self, images: jax.Array) -> jax.Array:
        """``[B, H, W, 3]`` in [0, 1] -> the graph's normalised NCHW input."""
        x = images * self.pixel_scale if self.pixel_scale != 1.0 else images
        mean = jnp.asarray(self.input_spec.mean, x.dtype) * self.pixel_scale
        std = jnp.asarray(self.input_spec.std, x.dtype) * self.pixel_scale
        x = (x - mean) / std
        if self.bgr:
            x = x[..., ::-1]
        return jnp.transpose(x, (0, 3, 1, 2))

    def apply(self, params: Any, images: jax.Array, capture: Sequence[str]) -> dict[str, jax.Array]:
        wanted = {name: self.value_of.get(name, name) for name in capture}
        values = self.fn.capture(params, self.preprocess(images), names=list(dict.fromkeys(wanted.values())))
        return {k: (jnp.transpose(v, (0, 2, 3, 1)) if jnp.ndim(v) == 4 else jnp.asarray(v)) for k, v in
                ((name, values[value]) for name, value in wanted.items())}


def _imagenet_classes() -> tuple[str, ...] | None:
    try:
        text = importlib.resources.files("dreamjax").joinpath("data/imagenet_classes.txt").read_text("utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        return None
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    return names if len(names) == 1000 else None


def _native_size(fn: OnnxFunction, model_input_dims: list[Any], size: Any) -> tuple[int, int]:
    if size is not None:
        return (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    h, w = model_input_dims[2:4] if len(model_input_dims) == 4 else (None, None)
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        if max(h, w) > MAX_NATIVE_SIDE:  # a crafted header, not a network anyone trained
            raise DreamjaxError(f"the graph's input declares a {w}x{h} image, over {MAX_NATIVE_SIDE} pixels a side",
                                "pass size=... if the model really takes such images")
        return (h, w)
    return (DEFAULT_SIZE, DEFAULT_SIZE)


def _input_dims(model_graph_input) -> list[Any]:
    dims = []
    for d in model_graph_input.type.tensor_type.shape.dim:
        dims.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or None))
    return dims


def _trace_shapes(fn: OnnxFunction, params: Any, hw: tuple[int, int], names: Sequence[str]):
    spec = jax.ShapeDtypeStruct((1, 3, *hw), jnp.float32)
    return jax.eval_shape(lambda p, x: fn.capture(p, x, names=list(names)), params, spec)


class OnnxBackend:
    name = "onnx"

    def available(self) -> list[str]:
        return []

    def accepts(self, ref: str) -> bool:
        return str(ref).lower().endswith(".onnx")

    def load(self, ref: str, **options: Any) -> OnnxDreamModel:
        from .load import load_onnx

        unknown = set(options) - {"mean", "std", "size", "pixel_scale", "bgr", "kernels"}
        if unknown:
            raise DreamjaxError(f"unknown option(s) for ONNX models: {sorted(unknown)}",
                                "use mean, std, size, pixel_scale, bgr, kernels")
        kernels = options.get("kernels", "auto")
        if kernels not in KERNEL_CHOICES:
            raise DreamjaxError(f"unknown kernels={kernels!r} for ONNX models", f"choose from {', '.join(KERNEL_CHOICES)}")
        model = load_onnx(ref)
        fn, params = to_jax(model, kernels=kernels, fold_batchnorm=True)
        if len(fn.inputs) != 1:
            raise DreamjaxError(
                f"{ref}: the graph takes {len(fn.inputs)} inputs {list(fn.inputs)}; an image model takes one",
            )
        graph_input = next(i for i in model.graph.input if i.name == fn.inputs[0])
        dims = _input_dims(graph_input)
        if len(dims) != 4 or dims[1] not in (3, None):
            raise DreamjaxError(f"{ref}: input {fn.inputs[0]!r} has shape {dims}; expected [N, 3, H, W]")
        hw = _native_size(fn, dims, options.get("size"))
        try:
            shapes = _trace_shapes(fn, params, hw, fn.values)
        except DreamjaxError as exc:
            raise DreamjaxError(f"{ref}: the graph does not run at {hw[0]}x{hw[1]}: {exc.message}", "pass size=...") from exc
        layers, all_layers, value_of = _layers(model.graph, fn, shapes)
        logits = next(
            (o for o in fn.outputs if tuple(shapes[o].shape) == (1, 1000) and jnp.issubdtype(shapes[o].dtype, jnp.floating)),
            None,
        )
        mean = tuple(float(v) for v in options.get("mean", IMAGENET_MEAN))
        std = tuple(float(v) for v in options.get("std", IMAGENET_STD))
        return OnnxDreamModel(
            name=Path(str(ref)).stem,
            params=params,
            layers=layers,
            input_spec=InputSpec(hw, _min_size(fn, params, hw), mean, std),
            logits_layer=logits,
            class_names=_imagenet_classes() if logits else None,
            fn=fn,
            pixel_scale=float(options.get("pixel_scale", 1.0)),
            bgr=bool(options.get("bgr", False)),
            all_layers=all_layers,
            value_of=value_of,
        )


def _layers(graph, fn: OnnxFunction, shapes) -> tuple[tuple[LayerInfo, ...], tuple[LayerInfo, ...], dict[str, str]]:
    """The listed layers, every layer, and each scope name's value (see module docs)."""

    def activation(name: str) -> bool:  # per image, floating point: not shape arithmetic
        s = shapes[name]
        return len(s.shape) >= 2 and s.shape[0] == 1 and jnp.issubdtype(s.dtype, jnp.floating)

    def feature_map(name: str) -> bool:
        return activation(name) and len(shapes[name].shape) == 4

    producer = {o: node for node in graph.node for o in node.output if o}
    nodes = list({id(producer[v]): producer[v] for v in fn.values}.values())  # execution order, as fn.values
    scopes = find_scopes(nodes, fn.outputs, activation, feature_map)
    values = set(fn.values)
    # An exact value name wins over a scope of the same name that stands for another value.
    value_of = {name: value for name, value in scopes.names.items() if feature_map(value) and (name == value or name not in values)}
    aliases: dict[str, list[str]] = {}
    for name, value in value_of.items():
        if name != value:
            aliases.setdefault(value, []).append(name)

    def info(name: str, value: str, names: tuple[str, ...] = ()) -> LayerInfo:
        s = shapes[value].shape
        return LayerInfo(name, int(s[1]), (int(s[2]), int(s[3])), producer[value].op_type, names)

    every = tuple(info(v, v, tuple(aliases.get(v, ()))) for v in fn.values if feature_map(v))  # execution order
    listed = tuple(info(name, value_of[name]) for name in scopes.listed if name in value_of)
    return listed or every, every, value_of


def _min_size(fn: OnnxFunction, params: Any, native: tuple[int, int]) -> int:
    """The smallest probed square size at which the whole graph still traces."""
    for s in _PROBE_SIZES:
        if s >= min(native):
            break
        try:
            _trace_shapes(fn, params, (s, s), fn.outputs)
        except (DreamjaxError, ValueError, TypeError, OnnxGraphError):
            continue
        return s
    return min(native)


backend = OnnxBackend()
