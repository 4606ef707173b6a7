"""Channels per second for a layer atlas, three ways, with lucid's recipe and the same steps:

- ``batched``: ``dreamjax.visualize`` as ``dreamjax atlas`` runs it, many channels per program;
- ``single``: dreamjax, one channel per program call (``batch=1``);
- ``torch``: PyTorch eager, one channel at a time as lucent does (``torch_featurevis.py``);
- ``lucent`` (on request): the same, but run as lucent's ``render_vis`` runs the network (canvas
  upsampled to 224, whole network forward): what a lucent user waits for; not the same work.

Each run is the whole job including compilation (a fresh program cache, no disk cache); model
loading is left out of every side. Ways alternate per repeat and the best run of each counts.
The pictures are checked too: the share of channels whose picture excites its own channel more
than every other channel of its batch (the batched run's batches).

    python benchmarks/bench_atlas.py                          # 64 channels of blocks.10, 128x128, 512 steps
    python benchmarks/bench_atlas.py --steps 32 --json o.json # a short run

Needs the ``bench`` extra (torch, efficientnet-lite-pytorch).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import machine  # noqa: E402

WAYS = ("batched", "single", "torch", "lucent")


def run_dreamjax(model, job, batch: int, chunk: int | None):
    from dreamjax.ascent.engine import DreamStats
    from dreamjax.featurevis import Visualizer

    out = np.zeros((job.pictures, *job.shape, 3), np.float32)
    stats, sizes = DreamStats(), []

    def keep(members, images):
        out[members] = images

    t0 = time.perf_counter()
    Visualizer(model).make(job, range(job.pictures), batch=batch, chunk=chunk, stats=stats, on_batch=keep,
                           on_plan=lambda plan: sizes.append((plan.size, plan.chunk)))
    return out, time.perf_counter() - t0, stats, sizes[0]


def run_torch(net, block: int, channels, args, lucent: bool = False):
    import torch_featurevis

    t0 = time.perf_counter()
    pictures = [torch_featurevis.visualize_channel(net, block, c, size=args.size, steps=args.steps, seed=args.seed, lucent=lucent)
                for c in channels]
    return np.stack(pictures), time.perf_counter() - t0


def own_first_share(model, layer, pictures, channels, batch: int) -> float:
    from dreamjax.featurevis import channel_scores, own_channel_first

    scores = channel_scores(model, layer, pictures, channels)  # [N, N]: picture i against channel j
    firsts = []
    for start in range(0, len(channels), batch):
        group = slice(start, start + batch)
        firsts += list(own_channel_first(scores[group, group]))
    return float(np.mean(firsts))


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--layer", default="blocks.10")
    ap.add_argument("--channels", type=int, default=64, help="channels 0..N-1 (default 64)")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=0, help="pictures per program for the batched way (0: from memory)")
    ap.add_argument("--chunk", type=int, default=None, help="pictures per network call (default: dreamjax's choice; 0: the batch)")
    ap.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS[:3]))
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="torch intra-op threads (default torch's own: one per core); on a busy machine 1 avoids "
                         "OpenMP threads waiting for each other")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)

    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    import dreamjax
    from dreamjax.featurevis.visualize import make_job
    from dreamjax.runtime.cache import disable_compilation_cache

    disable_compilation_cache()  # compile time must be real compile time, not a disk load
    model = dreamjax.load_model(args.model)
    channels = list(range(args.channels))
    job = make_job(model, args.layer, channels, size=args.size, steps=args.steps, seed=args.seed)
    net = None
    if {"torch", "lucent"} & set(args.ways):
        import torch_baseline

        net = torch_baseline.lite_model(args.model.removeprefix("efficientnet_"))
        block = torch_baseline.block_index(args.layer)
        for way in {"torch", "lucent"} & set(args.ways):  # warm-up: torch allocates its buffers on the first steps
            run_torch(net, block, channels[:1], argparse.Namespace(**{**vars(args), "steps": 2}), lucent=way == "lucent")
    info = machine.describe()
    info["torch_threads"] = torch.get_num_threads()
    print(f"# {args.model} {args.layer}, {args.channels} channels at {args.size}x{args.size}, {args.steps} steps, "
          f"best of {args.repeats}; lucid's recipe (FFT, decorrelated colour, Adam 0.05, pad/jitter/scale/rotate)")
    print(f"# {info['cpu']} ({info['cpus']} CPUs), jax {info['jax_devices']}, torch threads {info['torch_threads']}")
    print(f"# versions {info['versions']}; before: {uptime()}")

    best: dict[str, dict] = {}
    batch_size = args.batch
    for r in range(args.repeats):
        for way in args.ways:
            note = machine.load_note()
            if way in ("torch", "lucent"):
                pictures, seconds = run_torch(net, block, channels, args, lucent=way == "lucent")
                row = {"compile_s": 0.0, "batch": 1, "chunk": 1}
            else:
                pictures, seconds, stats, (size, chunk) = run_dreamjax(
                    model, job, batch_size if way == "batched" else 1, args.chunk if way == "batched" else None)
                row = {"compile_s": stats.compile_seconds, "batch": size, "chunk": chunk}
                if way == "batched":
                    batch_size = size  # later repeats keep it, and the check groups by it
            row |= {"way": way, "seconds": seconds, "channels_per_s": args.channels / seconds,
                    "ms_per_channel_step": 1000 * (seconds - row["compile_s"]) / (args.channels * args.steps),
                    "load": note, "pictures": pictures}
            print(f"  run {r + 1} {way:8s} {seconds:8.1f} s  {row['channels_per_s']:.3f} channels/s  "
                  f"(compile {row['compile_s']:.1f} s, batch {row['batch']} in chunks of {row['chunk']}; {note})", flush=True)
            if way not in best or seconds < best[way]["seconds"]:
                best[way] = row
    group = batch_size or next(iter(best.values()))["batch"]
    for row in best.values():
        row["own_first"] = own_first_share(model, args.layer, row.pop("pictures"), channels, max(group, 2))
    print(f"# after: {uptime()}")
    base = best.get("torch")
    print(f"\n| way | batch (chunk) | whole run s | compile s | ms per channel-step | channels/s | vs PyTorch | own channel first |")
    print("|---|---|---|---|---|---|---|---|")
    for way, row in best.items():
        ratio = f"{row['channels_per_s'] / base['channels_per_s']:.2f}x" if base else "-"
        print(f"| {way} | {row['batch']} ({row['chunk']}) | {row['seconds']:.1f} | {row['compile_s']:.1f} | {row['ms_per_channel_step']:.2f} | "
              f"{row['channels_per_s']:.3f} | {ratio} | {row['own_first']:.0%} (batches of {max(group, 2)}) |")
    if base and "batched" in best and args.steps != 512:
        b = best["batched"]
        projected = (base["ms_per_channel_step"] * 512) / (1000 * b["compile_s"] / args.channels + b["ms_per_channel_step"] * 512)
        print(f"\nat 512 steps (same per-step costs, compile once): batched / PyTorch = {projected:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "args": vars(args) | {"json": str(args.json)},
                                         "rows": list(best.values())}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DREAMJAX_CACHE_DIR", "")
    raise SystemExit(main())
