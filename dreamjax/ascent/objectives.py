"""What the ascent maximises: weighted sums of terms over captured activations.

An Objective is a pytree: its numbers (weights, channel and class numbers, neuron positions)
and array data (guide features) are leaves, layer names and how many channels a term reads are
static, so one compiled program serves every objective of the same structure. Each term scores
a batch of activations ``[B, h, w, C]`` (or ``[B, C]``) as ``[B]``; given the picture's
:class:`~dreamjax.ascent.region.Region` in a padded canvas, it scores the picture's cells only.

Terms: :class:`LayerEnergy` (the classic DeepDream objective), :class:`ChannelMean` (one or more
channels), :class:`Neuron` (one channel at one position), :class:`ClassLogit` (a class, by name)
and :class:`GuideFeatures` (what a layer sees in a guide image). Objectives add and scale::

    objective = layer_objective(model, "blocks.5") + 2.0 * class_objective(model, "tabby cat")

:func:`build_objective` turns the text form (see :mod:`dreamjax.ascent.objective_syntax`) or its terms
into an Objective for one model, and reports every unknown name at once, with suggestions.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import DreamjaxError
from ..model import DreamModel, check_layers, find_layer
from .classes import class_index, class_label
from .objective_syntax import (
    CENTRE,
    MAX_WEIGHT,
    ClassTerm,
    GuideTerm,
    LayerTerm,
    Term,
    format_term,
    parse_objective,
    usable_weight,
)
from .region import Region


def _static(**kwargs):
    return field(metadata=dict(static=True), **kwargs)


def _positions_mean(values: jax.Array, region: Region | None) -> jax.Array:
    """Per-image mean over positions and channels, counting only the picture's cells."""
    if region is None or values.ndim != 4:
        return jnp.mean(values, axis=tuple(range(1, values.ndim)))
    return region.mean(values)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class LayerEnergy:
    """Mean squared activation of a layer (the classic DeepDream objective)."""

    layer: str = _static()
    weight: float = 1.0

    def score(self, act: jax.Array, region: Region | None = None) -> jax.Array:
        return _positions_mean(jnp.square(act), region)

    def describe(self) -> str:
        return format_term(LayerTerm(self.layer, weight=self.weight))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ChannelMean:
    """Mean activation of some channels over all positions (Lucid's ``channel`` objective)."""

    layer: str = _static()
    channels: tuple[int, ...] = ()
    weight: float = 1.0

    def score(self, act: jax.Array, region: Region | None = None) -> jax.Array:
        picked = jnp.take(act, jnp.stack([jnp.asarray(c) for c in self.channels]), axis=-1)
        return _positions_mean(picked, region)

    def describe(self) -> str:
        return format_term(LayerTerm(self.layer, self.channels, weight=self.weight))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Neuron:
    """One channel at one position; ``position`` is ``(x, y)`` as fractions of width and height.

    The position is taken on the activation grid of each octave, so it stays at the same place
    in the picture while the octaves grow.
    """

    layer: str = _static()
    channel: int = 0
    position: tuple[float, float] = CENTRE
    weight: float = 1.0

    def score(self, act: jax.Array, region: Region | None = None) -> jax.Array:
        act = jnp.take(act, jnp.asarray(self.channel), axis=-1)
        if act.ndim == 1:
            return act
        y0, rows, x0, cols = region.cells(act.shape[1:3]) if region is not None else (0, act.shape[1], 0, act.shape[2])
        x, y = self.position
        batch = act.shape[0]
        row = jnp.broadcast_to(y0 + jnp.round(y * (rows - 1)).astype(jnp.int32), (batch,))
        col = jnp.broadcast_to(x0 + jnp.round(x * (cols - 1)).astype(jnp.int32), (batch,))
        return act[jnp.arange(batch), row, col]

    def describe(self) -> str:
        return format_term(LayerTerm(self.layer, (self.channel,), self.position, self.weight))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ClassLogit:
    """The logit (pre-softmax score) of class ``index``, read from the model's logits layer."""

    layer: str = _static()
    index: int = 0
    label: str = _static(default="")
    weight: float = 1.0

    def score(self, act: jax.Array, region: Region | None = None) -> jax.Array:
        act = jnp.take(act, jnp.asarray(self.index), axis=-1)
        if act.ndim > 1:  # a convolutional classifier head: average its positions
            return _positions_mean(act[..., None], region)
        return act

    def describe(self) -> str:
        return format_term(ClassTerm(self.label or str(self.index), self.weight))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class GuideFeatures:
    """Guided dreaming as in the original DeepDream notebook.

    ``features`` ``[N, C]`` are the layer's feature vectors at every position of the guide image,
    captured once. Each position of the dreamed image is matched to the guide feature with the
    largest dot product, and that dot product is maximised (averaged over positions): the image
    is pushed toward the guide's features that it already resembles most.
    """

    features: jax.Array
    layer: str = _static()
    label: str = _static(default="guide")
    weight: float = 1.0

    def score(self, act: jax.Array, region: Region | None = None) -> jax.Array:
        similarity = jnp.einsum("...c,nc->...n", act, self.features)
        return _positions_mean(jnp.max(similarity, axis=-1, keepdims=True), region)

    def describe(self) -> str:
        return format_term(GuideTerm(self.label, self.layer, self.weight))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Objective:
    """A weighted sum of terms; ``objective(acts)`` is the per-image value, shape ``[B]``."""

    terms: tuple = ()

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(term.layer for term in self.terms))

    def __call__(self, acts: Mapping[str, jax.Array], region: Region | None = None) -> jax.Array:
        return sum(term.weight * term.score(acts[term.layer], region) for term in self.terms)

    def __add__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return Objective(self.terms + other.terms)

    def __mul__(self, factor: float) -> Objective:
        if not isinstance(factor, numbers.Real):
            return NotImplemented
        return Objective(tuple(dataclasses.replace(t, weight=t.weight * float(factor)) for t in self.terms))

    __rmul__ = __mul__

    def describe(self) -> str:
        """The objective in the compact text form (guide images by file name)."""
        return ",".join(term.describe() for term in self.terms)

    def structure(self) -> list[dict]:
        """What a compiled program depends on: each term's kind, layer and the shapes of its numbers."""
        return [
            {"term": type(term).__name__, "layer": term.layer,
             "leaves": [list(np.shape(leaf)) for leaf in jax.tree_util.tree_leaves(term)]}
            for term in self.terms
        ]

    def runtime(self) -> Objective:
        """This objective as octave programs take it: every number a float32 or int32 array, and
        labels (names for people) dropped, so that they select no program of their own."""
        def canonical(leaf):
            if isinstance(leaf, bool | int | np.integer):
                return np.asarray(leaf, np.int32)
            if isinstance(leaf, float | np.floating):
                return np.asarray(leaf, np.float32)
            return leaf

        unlabelled = tuple(dataclasses.replace(t, label="") if hasattr(t, "label") else t for t in self.terms)
        return jax.tree_util.tree_map(canonical, Objective(unlabelled))


