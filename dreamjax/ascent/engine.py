"""The DeepDream ascent over octaves: one compiled program per canvas shape, many images per program.

A dream of N octaves runs N octave programs (:mod:`.step`), smallest first; between octaves the
host resizes the photo and the carried detail (:mod:`.resample`), as in the original method.
Programs are compiled for shapes and structure only (:class:`~.step.OctavePlan`), and canvases
snap to a ladder of sizes (:mod:`.buckets`), so many photo sizes, settings and octaves share few
programs; a later run with the same plans compiles none (in memory, or from the persistent
cache on disk). While one octave runs, the next one's program is built in a background thread.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from ..errors import DreamjaxError
from ..model import DreamModel
from ..runtime.cache import ensure_compilation_cache, persistent_cache_hits
from ..runtime.devices import place, shard_key
from ..runtime.memory import check_fits, program_bytes
from ..runtime.programs import load_or_compile
from . import step
from .draws import run_key
from .limits import MAX_JITTER, MAX_OCTAVE_SCALE, MAX_OCTAVES, MAX_STEPS, SEED_RANGE  # noqa: F401 - re-exported
from .objectives import Objective, build_objective, layer_objective
from .regularisers import Regularisers
from .resample import resize
from .run_stats import DreamStats
from .schedule import Octave, build_order, octave_shapes, plan_octaves
from .step import OctavePlan, Settings
from .tiling import TileConfig

__all__ = ["DreamConfig", "DreamStats", "Dreamer", "NumericalFaultError", "dream", "dreamer_for", "octave_shapes"]


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
    exact_shapes: bool = False  # True: canvases of each octave's own size, no buckets (see .buckets)

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


def compile_threads() -> int:
    """Programs built at once in the background: ``DREAMJAX_COMPILE_THREADS``, else one per
    two cores (one XLA:CPU compile keeps about 1.7 cores busy), and at least two: a build traces
    in Python (holding the GIL) for about a third of its time, and a second build's compile fills
    that (on 2 cores, the bundled photo's 4 programs: whole run 9.0 -> 8.1 s, medians of 4 pairs;
    4 threads no better than 2). 0 builds each when it is needed."""
    env = os.environ.get("DREAMJAX_COMPILE_THREADS", "").strip()
    if env.isdigit():
        return int(env)
    return max(2, (os.cpu_count() or 2) // 2)


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
    """Holds one model's compiled octave programs, keyed by their :class:`~.step.OctavePlan`."""

    def __init__(self, model: DreamModel):
        self.model = model
        self._jitted = jax.jit(functools.partial(step.octave, model.apply), static_argnames=("plan",))
        self._compiled: dict[Any, Any] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _signature(args) -> tuple:
        leaves = jax.tree_util.tree_leaves(args)
        return jax.tree_util.tree_structure(args), tuple((np.shape(a), str(a.dtype), shard_key(a)) for a in leaves)

    def _program(self, args, plan: OctavePlan, stats: DreamStats):
        """The compiled program of ``plan`` for ``args`` (concrete or abstract): the one place
        where programs are lowered and compiled, or loaded from the program cache without
        tracing (``runtime.programs``). Safe to call from several threads."""
        key = self._key(args, plan)
        program = self._cached(key)
        if program is not None:
            return program
        hits = persistent_cache_hits(this_thread=True)
        with self._lock:
            stats.build_started()
        try:
            program, loaded = load_or_compile(self.model, self._jitted, args, plan=plan)
        finally:
            with self._lock:
                stats.build_ended()
        with self._lock:
            stats.programs_compiled += 1
            stats.programs_from_disk += 1 if loaded else min(1, persistent_cache_hits(this_thread=True) - hits)
            self._compiled[key] = program
        return program

    def _key(self, args, plan: OctavePlan) -> tuple:
        return plan, self._signature(args)

    def _cached(self, key: tuple):
        with self._lock:
            return self._compiled.get(key)

    def _build_note(self, plan: OctavePlan) -> str:
        """What waiting for ``plan``'s program means, for progress lines."""
        return "compiling"

    def _args(self, octave: Octave, objective: Objective, config: DreamConfig, root: jax.Array, placement, canvas=None):
        """The octave program's arguments; ``canvas`` None gives a placed stand-in for compiling."""
        batch = octave.plan.batch
        if canvas is None:
            canvas = placement.spec((batch, *octave.canvas.shape, 3))
        regs = config.regularisers.numbers()
        settings = Settings.of(config.steps, config.step_size, config.jitter, regs["tv"], regs["blur_sigma"], octave.index)
        layout = None if octave.tiles is None else octave.tiles.layout(octave.plan.tiles.chunks)
        return (self.model.params, objective, canvas, octave.canvas.region(), settings, root, layout)

    def _start_builds(self, octaves, objective, config, root, placement, stats) -> dict[OctavePlan, Future]:
        """Programs of the run, in build order: in background threads, or (0 threads) when needed."""
        threads = compile_threads()
        pool = ThreadPoolExecutor(threads, thread_name_prefix="dreamjax-compile") if threads else None
        builds = {}
        for octave in build_order(octaves):
            args = self._args(octave, objective, config, root, placement)
            build = functools.partial(self._program, args, octave.plan, stats)
            ready = self._cached(self._key(args, octave.plan)) is not None
            builds[octave.plan] = pool.submit(build) if pool and not ready else _Deferred(build, ready)
        if pool:
            pool.shutdown(wait=False)
        return builds

    def _wait(self, build, octave: Octave, octaves: int, stats: DreamStats, status) -> Any:
        if not build.done() and status is not None:
            status(f"{self._build_note(octave.plan)} octave {octave.index + 1}/{octaves}")
        t0 = time.perf_counter()
        program = build.result()
        stats.wait_seconds += time.perf_counter() - t0
        return program

    def _check_memory(self, program, images: np.ndarray, size: tuple[int, int], stats: DreamStats) -> None:
        """Refuse a run that cannot fit: the biggest program is built and checked before any step."""
        needed = program_bytes(program)
        # The batch, the result, each octave's base, detail and canvas, and the PIL copy, on the host.
        host = 7 * images.size * images.dtype.itemsize
        stats.estimated_bytes = max(stats.estimated_bytes, (needed or 0) + host)
        h, w = size
        check_fits(stats.estimated_bytes if needed else None, jax.devices()[0], f"dreaming {images.shape[0]} image(s) of {w}x{h}")

    def run(
        self,
        images: np.ndarray,
        objective: Objective,
        config: DreamConfig = DreamConfig(),
        progress: Callable[[int, int, tuple[int, int]], None] | None = None,
        devices: int | None = None,
        status: Callable[[str], None] | None = None,
    ) -> tuple[np.ndarray, DreamStats]:
        """Dream a batch ``[B, H, W, 3]``; returns the dreamed batch and the run's stats.

        The batch is split over ``devices`` local devices (None: as many as help, see
        :mod:`dreamjax.runtime.devices`). ``progress(i, n, shape)`` is told when octave ``i`` of
        ``n`` is done; ``status(text)`` what the run is waiting for ("compiling octave 2/4").
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
        placement = place(images.shape[0], devices)
        octaves = plan_octaves(self.model, objective, shapes, placement.padded, placement.count, tiles=config.tiles,
                               regularisers=config.regularisers, exact_shapes=config.exact_shapes)
        stats = DreamStats(images=images.shape[0], ascent_steps=config.steps * len(shapes), shapes=shapes,
                           canvases=[o.canvas.shape for o in octaves])
        objective = objective.runtime()
        root = run_key(config.seed)
        builds = self._start_builds(octaves, objective, config, root, placement, stats)
        try:
            return self._ascend(images, objective, config, octaves, builds, root, placement, stats, progress, status)
        finally:
            for build in builds.values():
                build.cancel()  # a refused or failed run builds nothing more

    def compile(self, size: tuple[int, int], objective: Objective, config: DreamConfig = DreamConfig(),
                batch: int = 1) -> DreamStats:
        """Build (or load from the cache) every program a dream of ``batch`` images of ``size``
        (height, width) runs, without dreaming: what ``dreamjax cache warm`` does per size."""
        placement = place(batch)
        octaves = self.plan(size, objective, config, placement)
        stats = DreamStats(images=batch, shapes=[o.size for o in octaves], canvases=[o.canvas.shape for o in octaves])
        objective, root = objective.runtime(), run_key(config.seed)
        for octave in build_order(octaves):
            self._program(self._args(octave, objective, config, root, placement), octave.plan, stats)
        return stats

    def plan(self, size: tuple[int, int], objective: Objective, config: DreamConfig, placement) -> list[Octave]:
        """The octaves (sizes, canvases, program plans) of a dream of ``size`` on ``placement``."""
        shapes = octave_shapes(*size, config.octaves, config.octave_scale, self.model.input_spec.min_size)
        return plan_octaves(self.model, objective, shapes, placement.padded, placement.count, tiles=config.tiles,
                            regularisers=config.regularisers, exact_shapes=config.exact_shapes)

    def _ascend(self, images, objective, config, octaves, builds, root, placement, stats, progress, status):
        shapes = stats.shapes
        biggest = build_order(octaves)[0]
        self._check_memory(self._wait(builds[biggest.plan], biggest, len(octaves), stats, status), images, shapes[-1], stats)
        detail = np.zeros((images.shape[0], *shapes[0], 3), np.float32)
        for octave in octaves:
            program = self._wait(builds[octave.plan], octave, len(octaves), stats, status)
            self._check_memory(program, images, shapes[-1], stats)
            base = resize(images, octave.size)
            start = np.clip(base + resize(detail, octave.size), 0.0, 1.0)
            if status is not None:
                status(f"dreaming octave {octave.index + 1}/{len(octaves)}")
            args = self._args(octave, objective, config, root, placement, placement.put(octave.canvas.pad(start)))
            t0 = time.perf_counter()
            canvas, first_bad = program(*args)
            dreamed = octave.canvas.crop(placement.take(canvas))
            stats.run_seconds += time.perf_counter() - t0
            _check_finite(np.asarray(first_bad)[: placement.images], octave=octave.index, octaves=len(octaves), steps=config.steps)
            detail = dreamed - base
            if progress is not None:
                progress(octave.index, len(octaves), octave.size)
        if not np.all(np.isfinite(dreamed)):
            raise DreamjaxError("the dream diverged (NaN or Inf in the image)", "try a smaller --step-size")
        return np.ascontiguousarray(dreamed), stats


class _Deferred:
    """A build run when its result is first asked for (no background threads, or nothing to build)."""

    def __init__(self, build: Callable[[], Any], ready: bool = False):
        self._build, self._result, self._ready = build, None, ready

    def done(self) -> bool:
        return self._ready or self._result is not None

    def cancel(self) -> bool:
        return False

    def result(self) -> Any:
        if self._result is None:
            self._result = self._build()
        return self._result


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
    exact_shapes: bool = False,
    progress: Callable[[int, int, tuple[int, int]], None] | None = None,
) -> np.ndarray | list[np.ndarray]:
    """Dream on one image ``[H, W, 3]``, a batch ``[B, H, W, 3]`` or a list of images.

    Images are float32 RGB in ``[0, 1]``. ``layers`` names the layers whose energy is
    maximised (a mapping gives weights); ``objective`` replaces it with any Objective, or its
    text form (see :mod:`dreamjax.ascent.objective_syntax`).
    ``regularisers`` (all off by default) smooth the result: see :mod:`dreamjax.ascent.regularisers`.
    A list of same-sized images runs as one batch program; the result has the input's form.
    Octaves with a side longer than ``tiles.size`` run in tiles (see :mod:`dreamjax.ascent.tiling`).
    Canvases snap to a ladder of sizes so that many photo sizes share programs; ``exact_shapes``
    dreams on each octave's own size instead (see :mod:`dreamjax.ascent.buckets`).
    """
    ensure_compilation_cache()
    config = DreamConfig(octaves, octave_scale, steps, step_size, jitter, seed, tiles, regularisers, exact_shapes)
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
