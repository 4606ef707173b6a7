#!/usr/bin/env python3
"""How close is the up-front memory estimate (dreamjax/runtime/memory.py) to what a run really takes?

For each size, a fresh process loads the model, dreams one octave untiled, and reports the
estimate (XLA's memory_analysis of the program plus host copies) next to the growth of its peak
resident memory from just before the run (ru_maxrss, so compile-time memory counts too).

    python benchmarks/memory_estimate.py [--model efficientnet_lite0] [--sizes 256 512] [--batch 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

CHILD = r"""
import json, resource, sys
import numpy as np
import dreamjax
from dreamjax.ascent.engine import DreamConfig, dreamer_for
from dreamjax.ascent.objectives import layer_objective
from dreamjax.ascent.tiling import TileConfig
model_name, side, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = dreamjax.load_model(model_name)
objective = layer_objective(model)
images = np.random.default_rng(0).uniform(0.2, 0.8, size=(batch, side, side, 3)).astype(np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
_, stats = dreamer_for(model).run(images, objective, DreamConfig(octaves=1, steps=2, jitter=8, tiles=TileConfig(size=0)))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"side": side, "batch": batch, "estimate": stats.estimated_bytes, "rss_growth": after - before}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    env = dict(os.environ, DREAMJAX_CACHE_DIR="", JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.model}, batch {args.batch}, 1 octave, untiled")
    print("| side | estimate (MiB) | peak RSS growth (MiB) | estimate / measured |")
    print("|---:|---:|---:|---:|")
    for side in args.sizes:
        out = subprocess.run([sys.executable, "-c", CHILD, args.model, str(side), str(args.batch)], env=env,
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {side} | {r['estimate'] / 2**20:.0f} | {r['rss_growth'] / 2**20:.0f} | {r['estimate'] / max(r['rss_growth'], 1):.2f} |")


if __name__ == "__main__":
    main()
