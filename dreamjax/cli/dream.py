"""``dreamjax dream``: dream on one image and write a PNG."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..apps.folders import is_many
from ..apps.presets import get_preset
from ..apps.stats import cost_summary
from ..ascent import objective_syntax
from ..ascent.engine import DreamConfig, dreamer_for
from ..ascent.objectives import build_objective, default_layer
from ..ascent.regularisers import MAX_LAPLACIAN_LEVELS, Regularisers
from ..ascent.tiling import TileConfig
from ..backends import load_model
from ..errors import DreamjaxError
from ..files import image as imageio
from ..files.starts import colour_image, noise_image
from ..runtime import timings
from ..runtime.cache import use_compilation_cache
from . import dream_many
from . import phases as timing_report
from .options import (
    add_ascent_options,
    add_input_options,
    add_model_options,
    add_objective_options,
    colour_text,
    int_between,
    non_negative_float,
    size_text,
)
from .settings import defer_defaults, objective_terms, resolve

EPILOG = f"""\
objectives (--objective, repeatable; terms add up):
{objective_syntax.__doc__.split("::", 1)[1].split("This module only", 1)[0].replace("Examples::", "examples:").rstrip()}

settings come from, highest first: the options given here, --config FILE (TOML, the same
option names, e.g. step_size = 0.02, objective as text or [[objective]] tables), --preset
(see `dreamjax presets MODEL`), the defaults.
"""


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("dream", help="dream on an image", description="Run DeepDream on an image and write the result.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("image", nargs="?", help="input image, or a folder or glob of many (default: the bundled cat photo)")
    p.add_argument("-o", "--output", help="output image, or folder for many (default: <input name>_dream.png here)")
    add_model_options(p)
    add_ascent_options(p, octaves=4, steps=10, steps_help="ascent steps per octave",
                       seed_help="seeds the jitter and --from-noise")
    add_input_options(p)
    steer = p.add_argument_group("steering")
    add_objective_options(steer)
    steer.add_argument("--preset", metavar="NAME", help="a named look: layers and settings (see `dreamjax presets MODEL`)")
    steer.add_argument("--config", metavar="FILE", help="read settings from a TOML file (options given here win)")
    start = p.add_argument_group("starting picture (instead of an image)")
    start.add_argument("--from-noise", action="store_true", help="start from grey noise (seeded by --seed)")
    start.add_argument("--from-colour", "--from-color", dest="from_colour", type=colour_text, metavar="COLOUR",
                       help="start from a flat colour: '#808080', 'grey', 'rgb(40,60,90)'")
    start.add_argument("--size", type=size_text, default=(512, 512), metavar="WxH",
                       help="size of the noise or colour picture (default 512x512)")
    reg = p.add_argument_group("regularisers (all off by default)")
    reg.add_argument("--tv", type=non_negative_float, default=0.0, metavar="WEIGHT", help="total variation penalty")
    reg.add_argument("--blur", type=non_negative_float, default=0.0, metavar="SIGMA",
                     help="blur what each octave adds, after every step (sigma in pixels)")
    reg.add_argument("--laplacian", type=int_between(0, MAX_LAPLACIAN_LEVELS), default=0, metavar="LEVELS",
                     help=f"Laplacian-pyramid gradient normalisation over LEVELS bands (0-{MAX_LAPLACIAN_LEVELS}; 4 is classic)")
    reg.add_argument("--decorrelate-colour", "--decorrelate-color", dest="decorrelate_colour", action="store_true",
                     help="take steps in decorrelated colour space (as Lucid)")
    dream_many.add_options(p)
    timing_report.add_option(p)
    defer_defaults(p)
    return p


def prepare(args: argparse.Namespace, first: dict):
    """Model, preset, settings, DreamConfig and Objective from the options (one image or many)."""
    model = load_model(first["model"])
    preset = get_preset(model, first["preset"]) if first["preset"] else None
    s = resolve(args, dict(preset.settings) if preset else None)
    regularisers = Regularisers(s["tv"], s["blur"], s["laplacian"], bool(s["decorrelate_colour"]))
    config = DreamConfig(s["octaves"], s["octave_scale"], s["steps"], s["step_size"], s["jitter"], s["seed"],
                         TileConfig(size=s["tile"]), regularisers, bool(s["exact_shapes"]))
    terms = objective_terms(s) or (objective_syntax.parse_objective(preset.objective) if preset else ())
    objective = build_objective(model, terms or [objective_syntax.LayerTerm(default_layer(model))])
    return model, preset, s, config, objective


def run(args: argparse.Namespace, console: Console) -> int:
    first = resolve(args)  # settings before the preset: which model, which preset
    if first["image"] and is_many(first["image"]):
        return dream_many.run(args, first, console, prepare)
    if first["image"] and (first["from_noise"] or first["from_colour"]):
        raise DreamjaxError("give an input image or --from-noise/--from-colour, not both")
    if first["from_noise"] and first["from_colour"]:
        raise DreamjaxError("give --from-noise or --from-colour, not both")
    synthetic = "noise" if first["from_noise"] else "colour" if first["from_colour"] else None
    source = Path(first["image"]) if first["image"] else None if synthetic else imageio.sample_image_path()
    output = Path(first["output"]) if first["output"] else Path(f"{source.stem if source else synthetic}_dream.png")
    imageio.check_output_path(output)  # fail before minutes of work, not after
    if not synthetic:
        with timings.phase("image read"):
            picture = imageio.load_image(source, max_pixels=first["max_pixels"])
    use_compilation_cache(not first["no_cache"])

    with console.status(f"loading {first['model']}"):
        model, preset, s, config, objective = prepare(args, first)
    if synthetic == "noise":
        picture, name = noise_image(s["size"], seed=s["seed"]), "noise"
    elif synthetic:
        picture, name = colour_image(s["size"], s["from_colour"], seed=s["seed"]), s["from_colour"]
    else:
        name = source.name
    console.print(f"dreaming [bold]{name}[/] ({picture.shape[1]}x{picture.shape[0]}) with {model.name}"
                  f"{f' ({preset.name})' if preset else ''} at {objective.describe()}", highlight=False)

    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("preparing", total=config.octaves * config.steps)

        def on_octave(i: int, n: int, shape: tuple[int, int]) -> None:
            bar.update(task, total=n * config.steps, completed=(i + 1) * config.steps)

        def on_status(text: str) -> None:  # what the run waits for: "compiling octave 2/4", "dreaming octave 2/4"
            bar.update(task, description=text)

        dreamed, stats = dreamer_for(model).run(picture[None], objective, config, on_octave, devices=s["devices"],
                                                status=on_status)
    timing_report.record_stats(stats)
    with timings.phase("PNG write"):
        imageio.save_image(output, dreamed[0])
    total = time.perf_counter() - started
    console.print(
        f"wrote [bold]{output}[/] in {total:.1f} s: {cost_summary(stats)}, {stats.steps_per_second:.2f} steps/s",
        highlight=False,
        soft_wrap=True,
    )
    timing_report.report(console, bool(first["timings"]))
    return 0
