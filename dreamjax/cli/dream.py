"""``dreamjax dream``: dream on one image and write a PNG."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from .. import image as imageio
from ..backends import load_model
from ..batch import is_many
from ..cache import disable_compilation_cache, ensure_compilation_cache
from ..engine import DreamConfig, dreamer_for
from ..objectives import layer_objective
from ..zoo import DEFAULT_MODEL
from . import dream_many
from .options import at_least_one_float, layer_weight, non_negative_int, positive_float, positive_int


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("dream", help="dream on an image", description="Run DeepDream on an image and write the result.")
    p.add_argument("image", nargs="?", help="input image, or a folder or glob of many (default: the bundled cat photo)")
    p.add_argument("-o", "--output", help="output image, or folder for many (default: <input name>_dream.png here)")
    p.add_argument("-m", "--model", default=DEFAULT_MODEL, help=f"zoo name or .onnx path (default {DEFAULT_MODEL})")
    p.add_argument("-l", "--layer", action="append", type=layer_weight, metavar="NAME[:WEIGHT]",
                   help="layer to amplify; repeat for several (see `dreamjax layers MODEL`)")
    p.add_argument("--octaves", type=positive_int, default=4)
    p.add_argument("--octave-scale", type=at_least_one_float, default=1.4)
    p.add_argument("--steps", type=positive_int, default=10, help="ascent steps per octave")
    p.add_argument("--step-size", type=positive_float, default=0.01)
    p.add_argument("--jitter", type=non_negative_int, default=32, help="max random shift in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-pixels", type=positive_int, default=imageio.DEFAULT_MAX_PIXELS,
                   help="refuse bigger input images (decompression-bomb guard)")
    p.add_argument("--no-cache", action="store_true", help="don't use the persistent compilation cache")
    dream_many.add_options(p)
    return p


def run(args: argparse.Namespace, console: Console) -> int:
    if args.image and is_many(args.image):
        return dream_many.run(args, console)
    source = Path(args.image) if args.image else imageio.sample_image_path()
    output = Path(args.output) if args.output else Path(f"{source.stem}_dream.png")
    imageio.check_output_path(output)  # fail before minutes of work, not after
    config = DreamConfig(args.octaves, args.octave_scale, args.steps, args.step_size, args.jitter, args.seed)
    picture = imageio.load_image(source, max_pixels=args.max_pixels)
    if args.no_cache:
        disable_compilation_cache()
    else:
        ensure_compilation_cache()

    with console.status(f"loading {args.model}"):
        model = load_model(args.model)
        objective = layer_objective(model, dict(args.layer) if args.layer else None)
    layers = ", ".join(objective.layers)
    console.print(f"dreaming [bold]{source.name}[/] ({picture.shape[1]}x{picture.shape[0]}) "
                  f"with {model.name} at {layers}", highlight=False)

    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("octave 1", total=config.octaves * config.steps)

        def on_octave(i: int, n: int, shape: tuple[int, int]) -> None:
            bar.update(task, total=n * config.steps, completed=(i + 1) * config.steps,
                       description=f"octave {min(i + 2, n)}/{n}")

        dreamed, stats = dreamer_for(model).run(picture[None], objective, config, on_octave, devices=args.devices)
    imageio.save_image(output, dreamed[0])
    total = time.perf_counter() - started
    console.print(
        f"wrote [bold]{output}[/] in {total:.1f} s: compile {stats.compile_seconds:.1f} s "
        f"({stats.programs_compiled} programs, {stats.programs_from_disk} from cache), ascent {stats.run_seconds:.1f} s, "
        f"{stats.steps_per_second:.2f} steps/s",
        highlight=False,
    )
    return 0
