"""``dreamjax dream DIR_OR_GLOB -o OUTDIR``: many images, in batches, one progress bar.

Pictures already in OUTDIR are skipped, so an interrupted run continues where it stopped.
With ``--coordinator/--num-processes/--process-id`` (or JAX's environment variables) several
processes split the files between them; each uses all of its local devices.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..apps import folders
from ..apps.stats import cost_summary
from ..ascent.engine import dreamer_for
from ..errors import DreamjaxError
from ..runtime import distributed
from ..runtime.cache import use_compilation_cache
from . import phases as timing_report
from .options import positive_int


def add_options(p: argparse.ArgumentParser) -> None:
    """Options for batches, devices and processes (shared by single-image runs where they apply)."""
    g = p.add_argument_group("many images, devices and hosts")
    g.add_argument("--batch-size", type=positive_int, default=None,
                   help="images per compiled batch when dreaming a folder (default: 4 on CPU, 8 per accelerator)")
    g.add_argument("--devices", type=positive_int, default=None,
                   help="local devices to split each batch over (default: as many as help)")
    g.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0, for several processes")
    g.add_argument("--num-processes", type=positive_int, help="number of processes taking part")
    g.add_argument("--process-id", type=int, help="this process's number, 0 .. N-1")
    g.add_argument("--distributed", action="store_true",
                   help="join a multi-process run whose settings JAX detects (Slurm, Open MPI)")


def run(args: argparse.Namespace, first: dict, console: Console, prepare) -> int:
    """``first``: the options as resolved before the preset; ``prepare`` builds model and objective."""
    if not first["output"]:
        raise DreamjaxError(f"{first['image']!r} names many images; say where the results go",
                            "add -o OUTDIR (created if missing)")
    if first["from_noise"] or first["from_colour"]:
        raise DreamjaxError("give an input folder or --from-noise/--from-colour, not both")
    outdir = Path(first["output"])
    if outdir.exists() and not outdir.is_dir():
        raise DreamjaxError(f"output {str(outdir)!r} is a file, but many images need a folder", "give -o a folder")
    if not outdir.absolute().parent.is_dir():
        raise DreamjaxError(f"the folder {str(outdir.absolute().parent)!r} (above the output folder) does not exist")
    settings = distributed.settings(first["coordinator"], first["num_processes"], first["process_id"],
                                    auto=bool(first["distributed"]))
    files = folders.find_images(first["image"])
    index, count = distributed.initialize(settings)  # before any other JAX work
    use_compilation_cache(not first["no_cache"])
    with console.status(f"loading {first['model']}"):
        model, preset, s, config, objective = prepare(args, first)
    work = folders.plan(files, outdir, index=index, count=count, max_pixels=s["max_pixels"],
                      min_size=model.input_spec.min_size)
    who = f"process {index + 1}/{count} takes {len(folders.share(files, index, count))} of {len(files)}" if count > 1 else f"{len(files)} images"
    console.print(f"{who}: {len(work.done)} done already, {work.todo} to dream in {len(work.groups)} size group(s) "
                  f"with {model.name}{f' ({preset.name})' if preset else ''} at {objective.describe()}", highlight=False)
    if not work.todo:
        return 0

    dreamer = dreamer_for(model)
    batch_size = s["batch_size"] or folders.default_batch_size()
    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("dreaming", total=work.todo)
        totals = folders.dream_files(
            work, lambda pictures: dreamer.run(pictures, objective, config, devices=s["devices"],
                                               status=lambda text: bar.update(task, description=text)),
            batch_size=batch_size, max_pixels=s["max_pixels"],
            on_batch=lambda done: bar.update(task, advance=len(done), description=f"last: {done[-1].name}"),
        )
    total = time.perf_counter() - started
    console.print(
        f"wrote {len(totals.written)} pictures to [bold]{outdir}[/] in {total:.1f} s: {cost_summary(totals)}",
        highlight=False,
    )
    timing_report.record_stats(totals)
    timing_report.report(console, bool(first["timings"]))
    return 0
