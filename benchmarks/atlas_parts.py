"""What a feature-visualisation step costs with and without the random transformations.

Per channel-step time of ``dreamjax.visualize`` (EfficientNet-Lite0 to ``blocks.10``, 32
channels in one batch, 128x128), as the difference between a 64-step and a 16-step run after a
warm-up, so that compile and the fixed costs drop out. Not a test.

    python benchmarks/atlas_parts.py                  # both recipes
    python benchmarks/atlas_parts.py "no transforms"  # one
"""

from __future__ import annotations

import sys
import time

import dreamjax
from dreamjax.featurevis import Recipe, visualize
from dreamjax.runtime.cache import disable_compilation_cache

RECIPES = {"default": Recipe(), "no transforms": Recipe(transforms=None)}
SHORT, LONG, CHANNELS = 16, 64, 32


def main(names: list[str]) -> int:
    disable_compilation_cache()
    model = dreamjax.load_model("efficientnet_lite0")
    for name in names or RECIPES:
        def run(steps: int, recipe: Recipe = RECIPES[name]) -> float:
            t0 = time.perf_counter()
            visualize(model, "blocks.10", list(range(CHANNELS)), size=128, steps=steps, recipe=recipe, batch=CHANNELS)
            return time.perf_counter() - t0

        run(SHORT)  # compile
        short, long = run(SHORT), run(LONG)
        print(f"{name:15s}: {1000 * (long - short) / (CHANNELS * (LONG - SHORT)):.2f} ms per channel-step", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
