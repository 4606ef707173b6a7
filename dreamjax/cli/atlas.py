"""``dreamjax atlas MODEL --layer L``: a picture of what each channel detects, a contact sheet and a page."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..ascent.engine import MAX_STEPS, SEED_RANGE
from ..backends import load_model
from ..errors import DreamjaxError
from ..runtime.cache import use_compilation_cache
from ..zoo import DEFAULT_MODEL
from .options import float_between, int_between, non_negative_float, non_negative_int, objective_text, positive_float

DEFAULT_CHANNELS = 64  # without --channels: the first 64 (an atlas of 1280 channels is a long run)


def channel_list(text: str) -> list[int]:
    """``0:64`` (end excluded, as in Python), ``97``, or several joined by commas: ``0:8,40,97``."""
    channels: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d{1,6})\s*(?::\s*(\d{1,6})\s*)?", part)
        if not match:
            raise argparse.ArgumentTypeError(f"expected channels like 0:64, 97 or 0:8,40 (end excluded), got {text!r}")
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first + 1
        if last <= first:
            raise argparse.ArgumentTypeError(f"the range {part.strip()!r} is empty (the end is excluded)")
        channels += range(first, last)
    if len(set(channels)) != len(channels):
        raise argparse.ArgumentTypeError(f"a channel is listed twice in {text!r}")
    return channels


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "atlas", help="picture what each channel of a layer detects (feature visualisation)",
        description="Make one feature-visualisation picture per channel (lucid's recipe: FFT image, decorrelated "
                    "colour, Adam, random transforms), many channels per compiled program. Writes one PNG per "
                    "channel, atlas.png (a labelled contact sheet) and index.html into the folder. Run the same "
                    "command again to continue an interrupted atlas.",
    )
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL, help=f"zoo name or .onnx path (default {DEFAULT_MODEL})")
    p.add_argument("-l", "--layer", help="the layer (see `dreamjax layers MODEL`); not needed for --kind class")
    p.add_argument("-o", "--outdir", help="output folder (default: <layer>_atlas)")
    p.add_argument("--channels", type=channel_list, metavar="SPEC",
                   help=f"channels (class numbers for --kind class): 0:64, 97, 0:8,40 (default: the first {DEFAULT_CHANNELS})")
    p.add_argument("--class", dest="classes", action="append", metavar="NAME", help="a class by name (--kind class); repeat")
    p.add_argument("--kind", choices=("channel", "neuron", "class", "direction"), default="channel",
                   help="channel: mean activation (default); neuron: the centre position; class: a class logit; "
                        "direction: rows of --directions")
    p.add_argument("--directions", metavar="FILE.npy", help="directions in activation space, an array [N, channels]")
    p.add_argument("--size", type=int_between(16, 1024), default=128, help="picture side in pixels (default 128)")
    p.add_argument("--steps", type=int_between(1, MAX_STEPS), default=512, help="optimisation steps (default 512)")
    p.add_argument("--seed", type=int_between(0, SEED_RANGE[1]), default=0)
    p.add_argument("--batch", type=non_negative_int, default=0, help="pictures per program (default 0: chosen from memory)")
    more = p.add_argument_group("objective")
    more.add_argument("--copies", type=int_between(1, 64), default=1, help="pictures per channel (default 1)")
    more.add_argument("--diversity", type=non_negative_float, default=0.0,
                      help="push a channel's copies apart (lucid's diversity term; try 100 with --copies 4)")
    more.add_argument("--diversity-layer", metavar="NAME", help="layer whose textures the diversity term compares")
    more.add_argument("--also", type=objective_text, metavar="TERMS",
                      help="added to every picture's objective, as in `dreamjax dream --objective` (e.g. 'blocks.5:0.1')")
    recipe = p.add_argument_group("recipe (every piece can be switched off)")
    recipe.add_argument("--lr", type=positive_float, default=0.05, help="learning rate (default 0.05)")
    recipe.add_argument("--decay-power", type=float_between(0.0, 4.0), default=1.0, help="spectrum scale 1/f**POWER")
    recipe.add_argument("--no-fft", action="store_true", help="optimise pixels instead of the FFT spectrum")
    recipe.add_argument("--no-decorrelate", action="store_true", help="optimise plain RGB instead of decorrelated colour")
    recipe.add_argument("--no-sigmoid", action="store_true", help="clip to [0, 1] instead of a sigmoid")
    recipe.add_argument("--no-adam", action="store_true", help="plain gradient ascent instead of Adam")
    recipe.add_argument("--no-transforms", action="store_true", help="show the network the picture as it is")
    recipe.add_argument("--pad", type=int_between(0, 256), default=12, help="grey border, pixels (default 12)")
    recipe.add_argument("--jitter", type=int_between(0, 256), default=6, help="random shift, pixels (default 6)")
    recipe.add_argument("--scale", type=float_between(0.0, 0.5), default=0.1, help="random scale 1 +- SCALE (default 0.1)")
    recipe.add_argument("--rotate", type=float_between(0.0, 180.0), default=10.0, help="random turn, degrees (default 10)")
    p.add_argument("--restart", action="store_true", help="delete the atlas in OUTDIR and start over")
    p.add_argument("--no-cache", action="store_true", help="don't use the persistent compilation cache")
    return p


def make_recipe(args: argparse.Namespace):
    from ..featurevis import Parametrisation, Recipe, Transforms

    param = Parametrisation(fft=not args.no_fft, decorrelate=not args.no_decorrelate, sigmoid=not args.no_sigmoid)
    transforms = None if args.no_transforms else Transforms(args.scale, args.rotate, args.pad, args.jitter)
    return Recipe(args.lr, args.decay_power, transforms=transforms, param=param, adam=not args.no_adam)


def _directions(path: str | None) -> np.ndarray | None:
    if path is None:
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DreamjaxError(f"cannot read directions from {path!r}: {exc}", "save them with numpy.save, an array [N, channels]") from None


def make_job(args: argparse.Namespace, model):
    from ..featurevis.visualize import make_job

    channels = args.channels
    if args.classes:
        if args.kind != "class":
            raise DreamjaxError("--class is for --kind class")
        channels = (channels or []) + args.classes
    if channels is None and args.kind != "direction":
        layer = args.layer or (model.logits_layer if args.kind == "class" else None)
        width = next((info.channels for info in model.layers if info.name == layer), DEFAULT_CHANNELS)
        channels = list(range(min(DEFAULT_CHANNELS, width)))
    also = list(args.also) if args.also else None
    return make_job(model, args.layer, channels, kind=args.kind, directions=_directions(args.directions), size=args.size,
                    steps=args.steps, seed=args.seed, copies=args.copies, diversity=args.diversity,
                    diversity_layer=args.diversity_layer, also=also, recipe=make_recipe(args))


def default_outdir(layer: str) -> Path:
    return Path(re.sub(r"[^A-Za-z0-9_.-]+", "_", layer).strip("._") + "_atlas")


def run(args: argparse.Namespace, console: Console) -> int:
    from ..apps import atlas as atlaslib

    use_compilation_cache(not args.no_cache)
    with console.status(f"loading {args.model}"):
        model = load_model(args.model)
        job = make_job(args, model)
    layer = job.targets.layer
    outdir = Path(args.outdir) if args.outdir else default_outdir(layer)
    title = f"{model.name} {layer}: {job.targets.kind} pictures"
    done = atlaslib.prepare_folder(outdir, model, job, restart=args.restart)
    if done:
        console.print(f"continuing [bold]{outdir}[/]: {len(done)} of {job.pictures} pictures are finished", highlight=False)
    console.print(f"atlas of [bold]{model.name}[/] {layer}: {len(job.targets)} {job.targets.kind}s x {job.copies} "
                  f"at {job.shape[1]}x{job.shape[0]}, {job.steps} steps, into {outdir}", highlight=False)
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[pictures]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("compiling", total=None, pictures="")

        def planned(left: int, size: int, batches: int) -> None:
            done = job.pictures - left
            described = f"{batches} batch{'es' if batches > 1 else ''} of {size}" if batches else "all finished"
            bar.update(task, description=described,
                       total=job.pictures * job.steps, completed=done * job.steps, pictures=f"{done}/{job.pictures} pictures")

        def stepped(picture_steps: int) -> None:
            bar.update(task, completed=picture_steps, pictures=f"{picture_steps // job.steps}/{job.pictures} pictures")

        result = atlaslib.make_atlas(model, job, outdir, batch=args.batch, done=done, title=title,
                                     on_plan=planned, on_step=stepped)
    stats, new = result.stats, result.pictures - result.resumed
    if new:
        console.print(f"made {new} pictures in {time.perf_counter() - started:.1f} s: compile {stats.compile_seconds:.1f} s "
                      f"({stats.programs_compiled} programs, {stats.programs_from_disk} from cache), ascent "
                      f"{stats.run_seconds:.1f} s ({new / max(stats.run_seconds, 1e-9):.2f} pictures/s)", highlight=False)
    if result.own_first is not None:
        console.print(f"{result.own_first:.0%} of the pictures excite their own channel more than any other channel "
                      "of the atlas", highlight=False)
    console.print(f"wrote [bold]{result.paths['sheet']}[/] and [bold]{result.paths['page']}[/]", highlight=False)
    return 0
