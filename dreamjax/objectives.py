"""What the ascent maximises: weighted sums of terms over captured activations.

An Objective is a pytree: array data (such as guide features) are leaves, names and weights
are static, so one compiled program serves every objective of the same structure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp

from .model import DreamModel, check_layers


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class LayerEnergy:
    """Mean squared activation of a layer (the classic DeepDream objective)."""

    layer: str = field(metadata=dict(static=True))
    weight: float = field(default=1.0, metadata=dict(static=True))

    def score(self, act: jax.Array) -> jax.Array:
        axes = tuple(range(1, act.ndim))
        return jnp.mean(jnp.square(act), axis=axes)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Objective:
    terms: tuple = ()

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(term.layer for term in self.terms))

    def __call__(self, acts: Mapping[str, jax.Array]) -> jax.Array:
        """Per-image objective value, shape ``[B]``."""
        return sum(term.weight * term.score(acts[term.layer]) for term in self.terms)


def default_layer(model: DreamModel) -> str:
    """A mid-depth layer: the look most people expect from DeepDream."""
    default = getattr(model, "default_layer", None)
    if default:
        return default
    spatial = [layer.name for layer in model.layers if layer.spatial is not None]
    names = spatial or [layer.name for layer in model.layers]
    return names[int(len(names) * 0.6)]


def layer_objective(
    model: DreamModel, layers: str | Sequence[str] | Mapping[str, float] | None = None
) -> Objective:
    """Layer energy over one or more layers; a mapping gives each its weight."""
    if layers is None:
        layers = [default_layer(model)]
    elif isinstance(layers, str):
        layers = [layers]
    weights = dict(layers) if isinstance(layers, Mapping) else {name: 1.0 for name in layers}
    check_layers(model, list(weights))
    return Objective(tuple(LayerEnergy(name, float(w)) for name, w in weights.items()))
