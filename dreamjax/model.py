"""The contracts between the engine and the model backends.

Images inside the engine are float32 ``[B, H, W, 3]``, RGB, values in ``[0, 1]``. A model
applies its own normalisation and layout change inside ``apply`` so that XLA fuses them.

A model may also have a ``fingerprint`` string that names what its ``apply`` computes (say its
weights file and options); compiled programs are cached under it. Without one, a hash of its
parameters, layers and input spec is taken (once per model), which is slower and blind to a
graph that changes while its weights do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import UnknownNameError

if TYPE_CHECKING:  # annotations only: importing the model contract must not import JAX
    import jax


@dataclass(frozen=True)
class LayerInfo:
    """A dreamable layer: its name, channel count and spatial size at the native input size.

    ``aliases`` are other names that resolve to the same activation (the module scopes whose
    output an ONNX value is, say).
    """

    name: str
    channels: int
    spatial: tuple[int, int] | None = None
    description: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class InputSpec:
    """What a model expects: native size, smallest usable size, and its normalisation.

    ``same_padding``: its strided layers pad like TensorFlow's "SAME" (the padding, so the
    sampling grid, depends on each layer's input size). The engine then places a picture in a
    bigger canvas at the offset that keeps every layer's grid where it is on the picture alone
    (see :mod:`dreamjax.ascent.buckets`).
    """

    native_size: tuple[int, int]
    min_size: int
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    same_padding: bool = False


@runtime_checkable
class DreamModel(Protocol):
    name: str
    params: Any
    layers: tuple[LayerInfo, ...]
    input_spec: InputSpec
    # Name of the layer holding class logits and the class names, where the model has them.
    logits_layer: str | None
    class_names: tuple[str, ...] | None
    # Optional: ``all_layers``, every layer ``apply`` captures, when ``layers`` lists a selection
    # (an ONNX model lists its module outputs; every graph value is in ``all_layers``).
    # Optional: ``compiler_options``, XLA options measured for this network, by backend
    # (``{"cpu": {...}}``); added to dreamjax's own (:mod:`dreamjax.runtime.compiler`).

    def apply(self, params: Any, images: jax.Array, capture: Sequence[str]) -> dict[str, jax.Array]:
        """Run the network on ``images`` ``[B, H, W, 3]`` in ``[0, 1]``.

        Returns the captured activations by name, each ``[B, h, w, C]`` (or ``[B, C]`` for
        vector layers such as logits).
        """
        ...


@runtime_checkable
class Backend(Protocol):
    name: str

    def available(self) -> list[str]:
        """Model names this backend loads without a path."""
        ...

    def accepts(self, ref: str) -> bool:
        """Whether ``ref`` (a name or a path) is for this backend."""
        ...

    def load(self, ref: str, **options: Any) -> DreamModel: ...


def layer_names(model: DreamModel) -> list[str]:
    return [layer.name for layer in model.layers]


def every_layer(model: DreamModel) -> tuple[LayerInfo, ...]:
    """``model.all_layers`` where the model has it, else ``model.layers``."""
    return tuple(getattr(model, "all_layers", None) or model.layers)


def find_layer(model: DreamModel, name: str) -> LayerInfo:
    """The layer called ``name`` (a listed layer, any other layer, or an alias of one).

    An unknown name raises UnknownNameError suggesting the nearest listed names first, then
    aliases, then the other layers.
    """
    everything = every_layer(model)
    for layer in (*model.layers, *everything):
        if layer.name == name:
            return layer
    for layer in (*model.layers, *everything):
        if name in layer.aliases:
            return layer
    aliases = [alias for layer in everything for alias in layer.aliases]
    raise UnknownNameError(f"layer of {model.name}", name, layer_names(model), (aliases, [layer.name for layer in everything]))


def check_layers(model: DreamModel, names: Sequence[str]) -> None:
    """Raise UnknownNameError (with the nearest names) for any layer the model lacks."""
    for name in names:
        find_layer(model, name)
