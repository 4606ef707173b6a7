"""What each picture of a feature-visualisation batch maximises, one objective per batch element.

Every kind is a dot product of the layer's activation with one vector per picture, so a batch
that mixes channels is one program, and the channels are data (a new set of channels runs in
the same compiled program):

- ``channel``: mean activation of one channel over all positions (lucid's ``channel``); the
  vector is one-hot;
- ``neuron``: one channel at the centre position (lucid's ``neuron``);
- ``class``: a class logit, read from the model's logits layer; one-hot over the classes;
- ``direction``: a direction in activation space (lucid's ``direction``), mean over positions of
  the activation's dot product with the unit vector.

:class:`Diversity` is lucid's ``diversity`` term: pictures of one channel (``copies`` in a row)
are pushed apart by the cosine similarity of their Gram matrices (style), so one channel gets
several different pictures. Any :class:`dreamjax.ascent.objectives.Objective` (the text syntax
of ``dreamjax dream --objective``) can be added to every picture's own target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import jax
import jax.numpy as jnp
import numpy as np

from ..ascent.classes import class_index, class_names
from ..ascent.objectives import Objective
from ..errors import DreamjaxError, UnknownNameError
from ..model import DreamModel, layer_names

KINDS = ("channel", "neuron", "class", "direction")


def _static(**kwargs):
    return field(metadata=dict(static=True), **kwargs)


@dataclass(frozen=True)
class Targets:
    """The pictures to make: one vector per picture at ``layer``, with a number and a label each.

    ``ids`` are the channel or class numbers (or direction rows): they name the files and seed
    each picture's randomness, so a channel's picture does not depend on which others run with it.
    """

    layer: str
    kind: str
    vectors: np.ndarray  # [N, C] float32
    ids: tuple[int, ...]
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)


def _layer_info(model: DreamModel, layer: str):
    for info in model.layers:
        if info.name == layer:
            return info
    raise UnknownNameError(f"layer of {model.name}", layer, layer_names(model))


def build_targets(
    model: DreamModel,
    layer: str | None,
    kind: str = "channel",
    channels: Sequence[int | str] | None = None,
    directions: np.ndarray | None = None,
) -> Targets:
    """The targets of ``kind`` at ``layer`` (``class``: the logits layer when ``layer`` is None).

    ``channels`` default to all of the layer's channels (``class``: all classes). For ``class``
    they may be class names or synonyms. ``direction`` takes ``directions`` ``[N, C]`` instead.
    """
    if kind not in KINDS:
        raise DreamjaxError(f"unknown kind of picture {kind!r}", f"choose from {', '.join(KINDS)}")
    if kind == "class":
        names = class_names(model)
        if layer not in (None, model.logits_layer):
            raise DreamjaxError(f"class pictures are made at the logits layer {model.logits_layer!r}, not {layer!r}",
                                "leave the layer out for kind 'class'")
        layer = model.logits_layer
    if layer is None:
        raise DreamjaxError("no layer given", "name one, e.g. --layer blocks.10 (see `dreamjax layers MODEL`)")
    info = _layer_info(model, layer)
    width = info.channels
    if kind == "direction":
        return _direction_targets(layer, width, directions)
    if directions is not None:
        raise DreamjaxError(f"directions are for kind 'direction', not {kind!r}")
    if kind == "neuron" and info.spatial is None:
        raise DreamjaxError(f"{layer} has no positions (it is a vector)", "use kind 'channel' for a vector layer")
    if channels is None:
        channels = range(width)
    ids = [class_index(model, c) if kind == "class" else _channel_number(c) for c in channels]
    bad = [c for c in ids if not 0 <= c < width]
    if bad:
        raise DreamjaxError(f"channel{'s' if len(bad) > 1 else ''} {', '.join(map(str, bad[:8]))} out of range for {layer}",
                            f"{layer} has channels 0..{width - 1}")
    if len(set(ids)) != len(ids):
        raise DreamjaxError("a channel is listed twice", "use copies=K for several pictures of one channel")
    if not ids:
        raise DreamjaxError("no channels to visualise")
    vectors = np.eye(width, dtype=np.float32)[ids]
    labels = [f"{names[c].split(',')[0]} ({c})" if kind == "class" else str(c) for c in ids]
    return Targets(layer, kind, vectors, tuple(ids), tuple(labels))


def _channel_number(value: int | str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DreamjaxError(f"a channel is a whole number, got {value!r}") from None


def _direction_targets(layer: str, width: int, directions: np.ndarray | None) -> Targets:
    if directions is None:
        raise DreamjaxError("kind 'direction' needs directions, an array [N, channels]")
    vectors = np.asarray(directions, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None]
    if vectors.ndim != 2 or vectors.shape[1] != width or vectors.shape[0] == 0:
        raise DreamjaxError(f"directions for {layer} must be [N, {width}], got shape {np.shape(directions)}")
    norms = np.linalg.norm(vectors, axis=1)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise DreamjaxError("every direction must be finite and not all zero")
    ids = tuple(range(len(vectors)))
    return Targets(layer, "direction", vectors / norms[:, None], ids, tuple(f"direction {i}" for i in ids))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PictureTarget:
    """Per picture ``b``: the activation of ``layer`` dotted with ``vectors[b]`` (``[B, C]``),
    averaged over positions, or taken at the centre position when ``centre``."""

    vectors: jax.Array
    layer: str = _static()
    centre: bool = _static(default=False)

    def score(self, act: jax.Array) -> jax.Array:
        if act.ndim == 2:
            return jnp.sum(act * self.vectors, axis=-1)
        if self.centre:
            h, w = act.shape[1], act.shape[2]
            return jnp.sum(act[:, round(0.5 * (h - 1)), round(0.5 * (w - 1))] * self.vectors, axis=-1)
        return jnp.einsum("bhwc,bc->b", act, self.vectors) / (act.shape[1] * act.shape[2])


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Diversity:
    """Lucid's diversity term within each run of ``copies`` pictures (of one channel).

    Per picture: ``-weight`` times the mean, over the other copies, of the dot product of the
    unit-normalised Gram matrices of ``layer``'s activations. Summed over a group this is
    lucid's ``diversity`` objective; pictures of different groups never interact.
    """

    weight: float
    layer: str = _static()
    copies: int = _static()

    def score(self, act: jax.Array) -> jax.Array:
        batch, channels = act.shape[0], act.shape[-1]
        flat = act.reshape(batch, -1, channels)
        grams = jnp.einsum("bpc,bpd->bcd", flat, flat).reshape(batch // self.copies, self.copies, -1)
        grams = grams / jnp.maximum(jnp.linalg.norm(grams, axis=-1, keepdims=True), 1e-10)
        similarity = jnp.einsum("gic,gjc->gij", grams, grams)
        others = jnp.sum(similarity, axis=-1) - jnp.diagonal(similarity, axis1=-2, axis2=-1)
        return -self.weight * others.reshape(batch) / self.copies


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PictureObjective:
    """A batch's objective: ``[B]`` scores, one per picture (target + extra terms + diversity)."""

    target: PictureTarget
    also: Objective | None = None
    diversity: Diversity | None = None

    @property
    def layers(self) -> tuple[str, ...]:
        names = [self.target.layer, *(self.also.layers if self.also else ()), *((self.diversity.layer,) if self.diversity else ())]
        return tuple(dict.fromkeys(names))

    def __call__(self, acts: Mapping[str, jax.Array]) -> jax.Array:
        score = self.target.score(acts[self.target.layer])
        if self.also is not None:
            score = score + self.also(acts)
        if self.diversity is not None:
            score = score + self.diversity.score(acts[self.diversity.layer])
        return score

    def with_vectors(self, vectors: jax.Array) -> PictureObjective:
        return replace(self, target=replace(self.target, vectors=vectors))