def whole_canvas_layers(model: DreamModel, objective: Objective) -> list[str]:
    """Layers of the objective without positions (logits, pooled features): a padded canvas
    would reach them, so such objectives run on exact canvases (see :mod:`.buckets`)."""
    spatial = {layer.name: layer.spatial for layer in model.layers}
    return [name for name in objective.layers if spatial.get(name) is None]


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


def channel_objective(model: DreamModel, layer: str, channels: int | Sequence[int], weight: float = 1.0) -> Objective:
    """Mean activation of one or more channels of ``layer``."""
    channels = (channels,) if isinstance(channels, int) else tuple(channels)
    return build_objective(model, [LayerTerm(layer, channels, None, weight)])


def neuron_objective(
    model: DreamModel, layer: str, channel: int, position: tuple[float, float] = CENTRE, weight: float = 1.0
) -> Objective:
    """One neuron: ``channel`` of ``layer`` at ``position`` ``(x, y)`` in ``[0, 1]`` (default centre)."""
    return build_objective(model, [LayerTerm(layer, (channel,), tuple(position), weight)])


def class_objective(model: DreamModel, name: str | int, weight: float = 1.0) -> Objective:
    """The logit of a class named by its name, one of its synonyms, or its number."""
    index = class_index(model, name)
    return Objective((ClassLogit(model.logits_layer, index, class_label(model, index), float(weight)),))


