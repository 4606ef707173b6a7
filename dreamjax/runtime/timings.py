"""Where a run's wall time goes, phase by phase (``dreamjax dream --timings``, ``DREAMJAX_TIMINGS=1``).

Library code marks its phases with :func:`phase` (a ``perf_counter`` pair, always on: it costs
nothing worth switching off); the CLI adds its own and prints the table. ``DREAMJAX_TIMINGS=json``
prints one JSON line instead, for benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

ENV = "DREAMJAX_TIMINGS"
WEIGHTS_READ = "weights read"
_phases: dict[str, float] = {}
_notes: dict[str, float] = {}  # times that overlap the phases (work in background threads)


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Add the time spent inside the block to phase ``name``."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        add(name, time.perf_counter() - t0)


def add(name: str, seconds: float) -> None:
    _phases[name] = _phases.get(name, 0.0) + seconds


def note(name: str, seconds: float) -> None:
    """Report ``seconds`` beside the phases without counting it in them (it overlapped them)."""
    _notes[name] = _notes.get(name, 0.0) + seconds


def recorded() -> dict[str, float]:
    """The phases so far, in the order they first ran."""
    return dict(_phases)


def notes() -> dict[str, float]:
    return dict(_notes)


def reset() -> None:
    _phases.clear()
    _notes.clear()


def process_age() -> float | None:
    """Seconds since this process started (Linux: from /proc, 10 ms steps); None elsewhere."""
    try:
        with open("/proc/self/stat") as f:
            started_ticks = int(f.read().rpartition(")")[2].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, uptime - started_ticks / os.sysconf("SC_CLK_TCK"))


def wanted(flag: bool = False) -> str | None:
    """How to report: "table", "json" or None (off), from ``--timings`` and the environment."""
    env = os.environ.get(ENV, "").strip().lower()
    if env == "json":
        return "json"
    return "table" if flag or env not in ("", "0", "no", "false") else None
