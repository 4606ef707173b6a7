"""How far a bucketed dream is from an exact one, and what the padding costs.

For each photo size: the same dream (EfficientNet-Lite0, one layer, 4 octaves x 10 steps, seed 0)
on exact canvases and on buckets. Reported: mean and largest absolute difference, PSNR, the
objective (layer energy of the final picture, on the exact picture) each reaches and where it
started, the difference between two exact dreams with seeds 0 and 1 (how far two equally good
dreams are apart: the noise floor), the padded share of the canvas pixels, and the ascent time
of each (best of ``--repeats``; compile time left out).

    python benchmarks/bench_buckets.py                     # the bundled cat photo at 3 sizes
    python benchmarks/bench_buckets.py --sizes 451x300 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import machine  # noqa: E402


def size_text(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    return int(h), int(w)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=size_text, default=[(300, 451), (333, 500), (480, 640)], metavar="WxH")
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--layer", default="blocks.8")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--octaves", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    import jax.numpy as jnp
    from PIL import Image

    import dreamjax
    from dreamjax.ascent.engine import DreamConfig, Dreamer
    from dreamjax.ascent.objectives import layer_objective
    from dreamjax.files.image import load_image, sample_image_path, to_pil
    from dreamjax.runtime.cache import disable_compilation_cache

    disable_compilation_cache()
    model = dreamjax.load_model(args.model)
    objective = layer_objective(model, [args.layer])
    dreamer = Dreamer(model)
    photo = load_image(sample_image_path("chelsea.png"))

    def energy(picture):
        return float(objective(model.apply(model.params, jnp.asarray(picture)[None], objective.layers))[0])

    def best_run(picture, config):
        out, stats = dreamer.run(picture[None], objective, config)  # compiles
        times = [stats.run_seconds]
        for _ in range(args.repeats - 1):
            times.append(dreamer.run(picture[None], objective, config)[1].run_seconds)
        return out[0], stats, min(times)

    print(f"# {args.model} to {args.layer}, {args.octaves} octaves x {args.steps} steps; {machine.load_note()}")
    rows = []
    for h, w in args.sizes:
        picture = np.asarray(to_pil(photo).resize((w, h), Image.BICUBIC), np.float32) / 255.0
        config = DreamConfig(octaves=args.octaves, steps=args.steps)
        exact, exact_stats, exact_s = best_run(picture, DreamConfig(octaves=args.octaves, steps=args.steps, exact_shapes=True))
        other_seed, _ = dreamer.run(picture[None], objective, DreamConfig(octaves=args.octaves, steps=args.steps, seed=1,
                                                                         exact_shapes=True))
        bucketed, stats, bucketed_s = best_run(picture, config)
        diff = np.abs(bucketed - exact)
        row = {
            "size": f"{w}x{h}", "canvases": [f"{cw}x{ch}" for ch, cw in stats.canvases],
            "mean_abs": float(diff.mean()), "max_abs": float(diff.max()), "psnr_db": psnr(bucketed, exact),
            "seed_mean_abs": float(np.abs(other_seed[0] - exact).mean()), "seed_psnr_db": psnr(other_seed[0], exact),
            "energy_start": energy(picture), "energy_exact": energy(exact), "energy_bucketed": energy(bucketed),
            "padded_fraction": stats.padded_fraction, "ascent_s_exact": exact_s, "ascent_s_bucketed": bucketed_s,
            "programs_exact": exact_stats.programs_compiled, "programs_bucketed": stats.programs_compiled,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"# {machine.load_note()}")
    print("\n| size | canvases | mean abs diff | max abs | PSNR dB | seed 0 vs 1: mean abs, PSNR | "
          "energy start -> exact / bucketed | padded | ascent s exact / bucketed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {' '.join(r['canvases'])} | {r['mean_abs']:.4f} | {r['max_abs']:.3f} | {r['psnr_db']:.1f} | "
              f"{r['seed_mean_abs']:.4f}, {r['seed_psnr_db']:.1f} | {r['energy_start']:.2f} -> {r['energy_exact']:.2f} / "
              f"{r['energy_bucketed']:.2f} | {100 * r['padded_fraction']:.0f}% | {r['ascent_s_exact']:.2f} / {r['ascent_s_bucketed']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine.describe(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
