"""What an octave program's compile time is made of: HLO size and compile cost per part.

Lowers and compiles, for one canvas (default: the bundled photo's smallest and largest octave
canvases), the network's forward pass alone, its gradient with each depthwise implementation,
and the whole octave program with each regulariser and with tiles; prints the lines of
StableHLO and of optimised HLO, the wall and CPU seconds of tracing + lowering and of the XLA
compile, and the run time of one call. CPU seconds are the robust figure on a shared machine
(XLA:CPU spreads one compile over about 1.7 cores).

    python benchmarks/compile_parts.py
    python benchmarks/compile_parts.py --canvas 128x192 --parts grad:taps_vjp octave octave+laplacian
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import machine  # noqa: E402

PARTS = ("forward", "grad:taps_vjp", "grad:taps", "grad:conv", "octave", "octave+tv", "octave+blur",
         "octave+laplacian", "octave+colour", "octave:tiled")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def canvas_text(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    return int(h), int(w)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--canvas", nargs="+", type=canvas_text, default=[(128, 192), (320, 480)], metavar="WxH")
    ap.add_argument("--layer", default="blocks.8")
    ap.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    import jax
    import jax.numpy as jnp

    from dreamjax.ascent import step
    from dreamjax.ascent.buckets import Canvas
    from dreamjax.ascent.objectives import layer_objective
    from dreamjax.ascent.regularisers import Regularisers
    from dreamjax.ascent.tiling import TileConfig, TileShape, plan_tiles
    from dreamjax.runtime.cache import disable_compilation_cache
    from dreamjax.runtime.compiler import compiler_options
    from dreamjax.zoo import efficientnet_lite

    disable_compilation_cache()
    models = {}

    def model_for(impl):
        if impl not in models:
            models[impl] = efficientnet_lite.load("lite0", depthwise=impl)
        return models[impl]

    def measure(fn, *call_args):
        t0, c0 = time.perf_counter(), cpu_seconds()
        lowered = jax.jit(fn).lower(*call_args)
        t1, c1 = time.perf_counter(), cpu_seconds()
        stablehlo = lowered.as_text().count("\n")
        compiled = lowered.compile(compiler_options())
        t2, c2 = time.perf_counter(), cpu_seconds()
        jax.block_until_ready(compiled(*call_args))
        t3 = time.perf_counter()
        jax.block_until_ready(compiled(*call_args))
        return {"stablehlo_lines": stablehlo, "hlo_lines": compiled.as_text().count("\n"),
                "lower_s": t1 - t0, "lower_cpu_s": c1 - c0, "compile_s": t2 - t1, "compile_cpu_s": c2 - c1,
                "run_s": time.perf_counter() - t3}

    print(f"# EfficientNet-Lite0 to {args.layer}; {machine.load_note()}")
    rows = []
    for shape in args.canvas:
        x = jnp.asarray(np.random.default_rng(0).uniform(0.2, 0.8, (1, *shape, 3)), jnp.float32)
        for part in args.parts:
            impl = part.split(":")[1] if part.startswith("grad:") else None
            model = model_for(impl)
            objective = layer_objective(model, [args.layer]).runtime()

            def score(p, img, model=model, objective=objective):
                return jnp.sum(objective(model.apply(p, img, objective.layers)))

            if part == "forward":
                row = measure(score, model.params, x)
            elif impl:
                row = measure(jax.grad(score, argnums=1), model.params, x)
            else:
                regularisers = {"octave+tv": Regularisers(tv=0.1), "octave+blur": Regularisers(blur_sigma=1.0),
                                "octave+laplacian": Regularisers(laplacian_levels=4),
                                "octave+colour": Regularisers(decorrelate_colour=True)}.get(part, Regularisers())
                canvas = Canvas.exact(shape)
                tiles, layout = None, None
                if part == "octave:tiled":
                    config = TileConfig(size=max(128, min(shape) // 2 + 32), halo=32)
                    plan = plan_tiles(shape, 1, config, 32)
                    tiles, layout = TileShape(plan.tile, plan.batch, plan.chunks), plan.layout(plan.chunks)
                plan = step.OctavePlan(model.name, shape, 1, 1, "[]", regularisers.plan(), tiles)
                numbers = regularisers.numbers()
                settings = step.Settings.of(10, 0.01, 32, numbers["tv"], numbers["blur_sigma"], 0)
                program = jax.jit(lambda *a, plan=plan, model=model: step.octave(model.apply, *a, plan=plan))
                row = measure(program, model.params, objective, x, canvas.region(), settings, jax.random.key(0), layout)
            row = {"canvas": f"{shape[1]}x{shape[0]}", "part": part, **row}
            rows.append(row)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    print(f"# {machine.load_note()}")
    print("\n| canvas | part | StableHLO lines | HLO lines | lower s (CPU s) | compile s (CPU s) | one call s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['canvas']} | {r['part']} | {r['stablehlo_lines']} | {r['hlo_lines']} | {r['lower_s']:.2f} ({r['lower_cpu_s']:.2f}) | "
              f"{r['compile_s']:.2f} ({r['compile_cpu_s']:.2f}) | {r['run_s']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine.describe(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
