"""What a dream run cost (:class:`DreamStats`): programs built and loaded, compile and ascent time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class DreamStats:
    """What a run cost: compile time is kept apart from the steady-state ascent."""

    images: int = 0
    ascent_steps: int = 0  # per image
    # Wall time while any program was building (in the background it may overlap the ascent;
    # builds in several threads at once count once).
    compile_seconds: float = 0.0
    wait_seconds: float = 0.0  # time the ascent stood still waiting for a program
    run_seconds: float = 0.0
    programs_compiled: int = 0  # built in this run (from scratch or from the disk cache)
    programs_from_disk: int = 0  # of those, loaded from the persistent compilation cache
    estimated_bytes: int = 0  # peak memory of the largest octave program, from XLA, plus host copies
    shapes: list[tuple[int, ...]] = field(default_factory=list)
    canvases: list[tuple[int, ...]] = field(default_factory=list)  # the canvas each octave ran on
    _building: int = field(default=0, repr=False, compare=False)  # builds in flight (callers hold a lock)
    _building_since: float = field(default=0.0, repr=False, compare=False)

    def build_started(self) -> None:
        if self._building == 0:
            self._building_since = time.perf_counter()
        self._building += 1

    def build_ended(self) -> None:
        self._building -= 1
        if self._building == 0:
            self.compile_seconds += time.perf_counter() - self._building_since

    @property
    def steps_per_second(self) -> float:
        return self.ascent_steps / self.run_seconds if self.run_seconds else float("nan")

    @property
    def images_per_second(self) -> float:
        return self.images / self.run_seconds if self.run_seconds else float("nan")

    @property
    def padded_fraction(self) -> float:
        """Share of the canvas pixels stepped that were padding (0 with exact shapes)."""
        real = sum(h * w for h, w in self.shapes)
        total = sum(h * w for h, w in self.canvases)
        return 1.0 - real / total if total else 0.0
