"""The octaves of a run, planned on the host: sizes, canvases, tiles, programs and their order.

Each octave gets a canvas (:mod:`.buckets`), a tile plan when it is big (:mod:`.tiling`) and an
:class:`~.step.OctavePlan`, the key of its program. Octaves whose plans are equal share a
program. Programs are built largest first, so that a run which cannot fit in memory is refused
before any step, then in the order the octaves run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..model import DreamModel
from .buckets import Canvas
from .objectives import Objective, whole_canvas_layers
from .regularisers import Regularisers
from .step import OctavePlan
from .tiling import TileConfig, TilePlan, TileShape, model_stride, plan_tiles


def octave_shapes(height: int, width: int, octaves: int, scale: float, min_size: int) -> list[tuple[int, int]]:
    """Octave sizes, smallest first, ending at the full size; none below ``min_size``."""
    shapes = []
    for i in range(octaves - 1, -1, -1):
        f = scale**i
        shapes.append((max(min_size, round(height / f)), max(min_size, round(width / f))))
    return list(dict.fromkeys(shapes))  # tiny images: repeated sizes collapse into one octave


@dataclass(frozen=True)
class Octave:
    """One octave of a run: the picture's ``size``, its canvas, tiles and program plan."""

    index: int
    size: tuple[int, int]
    canvas: Canvas
    tiles: TilePlan | None
    plan: OctavePlan


def plan_octaves(model: DreamModel, objective: Objective, shapes: list[tuple[int, int]], batch: int, devices: int, *,
                 tiles: TileConfig, regularisers: Regularisers, exact_shapes: bool) -> list[Octave]:
    """The octaves of a dream of ``batch`` images whose octave sizes are ``shapes``.

    Canvases are exact where asked, or where the objective reads a layer without positions
    (logits: a padded canvas would reach it); otherwise buckets. A tiled octave's tile layout is
    a runtime argument, so pictures whose tiled octaves land on the same canvas share programs.
    (Putting all tiled octaves on the largest one's canvas would share one program across
    octaves, but every step works on the whole canvas: measured on a 4096x4096 canvas, 14 s of
    canvas work per step against 1.5 s on the 1493x1493 octave's own, next to 20 s of network
    for its 4 tiles; that costs the small octaves far more than the compiles it saves.)
    """
    exact = exact_shapes or bool(whole_canvas_layers(model, objective))
    stride = model_stride(model)
    same = getattr(model.input_spec, "same_padding", False)
    structure = json.dumps(objective.structure(), sort_keys=True)
    octaves = []
    for i, size in enumerate(shapes):
        if exact:
            canvas = Canvas.exact(size)
        else:
            canvas = Canvas.bucket(size, stride, same)
            if plan_tiles(size, batch, tiles, stride) is not None:
                # Tiles that cut a side sample their own grid there: the picture starts at the edge.
                offset = tuple(o if n + o <= tiles.size else 0 for o, n in zip(canvas.offset, size))
                canvas = Canvas(canvas.shape, size, offset)
        tile_plan = plan_tiles(size, batch, tiles, stride, canvas.shape, canvas.offset)
        tile_shape = None
        if tile_plan is not None:
            most = plan_tiles(canvas.shape, batch, tiles, stride, canvas.shape).chunks
            tile_shape = TileShape(tile_plan.tile, tile_plan.batch, most)
        plan = OctavePlan(model.name, canvas.shape, batch, devices, structure, regularisers.plan(), tile_shape)
        octaves.append(Octave(i, size, canvas, tile_plan, plan))
    return octaves


def build_order(octaves: list[Octave]) -> list[Octave]:
    """One octave per distinct program: the biggest canvas first, then in the order they run."""
    first: dict[OctavePlan, Octave] = {}
    for octave in octaves:
        first.setdefault(octave.plan, octave)
    distinct = list(first.values())
    biggest = max(distinct, key=_network_pixels)
    return [biggest] + [o for o in distinct if o is not biggest]


def _network_pixels(octave: Octave) -> tuple[int, int]:
    """What memory grows with: pixels the network sees per call, then the canvas."""
    (h, w), tiles = octave.plan.canvas, octave.plan.tiles
    seen = h * w if tiles is None else tiles.tile[0] * tiles.tile[1] * tiles.batch
    return seen, h * w