def guide_objective(
    model: DreamModel, guide: np.ndarray, layer: str | None = None, weight: float = 1.0, label: str = "guide"
) -> Objective:
    """Amplify in the picture what ``layer`` sees in ``guide`` (float32 ``[H, W, 3]`` in ``[0, 1]``)."""
    layer = layer or default_layer(model)
    check_layers(model, [layer])
    return Objective((GuideFeatures(jnp.asarray(guide_features(model, guide, layer)), layer, label, float(weight)),))


def guide_features(model: DreamModel, guide: np.ndarray, layer: str) -> np.ndarray:
    """The layer's feature vectors ``[N, C]`` over the guide image.

    The guide is resized (keeping its shape) to as many pixels as the model's native input, so
    the number of guide features does not depend on the guide's file size.
    """
    guide = np.asarray(guide, dtype=np.float32)
    if guide.ndim != 3 or guide.shape[-1] != 3:
        raise DreamjaxError(f"a guide image must be [H, W, 3], got shape {guide.shape}")
    native_h, native_w = model.input_spec.native_size
    scale = np.sqrt(native_h * native_w / (guide.shape[0] * guide.shape[1]))
    size = (max(model.input_spec.min_size, round(guide.shape[0] * scale)), max(model.input_spec.min_size, round(guide.shape[1] * scale)))
    resized = jax.image.resize(jnp.asarray(guide)[None], (1, *size, 3), method="linear", antialias=True)
    act = model.apply(model.params, resized, (layer,))[layer]
    return np.asarray(act.reshape(-1, act.shape[-1]))


def build_objective(
    model: DreamModel,
    terms: str | Sequence[Term],
    load_guide: Callable[[str], np.ndarray] | None = None,
) -> Objective:
    """An Objective for ``model`` from the text form or its terms.

    Every problem (unknown layer or class, channel out of range, position on a layer without
    positions, unreadable guide) is collected, and all are reported in one DreamjaxError.
    ``load_guide`` reads a guide path (default :func:`dreamjax.files.image.load_image`).
    """
    if isinstance(terms, str):
        terms = parse_objective(terms)
    if not terms:
        raise DreamjaxError("the objective has no terms")
    if load_guide is None:
        from ..files.image import load_image as load_guide
    built, problems = [], []
    for term in terms:
        try:
            built.append(_build_term(model, term, load_guide))
        except DreamjaxError as exc:
            problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        hints = "; ".join(p.hint for p in problems if p.hint)
        raise DreamjaxError(f"{len(problems)} problems in the objective: " + "; ".join(p.message for p in problems), hints or None)
    return Objective(tuple(built))


def _build_term(model: DreamModel, term: Term, load_guide: Callable[[str], np.ndarray]):
    weight = float(term.weight)
    if not usable_weight(weight):
        raise DreamjaxError(f"the weight of {format_term(term)!r} is not a finite number at most {MAX_WEIGHT:.2g} in size")
    if isinstance(term, ClassTerm):
        index = class_index(model, term.name)
        return ClassLogit(model.logits_layer, index, class_label(model, index), weight)
    if isinstance(term, GuideTerm):
        layer = term.layer or default_layer(model)
        check_layers(model, [layer])
        guide = load_guide(term.path)
        return GuideFeatures(jnp.asarray(guide_features(model, guide, layer)), layer, Path(term.path).name, weight)
    if not isinstance(term, LayerTerm):
        raise DreamjaxError(f"not an objective term: {term!r}")
    layer = find_layer(model, term.layer)
    if not term.channels:
        return LayerEnergy(term.layer, weight)
    bad = [c for c in term.channels if not 0 <= c < layer.channels]
    if bad:
        raise DreamjaxError(
            f"channel{'s' if len(bad) > 1 else ''} {', '.join(map(str, bad))} out of range for {term.layer}",
            f"{term.layer} has channels 0..{layer.channels - 1}",
        )
    if term.position is None:
        return ChannelMean(term.layer, tuple(term.channels), weight)
    if len(term.channels) != 1:
        raise DreamjaxError(f"a neuron takes one channel, got {len(term.channels)} in {format_term(term)!r}")
    if layer.spatial is None:
        raise DreamjaxError(f"{term.layer} has no positions (it is a vector)", f"drop the @position: {term.layer}[{term.channels[0]}]")
    x, y = term.position
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise DreamjaxError(f"neuron position {term.position} is outside [0, 1] x [0, 1]")
    return Neuron(term.layer, term.channels[0], (float(x), float(y)), weight)
