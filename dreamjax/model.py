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
    """A dreamable layer: its name, channel count and spatial size at the native input size."""

    name: str
    channels: int
    spatial: tuple[int, int] | None = None
    description: str = ""


@dataclass(frozen=True)
class InputSpec:
    """What a model expects: native size, smallest usable size, and its normalisation."""

    native_size: tuple[int, int]
    min_size: int
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


@runtime_checkable
class DreamModel(Protocol):
    name: str
    params: Any
    layers: tuple[LayerInfo, ...]
    input_spec: InputSpec
    # Name of the layer holding class logits and the class names, where the model has them.
    logits_layer: str | None
    class_names: tuple[str, ...] | None

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


def check_layers(model: DreamModel, names: Sequence[str]) -> None:
    """Raise UnknownNameError (with the nearest names) for any layer the model lacks."""
    known = set(layer_names(model))
    for name in names:
        if name not in known:
            raise UnknownNameError(f"layer of {model.name}", name, layer_names(model))
