"""Compile ahead of time (``dreamjax cache warm``), so the first picture of a size starts warm.

Each size is compiled exactly as ``dreamjax dream`` would compile it (same engine entry point,
same octave plans, same memory check), for one image, and the programs land in the program
cache. :func:`program_shapes` is the one place that says which canvases a size needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..ascent.engine import DreamConfig, DreamStats, dreamer_for, octave_shapes
from ..ascent.objectives import Objective
from ..model import DreamModel
from ..runtime.devices import place

# The sizes warmed when none are given: the bundled photo (`dreamjax dream` with no image)
# and the default --from-noise canvas.
DEFAULT_SIZES = ((300, 451), (512, 512))


@dataclass(frozen=True)
class Warmed:
    size: tuple[int, int]  # (height, width)
    programs: int
    loaded: int  # of those, already in the cache
    seconds: float


def program_shapes(model: DreamModel, size: tuple[int, int], config: DreamConfig) -> list[tuple[int, int]]:
    """The canvases a dream of ``size`` runs on: its octave shapes.

    The seam for shape buckets: when the engine snaps octaves to a ladder of canvases, this
    returns the buckets instead, and warming a few sizes covers every photo between them.
    """
    return octave_shapes(*size, config.octaves, config.octave_scale, model.input_spec.min_size)


def warm(model: DreamModel, sizes: Sequence[tuple[int, int]], objective: Objective, config: DreamConfig,
         on_size: Callable[[Warmed], None] | None = None) -> list[Warmed]:
    """Compile (or find already cached) every program a dream of each size needs."""
    dreamer, done = dreamer_for(model), []
    for size in sizes:
        shapes = program_shapes(model, size, config)
        stats = DreamStats(images=1, shapes=shapes)
        placement = place(1)
        image = placement.put(np.zeros((1, *size, 3), np.float32))
        # The engine's compile step: every octave program of the run, and the memory check.
        dreamer._compile_and_check_memory(image, shapes, objective, config, stats, jax.random.key(config.seed),
                                          jnp.float32(config.step_size), placement)
        done.append(Warmed(size, stats.programs_compiled, stats.programs_from_disk, stats.compile_seconds))
        if on_size is not None:
            on_size(done[-1])
    return done