def picture_objective(
    model: DreamModel,
    targets: Targets,
    *,
    also: Objective | None = None,
    copies: int = 1,
    diversity: float = 0.0,
    diversity_layer: str | None = None,
) -> PictureObjective:
    """The objective of every picture of ``targets`` (vectors filled in per batch later)."""
    spread = None
    if diversity:
        if not np.isfinite(diversity):
            raise DreamjaxError(f"the diversity weight must be finite, got {diversity}")
        if copies < 2:
            raise DreamjaxError("diversity pushes apart several pictures of one channel", "ask for copies=2 or more")
        layer = diversity_layer or targets.layer
        if _layer_info(model, layer).spatial is None:
            raise DreamjaxError(f"diversity compares textures, and {layer} has no positions",
                                "give a spatial diversity layer, e.g. a middle block")
        spread = Diversity(float(diversity), layer, int(copies))
    target = PictureTarget(jnp.zeros((0, targets.vectors.shape[1]), jnp.float32), targets.layer, targets.kind == "neuron")
    return PictureObjective(target, also, spread)


def own_channel_first(scores: np.ndarray) -> np.ndarray:
    """Per picture ``i`` of a square score matrix: whether column ``i`` is the largest of its row."""
    return np.argmax(scores, axis=1) == np.arange(scores.shape[0])
