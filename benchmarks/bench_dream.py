"""dreamjax vs PyTorch eager: the same DeepDream on the same EfficientNet-Lite weights.

Both sides do the same work per ascent step (roll by a random jitter, forward to the layer,
backward to the input, normalise, step, unroll, clip) over the same octaves. Runs alternate
(torch, jax, torch, jax, ...) so that drift in machine load hits both; each run's load is
printed. dreamjax's compile time is measured apart (first run) and left out of the steady state.

    python benchmarks/bench_dream.py                       # 224x224 b1 and 512x512 b4
    python benchmarks/bench_dream.py --cases 224x1 --repeats 5 --json out.json

Needs the ``bench`` extra (torch, efficientnet-lite-pytorch).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import machine  # noqa: E402
import torch_baseline  # noqa: E402


def case(text: str) -> tuple[int, int]:
    size, _, batch = text.partition("x")
    return int(size), int(batch or 1)


def sample_batch(size: int, batch: int) -> np.ndarray:
    """``batch`` bundled photos (cat, coffee, ...) resized to ``size`` x ``size``."""
    from PIL import Image

    from dreamjax.files.image import sample_image_path

    names = ["chelsea.png", "coffee.png"]
    pics = []
    for i in range(batch):
        with Image.open(sample_image_path(names[i % len(names)])) as im:
            im = im.convert("RGB").resize((size, size), Image.BICUBIC)
            pic = np.asarray(im, dtype=np.float32) / 255.0
        pics.append(pic if i < len(names) else pic[:, ::-1])  # flipped copies: not identical
    return np.stack(pics)


def check_same_network(model, net, layer: str) -> float:
    """Largest relative difference of the layer's activations, torch vs dreamjax, at 224."""
    import torch

    x = sample_batch(224, 1)
    ours = np.asarray(model.apply(model.params, x, [layer])[layer])
    with torch.no_grad():
        theirs = torch_baseline.forward_to(net, torch.from_numpy(x.transpose(0, 3, 1, 2)), torch_baseline.block_index(layer))
    theirs = theirs.numpy().transpose(0, 2, 3, 1)
    return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", type=case, default=[(224, 1), (512, 4)], metavar="SIZExBATCH")
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--layer", default=None, help="default: the model's default dream layer")
    ap.add_argument("--octaves", type=int, default=4)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-torch", action="store_true", help="time dreamjax only")
    ap.add_argument("--cores", type=int, default=None,
                    help="pin this process to the first N CPUs and give torch N threads (XLA sizes its pool "
                         "from the same affinity): a like-for-like comparison that a busy machine distorts less")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--quiet-below", type=float, default=0.3, metavar="SHARE",
                    help="before each timed run, wait until other processes use less than this share of the CPUs")
    ap.add_argument("--patience", type=float, default=60.0, help="longest wait for a quiet machine, seconds")
    args = ap.parse_args(argv)
    if args.cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])  # before jax/torch start pools

    import jax
    import torch

    import dreamjax
    from dreamjax.ascent.engine import DreamConfig, Dreamer, octave_shapes
    from dreamjax.ascent.objectives import default_layer, layer_objective
    from dreamjax.runtime.cache import disable_compilation_cache

    disable_compilation_cache()  # compile time must be real compile time, not a disk load
    model = dreamjax.load_model(args.model)
    layer = args.layer or default_layer(model)
    objective = layer_objective(model, [layer])
    config = DreamConfig(octaves=args.octaves, steps=args.steps)
    dreamer = Dreamer(model)
    if args.cores:
        torch.set_num_threads(args.cores)
    net = None if args.no_torch else torch_baseline.lite_model(args.model.removeprefix("efficientnet_"))

    info = machine.describe()
    info["torch_threads"] = torch.get_num_threads()
    info["cpus_used"] = sorted(os.sched_getaffinity(0))
    print(f"# {args.model} to {layer}, {args.octaves} octaves x {args.steps} steps, best of {args.repeats}")
    print(f"# {info['cpu']} ({info['cpus']} CPUs, this process on {info['cpus_used']}), jax devices {info['jax_devices']}, torch threads {info['torch_threads']}")
    print(f"# versions {info['versions']}, XLA_FLAGS={info['xla_flags']!r}")
    if net is not None:
        print(f"# same network: max relative activation difference torch vs jax = {check_same_network(model, net, layer):.2e}")

    results = []
    for size, batch in args.cases:
        images = sample_batch(size, batch)
        steps_total = config.steps * len(octave_shapes(size, size, config.octaves, config.octave_scale, model.input_spec.min_size))
        print(f"\n## {size}x{size} batch {batch}: {machine.load_note()}")
        _, first = dreamer.run(images, objective, config)
        print(f"jax compile {first.compile_seconds:.1f} s for {first.programs_compiled} programs (first run)")
        if net is not None:  # torch warm-up: one short dream allocates its buffers
            torch_baseline.dream(net, torch.from_numpy(images.transpose(0, 3, 1, 2)), torch_baseline.block_index(layer), octaves=1, steps=1)
        times: dict[str, list[float]] = {"torch": [], "jax": []}
        for r in range(args.repeats):
            if net is not None:
                machine.wait_for_quiet(args.quiet_below, args.patience)
                note = machine.load_note()
                t0 = time.perf_counter()
                torch_baseline.dream(net, torch.from_numpy(images.transpose(0, 3, 1, 2)), torch_baseline.block_index(layer),
                                     octaves=config.octaves, octave_scale=config.octave_scale, steps=config.steps,
                                     step_size=config.step_size, jitter=config.jitter, seed=r)
                times["torch"].append(time.perf_counter() - t0)
                print(f"  run {r + 1} torch {1000 * times['torch'][-1] / steps_total:8.1f} ms/step   ({note})", flush=True)
            machine.wait_for_quiet(args.quiet_below, args.patience)
            note = machine.load_note()
            t0 = time.perf_counter()
            dreamer.run(images, objective, config)
            times["jax"].append(time.perf_counter() - t0)
            print(f"  run {r + 1} jax   {1000 * times['jax'][-1] / steps_total:8.1f} ms/step   ({note})", flush=True)
        row = {"size": size, "batch": batch, "steps": steps_total, "jax_compile_s": first.compile_seconds,
               "jax_programs": first.programs_compiled}
        for side, ts in times.items():
            if ts:
                row[f"{side}_ms_per_step_best"] = 1000 * min(ts) / steps_total
                row[f"{side}_ms_per_step_median"] = 1000 * statistics.median(ts) / steps_total
        if times["torch"]:
            row["speedup_best"] = min(times["torch"]) / min(times["jax"])
            row["speedup_median"] = statistics.median(times["torch"]) / statistics.median(times["jax"])
        results.append(row)

    print("\n| case | PyTorch eager ms/step | dreamjax ms/step | speedup (best) | speedup (median) | jax compile s |")
    print("|---|---|---|---|---|---|")
    for row in results:
        torch_ms = f"{row['torch_ms_per_step_best']:.1f}" if "torch_ms_per_step_best" in row else "-"
        speed = f"{row['speedup_best']:.2f}x" if "speedup_best" in row else "-"
        speed_med = f"{row['speedup_median']:.2f}x" if "speedup_median" in row else "-"
        print(f"| {row['size']}x{row['size']} b{row['batch']} | {torch_ms} | {row['jax_ms_per_step_best']:.1f} | {speed} | "
              f"{speed_med} | {row['jax_compile_s']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "layer": layer, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
