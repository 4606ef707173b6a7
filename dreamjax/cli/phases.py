"""The ``--timings`` table of a run: each phase's wall time, and what is left over."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table

from ..runtime import timings


def add_option(parser) -> None:
    parser.add_argument("--timings", action="store_true",
                        help="print where the run's time went, phase by phase (also DREAMJAX_TIMINGS=1, or =json)")


def record_stats(stats) -> None:
    """The engine's share of a run: programs loaded or compiled, and the ascent.

    Where programs are built beside the ascent (the engine reports ``wait_seconds``), the phase
    is the time the ascent waited for them, and the building time is a note.
    """
    what = f"{stats.programs_from_disk} loaded, {stats.programs_compiled - stats.programs_from_disk} compiled"
    waited = getattr(stats, "wait_seconds", None)
    if waited is None:
        timings.add(f"programs ({what})", stats.compile_seconds)
    else:
        timings.add(f"waiting for programs ({what})", waited)
        timings.note("building programs, beside the ascent", stats.compile_seconds)
    timings.add("ascent", stats.run_seconds)


def report(console: Console, flag: bool) -> None:
    """Print the phases if asked to (``--timings`` or ``DREAMJAX_TIMINGS``); "other" is the rest."""
    mode = timings.wanted(flag)
    if mode is None:
        return
    phases = timings.recorded()
    total = timings.process_age()
    if total is not None:
        phases["other"] = max(0.0, total - sum(phases.values()))
    if mode == "json":
        print(json.dumps({"phases": phases, "notes": timings.notes(), "total": total}), file=sys.stderr, flush=True)
        return
    table = Table(title="where the time went", title_justify="left")
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    for name, seconds in phases.items():
        table.add_row(name, f"{seconds:.2f}")
    if total is not None:
        table.add_row("[bold]total (whole process)[/]", f"[bold]{total:.2f}[/]")
    for name, seconds in timings.notes().items():
        table.add_row(f"[dim]{name}[/]", f"[dim]{seconds:.2f}[/]")
    console.print(table)
