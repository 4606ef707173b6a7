"""``dreamjax bench``: dream throughput over image and batch sizes, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from ..apps import bench
from ..ascent.engine import DreamConfig
from ..ascent.objectives import layer_objective
from ..backends import load_model
from ..errors import DreamjaxError
from ..runtime.cache import use_compilation_cache
from .options import add_model_options, octave_count, positive_int, step_count


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("bench", help="measure dream throughput",
                       description="Time full dreams (octaves x steps) per image size and batch size. "
                                   "Compile time is measured on the first dream of each case and kept apart.")
    add_model_options(p, layer_help="layer(s) to dream (default: the model's default)")
    p.add_argument("--sizes", type=positive_int, nargs="+", default=[224, 512], metavar="PX",
                   help="square image sides (default 224 512)")
    p.add_argument("--batch-sizes", type=positive_int, nargs="+", default=[1, 4], metavar="B",
                   help="images per batch (default 1 4)")
    p.add_argument("--steps", type=step_count, default=10, help="ascent steps per octave (default 10)")
    p.add_argument("--octaves", type=octave_count, default=4, help="(default 4)")
    p.add_argument("--devices", type=positive_int, default=None, help="local devices per batch (default: as many as help)")
    p.add_argument("--repeats", type=positive_int, default=1, help="timed dreams per case after the first (best is kept)")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout instead of a table")
    p.add_argument("--no-cache", action="store_true", help="compile from scratch (no persistent compilation cache)")
    return p


def run(args: argparse.Namespace, console: Console) -> int:
    use_compilation_cache(not args.no_cache)
    with console.status(f"loading {args.model}"):
        model = load_model(args.model)
        objective = layer_objective(model, dict(args.layer) if args.layer else None)
    small = [s for s in args.sizes if s < model.input_spec.min_size]
    if small:
        raise DreamjaxError(f"sizes {small} are under {model.name}'s minimum of {model.input_spec.min_size} pixels")
    config = DreamConfig(octaves=args.octaves, steps=args.steps)
    device = bench.device_description(args.devices)
    table = Table(title=f"{model.name} at {', '.join(objective.layers)}: {args.octaves} octaves x {args.steps} steps on {device}")
    for name in ("size", "batch", "images/s", "ascent steps/s", "ms/step", "compile s", "programs", "peak MiB"):
        table.add_column(name, justify="right")

    def show(r: bench.BenchResult) -> None:
        programs = f"{r.programs_compiled}" + (f" ({r.programs_from_disk} from disk)" if r.programs_from_disk else "")
        table.add_row(f"{r.size}x{r.size}", str(r.batch), f"{r.images_per_second:.3f}", f"{r.steps_per_second:.2f}",
                      f"{r.ms_per_step:.1f}", f"{r.compile_seconds:.1f}", programs, f"{r.peak_rss_mib:.0f}")
        console.print(f"done {r.size}x{r.size} batch {r.batch}: {r.ms_per_step:.1f} ms/step", highlight=False)

    with console.status("dreaming (the first dream of each case compiles)"):
        results = bench.run(model, objective, args.sizes, args.batch_sizes, config, devices=args.devices,
                            repeats=args.repeats, on_result=show)
    if args.json:
        json.dump({"device": device, "results": [r.as_dict() for r in results]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        out = Console()
        out.width = max(out.width, 120)  # a pipe or log keeps the whole table
        out.print(table)
    return 0
