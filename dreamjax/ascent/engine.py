"""The DeepDream ascent: one compiled program per octave shape, many images per program.

One ascent step = random roll (jitter) -> gradient of the objective w.r.t. the image ->
gradient normalised per image -> step -> unroll -> clip to [0, 1]. All steps of an octave run
inside one ``lax.fori_loop``; resizing between octaves is part of the same program, so a dream of
N octaves compiles N programs, and a later run with the same shapes compiles none (in memory,
or from the persistent cache on disk).
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import DreamjaxError
from ..model import DreamModel
from ..runtime.cache import ensure_compilation_cache, persistent_cache_hits
from ..runtime.devices import place, shard_key
from ..runtime.memory import check_fits, program_bytes
from ..runtime.programs import load_or_compile
from .objectives import Objective, build_objective, layer_objective
from .regularisers import Regularisers
from .tiling import TileConfig, TilePlan, model_stride, plan_tiles, tiled_gradient

MAX_OCTAVES = 32
MAX_STEPS = 100_000
MAX_OCTAVE_SCALE = 16.0
MAX_JITTER = 65_536
SEED_RANGE = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class DreamConfig:
    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10
    step_size: float = 0.01
    jitter: int = 32
    seed: int = 0
    tiles: TileConfig = TileConfig()  # octaves with a side over tiles.size run in tiles
    regularisers: Regularisers = Regularisers()

    def __post_init__(self):
        # Upper limits keep loop counters in int32 and scale**octaves finite; all are far past use.
        if not (1 <= self.octaves <= MAX_OCTAVES and 1 <= self.steps <= MAX_STEPS):
            raise DreamjaxError(f"octaves must be from 1 to {MAX_OCTAVES} and steps from 1 to {MAX_STEPS:,}, "
                                f"got {self.octaves} and {self.steps}")
        if not (np.isfinite(self.step_size) and self.step_size > 0):
            raise DreamjaxError(f"step size must be a positive number, got {self.step_size}")
        if not (np.isfinite(self.octave_scale) and 1.0 <= self.octave_scale <= MAX_OCTAVE_SCALE):
            raise DreamjaxError(f"octave scale must be from 1 to {MAX_OCTAVE_SCALE}, got {self.octave_scale}")
        if not 0 <= self.jitter <= MAX_JITTER:
            raise DreamjaxError(f"jitter must be from 0 to {MAX_JITTER}, got {self.jitter}")
        if not SEED_RANGE[0] <= self.seed <= SEED_RANGE[1]:
            raise DreamjaxError(f"seed must fit in 64 bits, got {self.seed}")


@dataclass
class DreamStats:
    """What a run cost: compile time is kept apart from the steady-state ascent."""

    images: int = 0
    ascent_steps: int = 0  # per image
    compile_seconds: float = 0.0
    run_seconds: float = 0.0
    programs_compiled: int = 0  # built in this run (from scratch or from the disk cache)
    programs_from_disk: int = 0  # of those, loaded from the persistent compilation cache
    estimated_bytes: int = 0  # peak memory of the largest octave program, from XLA, plus host copies
    shapes: list[tuple[int, ...]] = field(default_factory=list)

    @property
    def steps_per_second(self) -> float:
        return self.ascent_steps / self.run_seconds if self.run_seconds else float("nan")

    @property
    def images_per_second(self) -> float:
        return self.images / self.run_seconds if self.run_seconds else float("nan")


def octave_shapes(height: int, width: int, octaves: int, scale: float, min_size: int) -> list[tuple[int, int]]:
    """Octave sizes, smallest first, ending at the full size; none below ``min_size``."""
    shapes = []
    for i in range(octaves - 1, -1, -1):
        f = scale**i
        shapes.append((max(min_size, round(height / f)), max(min_size, round(width / f))))
    return list(dict.fromkeys(shapes))  # tiny images: repeated sizes collapse into one octave


def _normalise(grad: jax.Array) -> jax.Array:
    mean_abs = jnp.mean(jnp.abs(grad), axis=(1, 2, 3), keepdims=True)
    return grad / (mean_abs + 1e-8)


def _roll(x: jax.Array, dy: jax.Array, dx: jax.Array) -> jax.Array:
    """``jnp.roll`` over H and W of ``[B, H, W, C]``, done on the ``[B, H, W*C]`` view.

    Rolling W*C by dx*C moves whole pixels; with 3 channels innermost XLA:CPU copied in
    3-float pieces, the flat view copies whole rows (about 1.5x faster per roll).
    """
    b, h, w, c = x.shape
    return jnp.roll(x.reshape(b, h, w * c), (dy, dx * c), axis=(1, 2)).reshape(b, h, w, c)


@dataclass(frozen=True)
class OctavePlan:
    """Everything static about one octave program: part of its compilation key."""

    shape: tuple[int, int]
    steps: int
    jitter: int
    tiles: TilePlan | None = None
    regularisers: Regularisers = Regularisers()


def _octave(apply, params, objective, image, detail, key, step_size, *, plan: OctavePlan):
    """Resize to this octave, add the carried detail, ascend ``plan.steps`` times.

    Returns the dreamed octave image and its detail (dreamed minus plain), which the next
    octave upsamples and adds to its own base, as in the original method.
    """
    batch = image.shape[0]
    regularisers, tiles, jitter = plan.regularisers, plan.tiles, plan.jitter
    base = jax.image.resize(image, (batch, *plan.shape, 3), method="linear", antialias=True)
    detail = jax.image.resize(detail, (batch, *plan.shape, 3), method="linear")
    x = start = jnp.clip(base + detail, 0.0, 1.0)

    def total_score(img):
        return jnp.sum(objective(apply(params, img, objective.layers)))

    def penalty(img, shift):  # on the unrolled picture, so the jitter's wrap-around seam costs nothing
        return jnp.sum(regularisers.penalty(jnp.roll(img, (-shift[0], -shift[1]), axis=(1, 2))))

    def step(i, carry):
        x, first_bad = carry
        shift = jax.random.randint(jax.random.fold_in(key, i), (2,), -jitter, jitter + 1)
        rolled = _roll(x, shift[0], shift[1])
        if tiles is None:
            grad = jax.grad(total_score)(rolled)
        else:
            grad = tiled_gradient(total_score, rolled, tiles, jax.random.fold_in(jax.random.fold_in(key, i), 1))
        if regularisers.tv:
            grad = grad - jax.grad(penalty)(rolled, shift)
        # A NaN/Inf gradient is recorded (first bad step per image) and not applied, so the
        # picture stays finite; the caller reports it. One fused reduction per step.
        finite = jnp.all(jnp.isfinite(grad), axis=(1, 2, 3))
        first_bad = jnp.where((first_bad < 0) & ~finite, i, first_bad)
        grad = jnp.where(finite[:, None, None, None], regularisers.precondition(grad), 0.0)
        rolled = rolled + step_size * _normalise(grad)
        x = jnp.clip(regularisers.smooth(_roll(rolled, -shift[0], -shift[1]), start), 0.0, 1.0)
        return x, first_bad

    x, first_bad = jax.lax.fori_loop(0, plan.steps, step, (x, jnp.full((batch,), -1, jnp.int32)))
    return x, x - base, first_bad


class NumericalFaultError(DreamjaxError):
    """The gradient became NaN or Inf; says where (octave, step, images). Nothing is written."""

    def __init__(self, message: str, hint: str | None = None, *, octave: int | None = None,
                 step: int | None = None, images: tuple[int, ...] = ()):
        super().__init__(message, hint)
        self.octave, self.step, self.images = octave, step, images


def _check_finite(first_bad: np.ndarray, *, octave: int, octaves: int, steps: int) -> None:
    """Raise if any image met a non-finite gradient in this octave (1-based in the message)."""
    bad = np.flatnonzero(first_bad >= 0)
    if bad.size == 0:
        return
    step = int(first_bad[bad].min())
    which = ", ".join(str(b + 1) for b in bad[:8]) + (", ..." if bad.size > 8 else "")
    raise NumericalFaultError(
        f"the gradient became NaN or Inf at step {step + 1}/{steps} of octave {octave + 1}/{octaves} "
        f"(image {which} of {first_bad.size}); nothing was written",
        "try a smaller --step-size, another layer, or check the model for overflow",
        octave=octave + 1, step=step + 1, images=tuple(int(b) + 1 for b in bad),
    )


class Dreamer:
    """Holds one model's compiled octave programs, keyed by shapes and objective structure."""

    def __init__(self, model: DreamModel):
        self.model = model
        self._jitted = jax.jit(
            functools.partial(_octave, model.apply), static_argnames=("plan",)
        )
        self._compiled: dict[Any, Any] = {}

    def _plan(self, shape: tuple[int, int], batch: int, config: DreamConfig) -> OctavePlan:
        tiles = plan_tiles(shape, batch, config.tiles, model_stride(self.model), config.jitter)
        return OctavePlan(shape, config.steps, config.jitter, tiles, config.regularisers)

    def _program(self, args, plan: OctavePlan, stats: DreamStats):
        leaves = jax.tree_util.tree_leaves(args)
        key = (jax.tree_util.tree_structure(args), tuple((a.shape, shard_key(a)) for a in leaves), plan)
        program = self._compiled.get(key)
        if program is None:
            t0, hits = time.perf_counter(), persistent_cache_hits()
            program, loaded = load_or_compile(self.model, self._jitted, args, plan=plan)  # no tracing on a hit
            stats.compile_seconds += time.perf_counter() - t0
            stats.programs_compiled += 1
            stats.programs_from_disk += 1 if loaded else min(1, persistent_cache_hits() - hits)
            self._compiled[key] = program
        return program

    def _compile_and_check_memory(self, image, shapes, objective, config, stats, root, step_size, placement) -> None:
        """Compile every octave before the first step, and refuse a run that cannot fit in memory."""
        batch, peak = image.shape[0], 0
        for i, shape in enumerate(shapes):
            detail = placement.spec((batch, *shapes[max(i - 1, 0)], 3))
            args = (self.model.params, objective, image, detail, jax.random.fold_in(root, i), step_size)
            needed = program_bytes(self._program(args, self._plan(shape, batch, config), stats))
            peak = max(peak, needed or 0)
        host = 3 * image.size * image.dtype.itemsize  # input, result and the PIL copy on the host
        stats.estimated_bytes = peak + host
        h, w = shapes[-1]
        check_fits(stats.estimated_bytes if peak else None, jax.devices()[0], f"dreaming {batch} image(s) of {w}x{h}")

    def run(
        self,
        images: np.ndarray,
        objective: Objective,
        config: DreamConfig = DreamConfig(),
        progress: Callable[[int, int, tuple[int, int]], None] | None = None,
        devices: int | None = None,
    ) -> tuple[np.ndarray, DreamStats]:
        """Dream a batch ``[B, H, W, 3]``; returns the dreamed batch and the run's stats.

        The batch is split over ``devices`` local devices (None: as many as help, see
        :mod:`dreamjax.runtime.devices`).
        """
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise DreamjaxError(f"expected images [B, H, W, 3], got shape {images.shape}")
        if not np.all(np.isfinite(images)):
            raise NumericalFaultError("the input images contain NaN or Inf")
        _, height, width, _ = images.shape
        min_size = self.model.input_spec.min_size
        if min(height, width) < min_size:
            raise DreamjaxError(
                f"image is {width}x{height}, smaller than {self.model.name}'s minimum of {min_size} pixels",
                "use a bigger image",
            )
        shapes = octave_shapes(height, width, config.octaves, config.octave_scale, min_size)
        stats = DreamStats(images=images.shape[0], ascent_steps=config.steps * len(shapes), shapes=shapes)
        placement = place(images.shape[0], devices)
        image = placement.put(images)
        detail = placement.put(np.zeros((images.shape[0], *shapes[0], 3), np.float32))
        root = jax.random.key(config.seed)
        step_size = jnp.float32(config.step_size)
        self._compile_and_check_memory(image, shapes, objective, config, stats, root, step_size, placement)
        for i, shape in enumerate(shapes):
            detail = placement.reshard(detail)  # the previous octave's output, exactly as compiled for
            args = (self.model.params, objective, image, detail, jax.random.fold_in(root, i), step_size)
            program = self._program(args, self._plan(shape, placement.padded, config), stats)
            t0 = time.perf_counter()
            dreamed, detail, first_bad = program(*args)
            dreamed.block_until_ready()
            stats.run_seconds += time.perf_counter() - t0
            _check_finite(np.asarray(first_bad)[: placement.images], octave=i, octaves=len(shapes), steps=config.steps)
            if progress is not None:
                progress(i, len(shapes), shape)
        out = placement.take(dreamed)
        if not np.all(np.isfinite(out)):
            raise DreamjaxError("the dream diverged (NaN or Inf in the image)", "try a smaller --step-size")
        return out, stats


