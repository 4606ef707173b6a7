"""Render the README's layer atlases: a low, a middle and a high layer of the pretrained EfficientNet-Lite0.

    python scripts/atlas_gallery.py            # writes docs/gallery/atlas_low.png, atlas_mid.png, atlas_high.png
    python scripts/atlas_gallery.py --only mid

Each atlas is made by ``dreamjax.apps.atlas.make_atlas`` (what ``dreamjax atlas`` runs) with the
settings below, in a temporary folder; its contact sheet is then stored as a palette PNG so the
three stay small (about 100 KB each). The command that makes the same atlas is printed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from PIL import Image

from dreamjax.apps.atlas import make_atlas
from dreamjax.backends import load_model
from dreamjax.featurevis.visualize import make_job
from dreamjax.files.atomic import atomic_path
from dreamjax.runtime.cache import ensure_compilation_cache

MODEL = "efficientnet_lite0"
OUT = Path(__file__).resolve().parent.parent / "docs" / "gallery"
CHANNELS = list(range(12))
SIZE, STEPS = 96, 256
ATLASES = {  # name: (layer, what it shows)
    "low": ("blocks.3", "low layer: colours, edges and fine textures"),
    "mid": ("blocks.8", "middle layer: patterns, fur, eyes"),
    "high": ("blocks.14", "high layer: object parts"),
}


def render(model, name: str) -> Path:
    layer, caption = ATLASES[name]
    job = make_job(model, layer, CHANNELS, size=SIZE, steps=STEPS, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        result = make_atlas(model, job, folder, title=f"{MODEL} {layer} ({caption.split(':')[0]})")
        with Image.open(result.paths["sheet"]) as sheet:
            small = sheet.convert("RGB").quantize(colors=192, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        path = OUT / f"atlas_{name}.png"
        with atomic_path(path) as tmp:
            small.save(tmp, format="PNG", optimize=True)
    own = f", {result.own_first:.0%} excite their own channel most" if result.own_first is not None else ""
    print(f"{path.name}: {time.perf_counter() - t0:.0f} s{own}; "
          f"dreamjax atlas {MODEL} --layer {layer} --channels 0:{len(CHANNELS)} --size {SIZE} --steps {STEPS}")
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(ATLASES), action="append")
    args = ap.parse_args(argv)
    ensure_compilation_cache()
    model = load_model(MODEL)
    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.only or list(ATLASES):
        render(model, name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
