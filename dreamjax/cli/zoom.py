"""``dreamjax zoom``: an endless-zoom stream of frames, resumable, plus a GIF/WebP/MP4."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..apps import zoom as zoomlib
from ..apps.stats import cost_summary
from ..ascent.engine import DreamConfig
from ..ascent.objectives import build_objective, layer_objective
from ..ascent.tiling import TileConfig
from ..backends import load_model
from ..files import image as imageio
from ..runtime.cache import use_compilation_cache
from .options import (
    add_ascent_options,
    add_input_options,
    add_model_options,
    add_objective_options,
    float_between,
    objective_text,
    positive_float,
    positive_int,
    size_text,
)
from .settings import objective_terms


def pair_of_floats(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 2 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected DX,DY (two numbers), got {text!r}")
    return values


def keyframe(text: str) -> tuple[int, tuple]:
    """``FRAME:TERMS``: from frame FRAME on, dream at these objective terms (e.g. ``40:stage6``)."""
    frame, sep, rest = text.partition(":")
    try:
        index = int(frame)
    except ValueError:
        index = -1
    if not sep or index < 0 or not rest:
        raise argparse.ArgumentTypeError(f"expected FRAME:TERMS (e.g. 40:stage6 or 40:class=daisy) with FRAME >= 0, got {text!r}")
    return index, objective_text(rest)


def animation_kind(text: str) -> str:
    if text not in (*zoomlib.ANIMATIONS, "none"):
        raise argparse.ArgumentTypeError(f"unknown animation {text!r}; choose from {', '.join(zoomlib.ANIMATIONS)}, none")
    return text


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "zoom", help="dream an endless zoom, frame after frame",
        description="Each frame dreams on the previous one, zoomed, turned and shifted. Run the same "
                    "command again to continue an interrupted stream from its last finished frame.",
    )
    p.add_argument("image", nargs="?", help="first frame's input (default: the bundled cat photo)")
    p.add_argument("-o", "--outdir", help="folder for frame_00000.png ... (default: <input name>_zoom)")
    p.add_argument("--frames", type=positive_int, default=30, help="frames in the stream (default 30)")
    p.add_argument("--zoom", type=positive_float, default=1.05, help="scale per frame; >1 moves in (default 1.05)")
    p.add_argument("--rotate", type=float_between(-360.0, 360.0), default=0.0, metavar="DEG", help="counter-clockwise turn per frame")
    p.add_argument("--shift", type=pair_of_floats, default=(0.0, 0.0), metavar="DX,DY",
                   help="content moves by DX,DY pixels per frame (right, down)")
    p.add_argument("--size", type=size_text, metavar="WxH", help="resize the input to this frame size first")
    add_model_options(p)
    add_objective_options(p)
    p.add_argument("--keyframe", action="append", type=keyframe, metavar="FRAME:TERMS",
                   help="from frame FRAME on, amplify TERMS instead (e.g. 40:stage6, 80:class=daisy); repeat "
                        "for a schedule")
    add_ascent_options(p, octaves=2, steps=5, steps_help="ascent steps per octave and frame",
                       seed_help="frame i dreams with seed SEED + i")
    p.add_argument("--animation", action="append", type=animation_kind, metavar="KIND",
                   help="also join the frames into OUTDIR/zoom.KIND: gif (default), webp, mp4 (needs the "
                        "`video` extra) or none; repeat for several")
    p.add_argument("--fps", type=positive_float, default=12.0, help="frames per second of the animation")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--restart", action="store_true", help="delete the frames in OUTDIR and start over")
    again.add_argument("--force", action="store_true", help="continue a stream even though its settings changed")
    add_input_options(p)
    return p


def _start_image(args: argparse.Namespace) -> tuple[Path, np.ndarray]:
    """The first frame's input, in 8 bits like every stored frame (and resized if asked)."""
    from PIL import Image

    source = Path(args.image) if args.image else imageio.sample_image_path()
    pil = imageio.to_pil(imageio.load_image(source, max_pixels=args.max_pixels))
    size = args.size[::-1] if args.size else pil.size  # (height, width) -> PIL's (width, height)
    if pil.size != size:
        pil = pil.resize(size, Image.Resampling.LANCZOS)
    return source, np.asarray(pil, dtype=np.float32) / 255.0


def run(args: argparse.Namespace, console: Console) -> int:
    kinds = [k for k in dict.fromkeys(args.animation or ["gif"]) if k != "none"]
    motion = zoomlib.Motion(args.zoom, args.rotate, args.shift)
    config = DreamConfig(octaves=args.octaves, octave_scale=args.octave_scale, steps=args.steps, step_size=args.step_size,
                         jitter=args.jitter, seed=args.seed, tiles=TileConfig(size=args.tile),
                         exact_shapes=args.exact_shapes)
    zoomlib.check_seeds(config, args.frames)  # before the folder is touched
    source, start = _start_image(args)
    outdir = Path(args.outdir) if args.outdir else Path(f"{source.stem}_zoom")
    use_compilation_cache(not args.no_cache)

    with console.status(f"loading {args.model}"):
        model = load_model(args.model)
        terms = objective_terms(vars(args))
        objective = build_objective(model, terms) if terms else layer_objective(model)
        schedule: dict[int, list] = {}
        for frame, frame_terms in args.keyframe or []:
            schedule.setdefault(frame, []).extend(frame_terms)  # several at one frame add up
        keyframes = {frame: build_objective(model, frame_terms) for frame, frame_terms in schedule.items()}
    settings = zoomlib.stream_settings(model, objective, config, motion, start, keyframes)
    done = zoomlib.prepare_folder(outdir, settings, restart=args.restart, force=args.force)
    height, width = start.shape[:2]
    if done:
        console.print(f"continuing [bold]{outdir}[/] after frame {done - 1} ({done} of {args.frames} done)", highlight=False)
    console.print(f"zooming [bold]{source.name}[/] ({width}x{height}) with {model.name} at "
                  f"{objective.describe()}: {args.frames} frames into {outdir}", highlight=False)

    started = time.perf_counter()
    with Progress(TextColumn("frames"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=console) as bar:
        task = bar.add_task("frames", total=args.frames, completed=min(done, args.frames))
        result = zoomlib.zoom(
            model, start, outdir, args.frames, objective=objective, config=config, motion=motion, keyframes=keyframes,
            force=True,  # prepare_folder above already checked (and recorded) the settings
            on_frame=lambda i, path, stats: bar.update(task, completed=i + 1),
        )
    stats = result.stats
    new = result.frames - result.resumed_at
    if new:
        console.print(
            f"dreamed {new} frames in {time.perf_counter() - started:.1f} s: {cost_summary(stats)}",
            highlight=False,
        )
    for path in zoomlib.animation_paths(outdir, kinds):
        with console.status(f"writing {path}"):
            zoomlib.write_animation(outdir, path, args.frames, args.fps)
        console.print(f"wrote [bold]{path}[/]", highlight=False)
    return 0
