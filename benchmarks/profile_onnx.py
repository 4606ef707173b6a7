"""Where an ONNX network's time goes on XLA:CPU: per-fusion times from XLA's own profiler.

Three programs of one converted network, each run a few times under ``jax.profiler`` (a
Perfetto trace, read back here): the forward to a layer, the forward plus the gradient of that
layer's mean square with respect to the input image (what one dream step differentiates), and
one octave of the real dream engine (``dreamjax.ascent.engine``: jitter roll, gradient,
normalise, step, unroll, clip, ``steps`` times in one program). XLA:CPU runs each fusion or
library call as one thunk; the table lists the costliest thunks per program, per call.

    python benchmarks/profile_onnx.py net.onnx --layer inception_4c/output --size 224 --batch 1
    python benchmarks/profile_onnx.py net.onnx --layer /layer3/layer3.1/relu_1/Relu_output_0 --top 30

``--hlo DIR`` also writes each program's optimised HLO there, to look a fusion up by name.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import machine  # noqa: E402

# Profiler events that wrap others (the whole call) rather than doing work themselves.
WRAPPERS = ("ThunkExecutor", "while", "PjitFunction", "$", "CommonPjRt", "Allocate", "Handle inputs", "ParseArguments")


def thunk_times(run, calls: int) -> tuple[collections.Counter, float]:
    """Microseconds per call spent in each XLA thunk while ``run()`` executes ``calls`` times."""
    import jax

    with tempfile.TemporaryDirectory() as tmp:
        jax.profiler.start_trace(tmp, create_perfetto_trace=True)
        t0 = time.perf_counter()
        for _ in range(calls):
            run()
        wall = (time.perf_counter() - t0) / calls
        jax.profiler.stop_trace()
        (trace,) = Path(tmp).rglob("*.trace.json.gz")
        events = json.loads(gzip.decompress(trace.read_bytes()))
    events = events["traceEvents"] if isinstance(events, dict) else events
    spent: collections.Counter = collections.Counter()
    for e in events:
        if e.get("ph") == "X" and not e["name"].startswith(WRAPPERS):
            spent[e["name"]] += e["dur"] / calls
    return spent, wall


def op_names(hlo_text: str) -> dict[str, str]:
    """Thunk (HLO instruction) name -> the JAX op it came from (its ``op_name`` metadata)."""
    names = {}
    for m in re.finditer(r'^\s*(?:ROOT )?%?([\w.\-]+) = .*?op_name="([^"]+)"', hlo_text, re.M):
        names[m.group(1)] = m.group(2)
    return names


def by_kind(spent: collections.Counter, names: dict[str, str]) -> dict[tuple[str, str], float]:
    """Milliseconds per (JAX primitive, forward or backward): backward is what autodiff's
    transpose (or a custom VJP's backward rule) emitted."""
    kinds: collections.Counter = collections.Counter()
    for thunk, us in spent.items():
        op = names.get(thunk)
        if op is None:
            continue
        direction = "backward" if "transpose(" in op or "/bwd" in op else "forward"
        kinds[(op.rsplit("/", 1)[-1], direction)] += us / 1e3
    return kinds


def print_kinds(kinds: dict[tuple[str, str], float], top: int) -> None:
    prims = sorted({p for p, _ in kinds}, key=lambda p: -(kinds.get((p, "forward"), 0) + kinds.get((p, "backward"), 0)))
    print("| JAX op | forward ms | backward ms |")
    print("|---|---|---|")
    for p in prims[:top]:
        print(f"| {p} | {kinds.get((p, 'forward'), 0):.2f} | {kinds.get((p, 'backward'), 0):.2f} |")
    print(f"| total | {sum(v for (_, d), v in kinds.items() if d == 'forward'):.2f} "
          f"| {sum(v for (_, d), v in kinds.items() if d == 'backward'):.2f} |")


def print_top(title: str, spent: collections.Counter, wall: float, top: int) -> None:
    total = sum(spent.values())
    print(f"\n{title}: {wall * 1e3:.1f} ms per call, {total / 1e3:.1f} ms in thunks")
    print("| thunk | ms per call | share |")
    print("|---|---|---|")
    for name, us in spent.most_common(top):
        print(f"| {name} | {us / 1e3:.2f} | {us / total:.0%} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--layer", required=True, help="the ONNX value to dream on")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10, help="ascent steps in the octave program")
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--only", choices=("forward", "grad", "octave"), action="append",
                    help="profile only these programs (repeatable)")
    ap.add_argument("--hlo", type=Path, help="write each program's optimised HLO text here")
    args = ap.parse_args(argv)

    import jax
    import jax.numpy as jnp

    import dreamjax
    from dreamjax.ascent.engine import DreamConfig, Dreamer
    from dreamjax.ascent.objectives import layer_objective
    from dreamjax.runtime.compiler import compiler_options

    print(f"{machine.describe()['cpu']}; {machine.load_note()}", flush=True)
    model = dreamjax.load_model(str(args.model))
    images = jnp.asarray(np.random.default_rng(0).uniform(0, 1, (args.batch, args.size, args.size, 3)), jnp.float32)
    options = compiler_options()

    def score(params, img):
        return jnp.mean(model.apply(params, img, [args.layer])[args.layer] ** 2)

    # The params are arguments, as in the dream engine (closed over, XLA would fold them).
    programs = {
        "forward": jax.jit(lambda params, img: model.apply(params, img, [args.layer])[args.layer]),
        "grad": jax.jit(jax.grad(score, argnums=1)),
    }
    wanted = args.only or ["forward", "grad", "octave"]
    if args.hlo:
        args.hlo.mkdir(parents=True, exist_ok=True)
    for name in [w for w in wanted if w in programs]:
        compiled = programs[name].lower(model.params, images).compile(options)
        if args.hlo:
            (args.hlo / f"{name}.hlo.txt").write_text(compiled.as_text())
        jax.block_until_ready(compiled(model.params, images))
        spent, wall = thunk_times(lambda: jax.block_until_ready(compiled(model.params, images)), args.calls)
        print_top(f"{name} ({args.batch}x{args.size}x{args.size})", spent, wall, args.top)
        print_kinds(by_kind(spent, op_names(compiled.as_text())), args.top)
    if "octave" in wanted:
        config = DreamConfig(octaves=1, steps=args.steps)
        dreamer = Dreamer(model)
        objective = layer_objective(model, [args.layer])
        host = np.asarray(images)
        dreamer.run(host, objective, config)  # compile
        if args.hlo:
            for i, program in enumerate(dreamer._compiled.values()):
                (args.hlo / f"octave{i}.hlo.txt").write_text(program.as_text())
        spent, wall = thunk_times(lambda: dreamer.run(host, objective, config), args.calls)
        per_step = collections.Counter({k: v / args.steps for k, v in spent.items()})
        print_top(f"octave program ({args.steps} steps), per step", per_step, wall / args.steps, args.top)
        names = {}
        for program in dreamer._compiled.values():
            names.update(op_names(program.as_text()))
        print_kinds(by_kind(per_step, names), args.top)
    print(f"\nafter: {machine.load_note()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
