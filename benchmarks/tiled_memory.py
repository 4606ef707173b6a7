"""Peak resident memory of big tiled dreams, measured on a fresh `dreamjax dream` process.

    python benchmarks/tiled_memory.py                          # 4096x4096 and 4000x3000, 2 steps
    python benchmarks/tiled_memory.py --sizes 2048x2048 --tile 1024 --tile 0   # tiled vs whole

The input is the bundled cat photo scaled up (bicubic) to each size. Each run is a separate
process, so its peak RSS (getrusage of the child, as /usr/bin/time -v reports it) covers
everything: Python, JAX, the weights, the compiled programs, the image and its activations.
The target of issue 4 is a 4096x4096 tiled dream under 4 GiB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from machine import cpu_name, load_note, versions  # benchmarks/machine.py (this script's folder)
from PIL import Image

from dreamjax.files.image import sample_image_path


def peak_rss_of(command: list[str]) -> tuple[float, float, int]:
    """Run ``command``; return (peak RSS in GiB, wall seconds, exit code).

    RUSAGE_CHILDREN's ru_maxrss is the largest of all waited-for children, so each
    measurement runs in its own short-lived helper process.
    """
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter(); rc = subprocess.call(sys.argv[1:])\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t, rc)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True)
    kib, seconds, rc = out.stdout.split()[-3:]
    return int(kib) / 2**20, float(seconds), int(rc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="4096x4096,4000x3000", help="comma-separated WxH list")
    parser.add_argument("--tile", action="append", type=int, help="tile sizes to try (0: whole image); default 1024")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--octaves", type=int, default=4)
    parser.add_argument("--layer", default="blocks.10")
    args = parser.parse_args(argv)
    tiles = args.tile or [1024]
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, {load_note()}; {versions('jax', 'jaxlib')}")
    print(f"dream: efficientnet_lite0 at {args.layer}, {args.octaves} octaves x {args.steps} steps\n")
    print("| size | tile | peak RSS (GiB) | wall (s) |")
    print("|---|---|---|---|")
    photo = Image.open(sample_image_path()).convert("RGB")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.lower().split("x"))
            source = Path(tmp) / f"in_{width}x{height}.png"
            photo.resize((width, height), Image.Resampling.BICUBIC).save(source)
            for tile in tiles:
                command = [sys.executable, "-m", "dreamjax", "dream", str(source), "-o", str(Path(tmp) / "out.png"),
                           "--layer", args.layer, "--steps", str(args.steps), "--octaves", str(args.octaves),
                           "--tile", str(tile), "--no-cache"]
                gib, seconds, rc = peak_rss_of(command)
                status = "" if rc == 0 else f" (exit {rc})"
                print(f"| {width}x{height} | {tile or 'whole'} | {gib:.2f}{status} | {seconds:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