_DREAMERS: OrderedDict[int, Dreamer] = OrderedDict()


def dreamer_for(model: DreamModel) -> Dreamer:
    """A cached Dreamer per model object, so repeated dream() calls reuse compiled programs."""
    dreamer = _DREAMERS.get(id(model))
    if dreamer is None or dreamer.model is not model:
        dreamer = _DREAMERS[id(model)] = Dreamer(model)
        while len(_DREAMERS) > 4:
            _DREAMERS.popitem(last=False)
    return dreamer


def dream(
    model: DreamModel,
    images: np.ndarray | Sequence[np.ndarray],
    layers: str | Sequence[str] | Mapping[str, float] | None = None,
    *,
    objective: Objective | str | None = None,
    octaves: int = 4,
    octave_scale: float = 1.4,
    steps: int = 10,
    step_size: float = 0.01,
    jitter: int = 32,
    seed: int = 0,
    tiles: TileConfig = TileConfig(),
    regularisers: Regularisers = Regularisers(),
    progress: Callable[[int, int, tuple[int, int]], None] | None = None,
) -> np.ndarray | list[np.ndarray]:
    """Dream on one image ``[H, W, 3]``, a batch ``[B, H, W, 3]`` or a list of images.

    Images are float32 RGB in ``[0, 1]``. ``layers`` names the layers whose energy is
    maximised (a mapping gives weights); ``objective`` replaces it with any Objective, or its
    text form (see :mod:`dreamjax.ascent.objective_syntax`).
    ``regularisers`` (all off by default) smooth the result: see :mod:`dreamjax.ascent.regularisers`.
    A list of same-sized images runs as one batch program; the result has the input's form.
    Octaves with a side longer than ``tiles.size`` run in tiles (see :mod:`dreamjax.ascent.tiling`).
    """
    ensure_compilation_cache()
    config = DreamConfig(octaves, octave_scale, steps, step_size, jitter, seed, tiles, regularisers)
    if isinstance(objective, str):  # the compact text form, e.g. "blocks.5,class=tabby cat:2"
        objective = build_objective(model, objective)
    objective = objective if objective is not None else layer_objective(model, layers)
    dreamer = dreamer_for(model)
    if isinstance(images, np.ndarray | jax.Array) and np.ndim(images) in (3, 4):
        batch = np.asarray(images)
        out, _ = dreamer.run(batch[None] if batch.ndim == 3 else batch, objective, config, progress)
        return out[0] if batch.ndim == 3 else out
    # A list: images of one size share a batch; results come back in the given order.
    images = [np.asarray(img, dtype=np.float32) for img in images]
    results: list[np.ndarray | None] = [None] * len(images)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, img in enumerate(images):
        by_shape.setdefault(img.shape, []).append(index)
    for indices in by_shape.values():
        out, _ = dreamer.run(np.stack([images[i] for i in indices]), objective, config, progress)
        for i, dreamed in zip(indices, out):
            results[i] = dreamed
    return results
