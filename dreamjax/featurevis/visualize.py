"""Feature visualisation of many channels at once: the batch axis carries the channel.

The recipe is lucid's (Olah et al., "Feature Visualization", Distill 2017): pictures
parametrised by an FFT spectrum in decorrelated colour with a sigmoid (:mod:`.param`), Adam
(optax) on those parameters, and a random pad/jitter/scale/rotation of every picture at every
step (:mod:`.transforms`). Each piece can be switched off (:class:`Recipe`).

All pictures of a batch run in one compiled program: one ``lax.fori_loop`` over the steps,
every picture with its own target vector (:mod:`.objectives`), its own random keys (folded from
the seed and its channel number) and its own Adam moments, so a channel's picture is the same
whatever runs beside it. Target vectors, steps, learning rate and transform sizes are runtime
numbers: one program serves every batch of a layer. The batch size is chosen as tiles are:
about a megapixel of canvas per program, halved until XLA's own estimate of the program's
memory fits what the device has free (:mod:`dreamjax.runtime.memory`). On a CPU the network
sees the batch a few pictures at a time (:func:`.batching.auto_chunk`), which keeps them in cache.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..ascent.engine import MAX_STEPS, SEED_RANGE, DreamStats
from ..ascent.objectives import Objective, build_objective
from ..errors import DreamjaxError
from ..model import DreamModel
from ..runtime.cache import ensure_compilation_cache, persistent_cache_hits
from ..runtime.compiler import compiler_options
from ..runtime.memory import ENV_SWITCH, MemoryLimitError, check_fits, program_bytes
from .batching import Batches, auto_batch, auto_chunk, split_batches
from .objectives import PictureObjective, Targets, build_targets, picture_objective
from .param import Parametrisation, init_params, to_image
from .transforms import Transforms, random_views

CALLS = 16  # calls of the program per batch, so progress moves and Ctrl-C is heard
MAX_SIZE = 4096


def _static(**kwargs):
    return field(metadata=dict(static=True), **kwargs)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Recipe:
    """How pictures are made. Numbers are runtime values; ``param``, ``adam`` and whether there are
    ``transforms`` (None: the network sees the picture as it is) shape the program.

    ``adam`` False takes plain gradient-ascent steps of ``learning_rate`` instead.
    """

    learning_rate: float = 0.05
    decay_power: float = 1.0
    init_sd: float = 0.01
    transforms: Transforms | None = Transforms()
    param: Parametrisation = _static(default=Parametrisation())
    adam: bool = _static(default=True)

    def check(self) -> Recipe:
        """Raise a clear error for a setting out of range; returns self."""
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise DreamjaxError(f"the learning rate must be a finite number above 0, got {self.learning_rate}")
        for name in ("init_sd", "decay_power"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise DreamjaxError(f"{name.replace('_', ' ')} must be a finite number, 0 or more, got {value}")
        if self.transforms is not None:
            self.transforms.check()
        return self

    def canvas(self, shape: tuple[int, int]) -> tuple[int, int]:
        return shape if self.transforms is None else self.transforms.canvas(*shape)


def _optimiser(recipe: Recipe) -> optax.GradientTransformation:
    return optax.adam(recipe.learning_rate) if recipe.adam else optax.sgd(recipe.learning_rate)


def _start(recipe: Recipe, keys: jax.Array, *, shape: tuple[int, int]):
    params = init_params(keys, *shape, recipe.param, recipe.init_sd)
    return params, _optimiser(recipe).init(params)


def _ascend(apply, model_params, objective: PictureObjective, recipe: Recipe, keys, state, start, stop, *, shape, chunk):
    """Steps ``start`` .. ``stop`` of the ascent; returns the new state and the pictures.

    Each step runs the network on ``chunk`` pictures at a time (a ``lax.map`` inside the step):
    on a CPU small chunks stay in cache, while the batch, and the program, hold many more.
    """
    height, width = shape
    optimiser = _optimiser(recipe)

    def chunk_gradient(part):
        params, step_keys, vectors = part
        scored = objective.with_vectors(vectors)

        def total_score(params):
            pictures = to_image(params, height, width, recipe.param, recipe.decay_power)
            seen = random_views(pictures, step_keys, recipe.transforms)
            return jnp.sum(scored(apply(model_params, seen, scored.layers)))

        return jax.grad(total_score)(params)

    def step(i, state):
        params, opt_state = state
        step_keys = jax.vmap(lambda key: jax.random.fold_in(key, i))(keys)
        part = (params, step_keys, objective.target.vectors)
        if chunk >= len(keys):
            grad = chunk_gradient(part)
        else:
            split = jax.tree_util.tree_map(lambda a: a.reshape(len(keys) // chunk, chunk, *a.shape[1:]), part)
            grad = jax.lax.map(chunk_gradient, split).reshape(params.shape)
        updates, opt_state = optimiser.update(-grad, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    state = jax.lax.fori_loop(start, stop, step, state)
    return state, to_image(state[0], height, width, recipe.param, recipe.decay_power)


@dataclass(frozen=True)
class Job:
    """Everything that decides a set of pictures (the batch size does not: a picture is the same
    whatever runs beside it). Picture ``p`` is copy ``p % copies`` of target ``p // copies``."""

    targets: Targets
    objective: PictureObjective
    recipe: Recipe
    shape: tuple[int, int]
    steps: int
    seed: int
    copies: int = 1

    @property
    def pictures(self) -> int:
        return len(self.targets) * self.copies

    def inputs(self, members: Sequence[int]) -> tuple[np.ndarray, jax.Array]:
        """Target vectors ``[B, C]`` and keys ``[B]`` of pictures ``members``; a key comes from the
        seed, the channel number and the copy number only."""
        root = jax.random.key(self.seed)
        keys = [jax.random.fold_in(jax.random.fold_in(root, self.targets.ids[m // self.copies]), m % self.copies)
                for m in members]
        return self.targets.vectors[[m // self.copies for m in members]], jnp.stack(keys)


def make_job(
    model: DreamModel,
    layer: str | None = None,
    channels: Sequence[int | str] | None = None,
    *,
    kind: str = "channel",
    directions: np.ndarray | None = None,
    size: int | tuple[int, int] = 128,
    steps: int = 512,
    seed: int = 0,
    copies: int = 1,
    diversity: float = 0.0,
    diversity_layer: str | None = None,
    also: Objective | str | None = None,
    recipe: Recipe = Recipe(),
) -> Job:
    """Check every setting (one clear error for the first bad one) and build the job; see :func:`visualize`."""
    if not 1 <= steps <= MAX_STEPS:
        raise DreamjaxError(f"steps must be from 1 to {MAX_STEPS:,}, got {steps}")
    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise DreamjaxError(f"seed must fit in 64 bits, got {seed}")
    if not 1 <= copies <= 64:
        raise DreamjaxError(f"copies must be from 1 to 64, got {copies}")
    recipe = recipe.check()
    shape = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
    if len(shape) != 2 or not all(1 <= s <= MAX_SIZE for s in shape):
        raise DreamjaxError(f"picture size must be from 1 to {MAX_SIZE} pixels a side, got {size}")
    canvas, low = recipe.canvas(shape), model.input_spec.min_size
    if min(canvas) < low:
        raise DreamjaxError(f"{model.name} needs at least {low} pixels a side, and {shape[1]}x{shape[0]} pictures "
                            f"give a canvas of {canvas[1]}x{canvas[0]}", "use a bigger size")
    targets = build_targets(model, layer, kind, channels, directions)
    if also is not None and not isinstance(also, Objective):  # the text form, or its parsed terms
        also = build_objective(model, also)
    objective = picture_objective(model, targets, also=also, copies=copies, diversity=diversity, diversity_layer=diversity_layer)
    return Job(targets, objective, recipe, shape, steps, seed, copies)


class Visualizer:
    """One model's compiled feature-visualisation programs, keyed by shapes and structure."""

    def __init__(self, model: DreamModel):
        self.model = model
        self._ascend = jax.jit(functools.partial(_ascend, model.apply), static_argnames=("shape", "chunk"))
        self._start = jax.jit(_start, static_argnames=("shape",))
        self._compiled: dict = {}
        self._scorers: dict[str, Callable] = {}

    def mean_activations(self, layer: str, pictures: np.ndarray, chunk: int = 32) -> np.ndarray:
        """Every channel's mean activation at ``layer`` for each picture, shown as it is: ``[N, C]``.

        ``chunk`` pictures at a time, through one compiled forward pass per layer.
        """
        scorer = self._scorers.get(layer)
        if scorer is None:
            def means(params, images):
                act = self.model.apply(params, images, (layer,))[layer]
                return jnp.mean(act, axis=tuple(range(1, act.ndim - 1))) if act.ndim > 2 else act

            scorer = self._scorers[layer] = jax.jit(means)
        pictures = np.asarray(pictures, np.float32)
        chunk = min(chunk, len(pictures))
        rows = []
        for begin in range(0, len(pictures), chunk):
            part = pictures[begin:begin + chunk]
            padded = np.concatenate([part, np.repeat(part[:1], chunk - len(part), axis=0)])  # one shape, one compile
            rows.append(np.asarray(scorer(self.model.params, padded))[: len(part)])
        return np.concatenate(rows)

    def program(self, job: Job, batch: int, chunk: int, stats: DreamStats):
        """The compiled ``(start, ascend)`` programs for ``batch`` pictures of ``job``."""
        keys = jax.random.split(jax.random.key(0), batch)
        objective = job.objective.with_vectors(jnp.zeros((batch, job.targets.vectors.shape[1]), jnp.float32))
        state = jax.eval_shape(functools.partial(self._start, shape=job.shape), job.recipe, keys)
        args = (self.model.params, objective, job.recipe, keys, state, 0, 1)
        leaves = jax.tree_util.tree_leaves(args)
        key = (jax.tree_util.tree_structure(args), tuple((jnp.shape(a), jnp.result_type(a)) for a in leaves), job.shape, chunk)
        program = self._compiled.get(key)
        if program is None:
            t0, hits = time.perf_counter(), persistent_cache_hits()
            program = (self._start.lower(job.recipe, keys, shape=job.shape).compile(compiler_options(model=self.model)),
                       self._ascend.lower(*args, shape=job.shape, chunk=chunk).compile(compiler_options(model=self.model)))
            stats.compile_seconds += time.perf_counter() - t0
            stats.programs_compiled += len(program)
            stats.programs_from_disk += persistent_cache_hits() - hits
            self._compiled[key] = program
        return program

    def plan(self, job: Job, pictures: int, batch: int = 0, stats: DreamStats | None = None, chunk: int | None = None) -> Batches:
        """Split ``pictures`` into batches that fit in memory, compiling their program.

        With ``batch`` 0 the size comes from the pixel budget and is halved until XLA's memory
        estimate fits; a ``batch`` given is kept, or refused when it cannot fit. ``chunk``:
        pictures per network call (None: :func:`auto_chunk`; 0: the whole batch).
        """
        stats = stats if stats is not None else DreamStats()
        copies, (h, w) = job.copies, job.shape
        if batch and batch % copies:
            raise DreamjaxError(f"a batch of {batch} pictures cannot hold whole groups of {copies} copies",
                                f"use a multiple of {copies}")
        canvas = job.recipe.canvas(job.shape)
        if chunk is None:
            chunk = auto_chunk(canvas, copies)
            while batch and chunk > copies and batch % chunk:  # a chunk the given batch splits into
                chunk -= copies
        elif chunk % copies or (batch and chunk and batch % chunk):
            raise DreamjaxError(f"a chunk of {chunk} pictures must hold whole groups of {copies} copies and divide the batch")
        size = batch or auto_batch(canvas, copies)
        while True:
            plan = split_batches(pictures, size, copies, chunk)
            needed = program_bytes(self.program(job, plan.size, plan.chunk, stats)[1])
            stats.estimated_bytes = (needed or 0) + 2 * plan.size * h * w * 3 * 4  # plus the host copies
            try:
                check_fits(stats.estimated_bytes if needed else None, jax.devices()[0],
                           f"visualising {plan.size} pictures of {w}x{h} at once")
                return plan
            except MemoryLimitError as exc:
                if batch or plan.size <= copies:
                    raise MemoryLimitError(exc.message, f"make fewer pictures at once (a smaller --batch, fewer --copies) "
                                           f"or smaller ones (--size); {ENV_SWITCH}=0 runs it anyway",
                                           needed=exc.needed, available=exc.available) from None
                size = max(copies, plan.size // 2 // copies * copies)

    def run(self, job: Job, members: Sequence[int], chunk: int, stats: DreamStats,
            progress: Callable[[int], None] | None = None) -> np.ndarray:
        """One batch of pictures ``members``; returns them, ``[B, H, W, 3]``. ``progress(step)`` per call."""
        start, ascend = self.program(job, len(members), chunk, stats)
        vectors, keys = job.inputs(members)
        objective = job.objective.with_vectors(jnp.asarray(vectors))
        t0 = time.perf_counter()
        state = start(job.recipe, keys)
        steps = max(1, math.ceil(job.steps / CALLS))
        for begin in range(0, job.steps, steps):
            end = min(job.steps, begin + steps)
            state, pictures = ascend(self.model.params, objective, job.recipe, keys, state, begin, end)
            pictures.block_until_ready()
            if progress is not None:
                progress(end)
        stats.run_seconds += time.perf_counter() - t0
        out = np.asarray(pictures)
        if not np.all(np.isfinite(out)):
            raise DreamjaxError("the pictures diverged (NaN or Inf)", "try a smaller learning rate")
        return out

    def make(self, job: Job, pictures: Sequence[int], *, batch: int = 0, chunk: int | None = None,
             stats: DreamStats | None = None,
             on_plan: Callable[[Batches], None] | None = None,
             on_batch: Callable[[list[int], np.ndarray], None] | None = None,
             on_step: Callable[[int], None] | None = None) -> DreamStats:
        """Make ``pictures`` (indices into the job) batch by batch.

        ``on_batch(indices, images)`` gets each finished batch; ``on_step(picture_steps)`` counts
        the picture-steps done in this call so far.
        """
        stats = stats if stats is not None else DreamStats()
        pictures = list(pictures)
        plan = self.plan(job, len(pictures), batch, stats, chunk)
        if on_plan is not None:
            on_plan(plan)
        done = 0
        for k in range(len(plan.batches)):
            members = [pictures[i] for i in plan.batches[k]]
            real = len(plan.real(k))
            images = self.run(job, members, plan.chunk, stats, None if on_step is None else lambda s, b=done, n=real: on_step(b + n * s))
            done += real * job.steps
            if on_batch is not None:
                on_batch(members[:real], images[:real])
        stats.images += len(pictures)
        stats.ascent_steps = job.steps
        return stats


_VISUALIZERS: dict[int, Visualizer] = {}


def visualizer_for(model: DreamModel) -> Visualizer:
    """A cached Visualizer per model object, so repeated calls reuse compiled programs."""
    found = _VISUALIZERS.get(id(model))
    if found is None or found.model is not model:
        if len(_VISUALIZERS) >= 4:
            _VISUALIZERS.pop(next(iter(_VISUALIZERS)))
        found = _VISUALIZERS[id(model)] = Visualizer(model)
    return found


def channel_scores(model: DreamModel, layer: str, pictures: np.ndarray, channels: Sequence[int]) -> np.ndarray:
    """Mean activation of each of ``channels`` of ``layer`` on each picture: ``[N, len(channels)]``.

    The pictures are shown to the network as they are (no transformations).
    """
    return visualizer_for(model).mean_activations(layer, pictures)[:, list(channels)]


def visualize(
    model: DreamModel,
    layer: str | None = None,
    channels: Sequence[int | str] | None = None,
    *,
    batch: int = 0,
    progress: Callable[[int, int], None] | None = None,
    **settings,
) -> np.ndarray:
    """Pictures of what ``channels`` of ``layer`` detect: float32 ``[N * copies, H, W, 3]`` in ``[0, 1]``.

    Settings (see :func:`make_job`): ``kind`` ``channel`` (mean activation, the default),
    ``neuron`` (centre position), ``class`` (logits; ``channels`` are class numbers or names) or
    ``direction`` (rows of ``directions`` ``[N, C]``); ``size=128`` (or ``(H, W)``), ``steps=512``,
    ``seed=0``; ``copies`` pictures per channel, pushed apart by ``diversity`` (lucid uses about
    1e2) measured at ``diversity_layer``; ``also``: an Objective (or its text, e.g.
    ``"blocks.5:0.1"``) added to every picture's objective; ``recipe`` (:class:`Recipe`).
    ``channels`` default to all the layer's channels. ``batch`` 0 chooses the pictures per
    program from memory. ``progress(done, total)`` counts picture-steps.
    """
    ensure_compilation_cache()
    job = make_job(model, layer, channels, **settings)
    out = np.zeros((job.pictures, *job.shape, 3), np.float32)

    def keep(members, images):
        out[members] = images

    step = None if progress is None else (lambda done: progress(done, job.pictures * job.steps))
    visualizer_for(model).make(job, range(job.pictures), batch=batch, on_batch=keep, on_step=step)
    return out
