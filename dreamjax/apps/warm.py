"""Compile ahead of time (``dreamjax cache warm``), so the first picture of a size starts warm.

Each size is compiled exactly as ``dreamjax dream`` would compile it (same engine entry point,
same octave plans and canvases), for one image, and the programs land in the program cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..ascent.engine import DreamConfig, dreamer_for
from ..ascent.objectives import Objective
from ..ascent.schedule import build_order
from ..model import DreamModel
from ..runtime.devices import place

# The sizes warmed when none are given: the bundled photo (`dreamjax dream` with no image), the
# default --from-noise canvas, and common camera and screen sizes (about 24 programs in all).
DEFAULT_SIZES = ((300, 451), (512, 512), (480, 640), (600, 800), (768, 1024), (720, 1280))


@dataclass(frozen=True)
class Warmed:
    size: tuple[int, int]  # (height, width)
    programs: int
    loaded: int  # of those, already in the cache
    seconds: float


def program_count(model: DreamModel, size: tuple[int, int], objective: Objective, config: DreamConfig) -> int:
    """How many programs a dream of one image of ``size`` builds (octaves sharing a canvas share one)."""
    return len(build_order(dreamer_for(model).plan(size, objective, config, place(1))))


def warm(model: DreamModel, sizes: Sequence[tuple[int, int]], objective: Objective, config: DreamConfig,
         on_size: Callable[[Warmed], None] | None = None) -> list[Warmed]:
    """Compile (or find already cached) every program a dream of each size needs.

    Sizes in one bucket of the engine's ladder share programs, so warming a few sizes covers
    every photo size between them (see ``dreamjax.ascent.buckets``).
    """
    dreamer, done = dreamer_for(model), []
    for size in sizes:
        stats = dreamer.compile(size, objective, config)
        done.append(Warmed(size, stats.programs_compiled, stats.programs_from_disk, stats.compile_seconds))
        if on_size is not None:
            on_size(done[-1])
    return done
