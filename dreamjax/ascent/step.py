"""One ascent step, and the octave program that repeats it.

One step = random shift of the picture (jitter) -> gradient of the objective w.r.t. the shifted
canvas (whole, or tile by tile) -> minus the TV penalty's gradient -> preconditioned (Laplacian,
colour) -> normalised per image -> step -> shifted back (which also fills the canvas's pad from
the picture again) -> blurred change -> clip to [0, 1].

An octave program runs ``settings.steps`` steps in one ``lax.fori_loop``. Only shapes and
structure are compiled in (:class:`OctavePlan`); every number is a runtime argument
(:class:`Settings`, the objective's weights, the picture's :class:`~.region.Region`, the tile
layout), so changing the steps, step size, jitter, seed, TV weight, blur sigma or the
objective's weights compiles nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .draws import integers, seed_words, step_bits
from .region import Region, roll
from .regularisers import RegulariserPlan
from .tiling import TileLayout, TileShape, tiled_gradient


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Settings:
    """The runtime numbers of an octave program (int32 and float32 scalars)."""

    steps: jax.Array
    step_size: jax.Array
    jitter: jax.Array
    tv: jax.Array
    blur_sigma: jax.Array
    octave: jax.Array  # mixed into each step's random bits, so each octave draws its own shifts

    @staticmethod
    def of(steps: int, step_size: float, jitter: int, tv: float, blur_sigma: float, octave: int) -> Settings:
        i32, f32 = np.int32, np.float32
        return Settings(i32(steps), f32(step_size), i32(jitter), f32(tv), f32(blur_sigma), i32(octave))


@dataclass(frozen=True)
class OctavePlan:
    """Everything static about one octave program: it is the program's key.

    Two runs whose plans are equal share a compiled program; :meth:`describe` is a stable,
    JSON-able form of it for keys on disk.
    """

    model: str
    canvas: tuple[int, int]  # [H, W] of the canvas
    batch: int  # images per program, after padding to the device count
    devices: int  # the batch is split over this many local devices (1: not split)
    objective: str  # the objective's structure (Objective.structure), as JSON
    regularisers: RegulariserPlan = RegulariserPlan()
    tiles: TileShape | None = None

    def describe(self) -> dict:
        return {
            "model": self.model, "canvas": list(self.canvas), "batch": self.batch, "devices": self.devices,
            "objective": json.loads(self.objective), "regularisers": asdict(self.regularisers),
            "tiles": None if self.tiles is None else {**asdict(self.tiles), "tile": list(self.tiles.tile)},
        }


# (shifted canvas, uint32 [2] random bits for a tile-grid offset) -> gradient, 0 off the picture
Gradient = Callable[[jax.Array, jax.Array], jax.Array]


def ascent_step(i: jax.Array, carry: tuple[jax.Array, jax.Array], *, gradient: Gradient, start: jax.Array,
                seed: jax.Array, region: Region, settings: Settings, regularisers: RegulariserPlan):
    """Step ``i`` of an octave: ``carry`` = (canvas ``[B, H, W, 3]``, first bad step per image or -1).
    ``seed``: the run's uint32 ``[2]`` seed words (:mod:`.draws`)."""
    x, first_bad = carry
    inside = region.mask()
    bits = step_bits(seed, settings.octave, i)
    shift = integers(bits[:2], -settings.jitter, settings.jitter)
    shifted = roll(x, region, shift)
    grad = gradient(shifted, bits[2:])
    if regularisers.tv:  # the penalty is of the unshifted picture, so the shift's seam costs nothing
        penalty = jax.grad(lambda img: jnp.sum(regularisers.penalty(img, settings.tv, region)))(x)
        grad = grad - roll(penalty, region, shift) * inside
    # A NaN/Inf gradient is recorded (first bad step per image) and not applied, so the picture
    # stays finite; the caller reports it. One fused reduction per step.
    finite = jnp.all(jnp.isfinite(grad), axis=(1, 2, 3))
    first_bad = jnp.where((first_bad < 0) & ~finite, i, first_bad)
    grad = jnp.where(finite[:, None, None, None], regularisers.precondition(grad, region) * inside, 0.0)
    mean_abs = region.mean(jnp.abs(grad), inside)[:, None, None, None]
    shifted = shifted + settings.step_size * grad / (mean_abs + 1e-8)
    x = roll(shifted, region, -shift)  # back in place; the pad shows the picture again
    x = jnp.clip(regularisers.smooth(x, start, settings.blur_sigma), 0.0, 1.0)
    return x, first_bad


def octave(apply, params, objective, canvas: jax.Array, bounds: jax.Array, settings: Settings, key: jax.Array,
           layout: TileLayout | None, *, plan: OctavePlan):
    """Ascend ``settings.steps`` times on ``canvas`` ``[B, H, W, 3]`` (the octave's start).

    ``bounds`` = int32 ``[top, left, height, width]`` of the picture in the canvas. Returns the
    dreamed canvas and, per image, the first step whose gradient was not finite (or -1).
    """
    region = Region(bounds, plan.canvas)

    def score(images: jax.Array, where: Region | None) -> jax.Array:
        return jnp.sum(objective(apply(params, images, objective.layers), where))

    if plan.tiles is None:
        def gradient(shifted, _bits):
            return jax.grad(score)(shifted, region) * region.mask()
    else:
        layout = dataclasses.replace(layout, shift=jnp.where(settings.jitter > 0, layout.shift, 0))

        def gradient(shifted, tile_bits):
            return tiled_gradient(score, shifted, plan.tiles, layout, tile_bits, region)

    step = functools.partial(ascent_step, gradient=gradient, start=canvas, seed=seed_words(key), region=region,
                             settings=settings, regularisers=plan.regularisers)
    first_bad = jnp.full((canvas.shape[0],), -1, jnp.int32)
    return jax.lax.fori_loop(0, settings.steps, step, (canvas, first_bad))
