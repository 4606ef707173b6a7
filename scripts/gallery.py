"""Render the README gallery from the bundled photos with the pretrained EfficientNet-Lite0.

    python scripts/gallery.py                 # writes docs/gallery/*.png, zoom.gif, gallery.md
    python scripts/gallery.py --only zoom     # one entry (names: see GALLERY below)

Every picture is made through the public API with the settings listed here, so anyone can
rerun it; the markdown snippet it writes (docs/gallery/gallery.md) says how each was made.
Pictures are stored as 8-bit PNGs, shrunk to GALLERY_WIDTH pixels wide, and the zoom as a GIF
of a small frame size, so the whole folder stays small.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from dreamjax.files import image as imageio
from dreamjax.apps.zoom import Motion, write_animation, zoom
from dreamjax.ascent.engine import DreamConfig, dreamer_for
from dreamjax.ascent.objectives import Objective, class_objective, guide_objective, layer_objective
from dreamjax.ascent.regularisers import Regularisers
from dreamjax.backends import load_model
from dreamjax.files.atomic import atomic_path, write_bytes_atomic
from dreamjax.model import DreamModel
from dreamjax.runtime.cache import ensure_compilation_cache

MODEL = "efficientnet_lite0"
OUT = Path(__file__).resolve().parent.parent / "docs" / "gallery"
GALLERY_WIDTH = 400


@dataclass(frozen=True)
class Entry:
    name: str
    photo: str
    caption: str
    objective: Callable[[DreamModel], Objective]
    config: DreamConfig = field(default_factory=DreamConfig)
    how: str = ""  # the same picture from the command line
    scale: float = 1.0  # resize the photo first


def _photo(name: str) -> np.ndarray:
    return imageio.load_image(imageio.sample_image_path(name))


GALLERY = (
    Entry("chelsea_low", "chelsea.png", "low layer (`stage2`): strokes and fine texture",
          lambda m: layer_objective(m, ["stage2"]), DreamConfig(octaves=4, octave_scale=1.3, steps=10, step_size=0.006),
          "dreamjax dream -l stage2 --octave-scale 1.3 --steps 10 --step-size 0.006"),
    # Deep layers see whole objects: at twice the size the photo has room for them.
    Entry("chelsea_high", "chelsea.png", "high layer (`stage6`, photo at 2x): eyes, fur, faces",
          lambda m: layer_objective(m, ["stage6"]),
          DreamConfig(octaves=5, octave_scale=1.4, steps=12, step_size=0.012, regularisers=Regularisers(laplacian_levels=4)),
          "dreamjax dream chelsea_2x.png -l stage6 --octaves 5 --steps 12 --step-size 0.012 --laplacian 4", scale=2.0),
    Entry("coffee_class", "coffee.png", "class objective (`--class daisy`)",
          lambda m: class_objective(m, "daisy"),
          DreamConfig(octaves=4, octave_scale=1.4, steps=20, step_size=0.01, regularisers=Regularisers(laplacian_levels=4)),
          "dreamjax dream dreamjax/data/coffee.png --class daisy --steps 20 --laplacian 4"),
    Entry("chelsea_guided", "chelsea.png", "guided by the coffee photo (`blocks.9`)",
          lambda m: guide_objective(m, _photo("coffee.png"), "blocks.9", label="coffee.png"),
          DreamConfig(octaves=4, octave_scale=1.4, steps=10, step_size=0.008),
          "dreamjax dream --objective 'guide=dreamjax/data/coffee.png@blocks.9' --steps 10 --step-size 0.008"),
)
ZOOM_FRAMES = 30
ZOOM_SIZE = (240, 160)
ZOOM_CONFIG = DreamConfig(octaves=2, octave_scale=1.4, steps=4, step_size=0.008, jitter=16)
ZOOM_MOTION = Motion(zoom=1.04, rotate=0.5)
ZOOM_LAYER = "blocks.9"
ZOOM_HOW = (f"dreamjax zoom --size {ZOOM_SIZE[0]}x{ZOOM_SIZE[1]} -l {ZOOM_LAYER} --frames {ZOOM_FRAMES} "
            f"--zoom {ZOOM_MOTION.zoom} --rotate {ZOOM_MOTION.rotate} --octaves {ZOOM_CONFIG.octaves} "
            f"--steps {ZOOM_CONFIG.steps} --step-size {ZOOM_CONFIG.step_size} --jitter {ZOOM_CONFIG.jitter} --fps 10")


def save_small(path: Path, picture: np.ndarray) -> None:
    pil = imageio.to_pil(picture)
    if pil.width > GALLERY_WIDTH:
        pil = pil.resize((GALLERY_WIDTH, round(pil.height * GALLERY_WIDTH / pil.width)), Image.Resampling.LANCZOS)
    with atomic_path(path) as tmp:
        pil.save(tmp, format="PNG", optimize=True)


def render_entry(model: DreamModel, entry: Entry, out: Path) -> None:
    picture = _photo(entry.photo)
    if entry.scale != 1.0:
        size = (round(picture.shape[1] * entry.scale), round(picture.shape[0] * entry.scale))
        picture = np.asarray(imageio.to_pil(picture).resize(size, Image.Resampling.LANCZOS), np.float32) / 255.0
    t0 = time.perf_counter()
    dreamed, stats = dreamer_for(model).run(picture[None], entry.objective(model), entry.config)
    save_small(out / f"{entry.name}.png", dreamed[0])
    print(f"{entry.name}: {time.perf_counter() - t0:.0f} s ({stats.programs_compiled} programs compiled)", flush=True)


def render_zoom(model: DreamModel, out: Path) -> None:
    start = np.asarray(imageio.to_pil(_photo("chelsea.png")).resize(ZOOM_SIZE, Image.Resampling.LANCZOS), np.float32) / 255.0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as frames:
        zoom(model, start, frames, ZOOM_FRAMES, objective=layer_objective(model, [ZOOM_LAYER]),
             config=ZOOM_CONFIG, motion=ZOOM_MOTION)
        write_animation(frames, out / "zoom.gif", ZOOM_FRAMES, fps=10)
    print(f"zoom: {time.perf_counter() - t0:.0f} s", flush=True)


def markdown() -> str:
    rows = ["| | |", "|---|---|"]
    cells = [("chelsea.png", "the bundled photo (input)", "")]
    cells += [(f"{e.name}.png", e.caption, e.how) for e in GALLERY]
    cells += [("zoom.gif", f"endless zoom, {ZOOM_FRAMES} frames", ZOOM_HOW)]
    for i in range(0, len(cells), 2):
        pair = cells[i:i + 2]
        rows.append("| " + " | ".join(f"![{c}](docs/gallery/{f})" for f, c, _ in pair) + " |")
        rows.append("| " + " | ".join(f"{c}" + (f"<br>`{h}`" if h else "") for _, c, h in pair) + " |")
    return (
        "<!-- written by scripts/gallery.py; rerun it to update -->\n"
        f"Made with `{MODEL}` (pretrained ImageNet weights) on the bundled photos by `python scripts/gallery.py`.\n\n"
        + "\n".join(rows) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [e.name for e in GALLERY] + ["zoom"]
    parser.add_argument("--only", action="append", choices=names, help="render only these entries")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ensure_compilation_cache()
    model = load_model(MODEL)
    wanted = set(args.only or names)
    save_small(args.out / "chelsea.png", _photo("chelsea.png"))
    for entry in GALLERY:
        if entry.name in wanted:
            render_entry(model, entry, args.out)
    if "zoom" in wanted:
        render_zoom(model, args.out)
    write_bytes_atomic(args.out / "gallery.md", markdown().encode())
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({total / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
