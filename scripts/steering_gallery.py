"""Render the steering part of the gallery from the bundled images: presets, class, guide, noise.

    python scripts/steering_gallery.py [OUTDIR]      (default docs/gallery)

Each picture is written as a JPEG next to a contact sheet ``steering.jpg``; the lines printed
say what each one is and, for class pictures, the class's softmax rank before and after.
Deterministic for a given JAX version and machine (seeded jitter and noise).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from PIL import Image

import dreamjax
from dreamjax.apps.presets import presets_for
from dreamjax.ascent.objectives import class_index
from dreamjax.files.image import sample_image_path, to_pil

MODEL = "efficientnet_lite0"


def rank(model, image, index):
    logits = np.asarray(model.apply(model.params, jnp.asarray(image)[None], ["logits"])["logits"][0])
    return int((logits > logits[index]).sum())


def dream_kwargs(settings) -> dict:
    """A preset's option names as keyword arguments of dreamjax.dream."""
    kwargs = dict(settings)
    reg = {k: kwargs.pop(k) for k in ("tv", "blur", "laplacian", "decorrelate_colour") if k in kwargs}
    if reg:
        kwargs["regularisers"] = dreamjax.Regularisers(
            reg.get("tv", 0.0), reg.get("blur", 0.0), reg.get("laplacian", 0), reg.get("decorrelate_colour", False)
        )
    return kwargs


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    model = dreamjax.load_model(MODEL)
    cat = dreamjax.load_image(sample_image_path("chelsea.png"))
    coffee_path = sample_image_path("coffee.png")
    presets = presets_for(model)
    smooth = dreamjax.Regularisers(laplacian_levels=4, decorrelate_colour=True)

    jobs = []
    for name in ("strokes", "ornaments", "eyes", "objects"):
        preset = presets[name]
        jobs.append((f"preset_{name}", f"--preset {name} ({preset.objective})", cat, preset.objective, dream_kwargs(preset.settings)))
    jobs += [
        ("class_goldfish_cat", "--class goldfish --laplacian 4 --decorrelate-colour --steps 20", cat, "class=goldfish",
         dict(steps=20, regularisers=smooth)),
        ("class_tabby_noise", "--from-noise --class 'tabby cat' --laplacian 4 --decorrelate-colour --steps 20",
         dreamjax.noise_image((320, 320), seed=1), "class=tabby cat", dict(steps=20, regularisers=smooth)),
        ("guide_coffee_cat", "--objective 'guide=coffee.png@blocks.9'", cat, f'guide="{coffee_path}"@blocks.9', {}),
        ("colour_objects", "--from-colour '#808080' --preset objects", dreamjax.colour_image((320, 320), "#808080"),
         presets["objects"].objective, dream_kwargs(presets["objects"].settings)),
    ]
    tiles = []
    for stem, what, start, objective, settings in jobs:
        t0 = time.perf_counter()
        out = dreamjax.dream(model, start, objective=objective, **settings)
        to_pil(out).save(outdir / f"{stem}.jpg", quality=90)
        note = ""
        if objective.startswith("class="):
            index = class_index(model, objective[len("class="):])
            note = f", class rank {rank(model, start, index)} -> {rank(model, out, index)}"
        print(f"{stem}.jpg: {what} [{time.perf_counter() - t0:.0f} s{note}]", flush=True)
        tiles.append(to_pil(out))

    height = 240
    scaled = [t.resize((round(t.width * height / t.height), height)) for t in tiles]
    columns = 4
    rows = [scaled[i : i + columns] for i in range(0, len(scaled), columns)]
    sheet = Image.new("RGB", (max(sum(t.width for t in row) for row in rows), height * len(rows)), "white")
    for r, row in enumerate(rows):
        x = 0
        for tile in row:
            sheet.paste(tile, (x, r * height))
            x += tile.width
    sheet.save(outdir / "steering.jpg", quality=90)
    print(f"contact sheet: {outdir / 'steering.jpg'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/gallery"))
