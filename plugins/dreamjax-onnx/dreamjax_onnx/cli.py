"""``dreamjax convert NET.onnx``: can dreamjax run this ONNX model, and does it agree with onnxruntime?

``--check`` only reads the graph and prints the operator coverage table (exit 1 when anything
is unsupported). Without it the model is also converted and run once on a seeded random
input, beside onnxruntime, and the largest difference of each output is shown.

Published to the ``dreamjax`` command line through the ``dreamjax.commands`` entry point
``convert`` (see ``pyproject.toml``): ``register`` and ``run`` as in dreamjax's own commands.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("convert", help="check or convert an ONNX model")
    p.add_argument("model", help="path to an .onnx file")
    p.add_argument("--check", action="store_true", help="only list the operators and whether each is supported")
    p.add_argument("--batch", type=int, default=1, help="batch size of the trial run (default 1)")
    return p


def run(args: argparse.Namespace, console: Console) -> int:
    from .convert import check_model  # JAX comes with it: only when the command runs

    rows = check_model(args.model)
    table = Table(title=f"operators in {args.model}")
    for column in ("domain", "op", "opset", "since", "nodes", "supported"):
        table.add_column(column, justify="right" if column in ("opset", "since", "nodes") else "left")
    table.add_column("first node", overflow="ellipsis", no_wrap=True, max_width=40)
    for row in rows:
        ok = "[green]yes[/]" if row.supported else "[red]no[/]"
        since = str(row.since_version) if row.since_version is not None else "-"
        table.add_row(row.domain or "ai.onnx", row.op_type, str(row.opset), since, str(len(row.nodes)), ok, row.nodes[0])
    Console().print(table)
    missing = [row for row in rows if not row.supported]
    if missing:
        console.print(f"[red]{len(missing)} unsupported operator(s):[/] " + ", ".join(row.label for row in missing),
                      highlight=False, soft_wrap=True)
        return 1
    console.print(f"all {len(rows)} operator types supported", highlight=False)
    if args.check:
        return 0
    return _trial_run(args.model, max(1, args.batch), console)


def _trial_run(path: str, batch: int, console: Console) -> int:
    import jax
    import numpy as np
    import onnx
    import onnxruntime

    from .convert import to_jax

    t0 = time.perf_counter()
    fn, params = to_jax(path)
    convert_s = time.perf_counter() - t0
    graph_input = onnx.load(path, load_external_data=False).graph.input
    initializers = {t.name for t in onnx.load(path, load_external_data=False).graph.initializer}
    first = next(i for i in graph_input if i.name not in initializers)
    dims = [d.dim_value if d.dim_value > 0 else None for d in first.type.tensor_type.shape.dim]
    shape = [batch] + [d or 224 for d in dims[1:]]  # free spatial dims: 224, as the classifiers expect
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    t0 = time.perf_counter()
    ours = jax.jit(fn)(params, x)
    jax.block_until_ready(ours)
    run_s = time.perf_counter() - t0
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    theirs = session.run(None, {first.name: x})
    table = Table(title=f"trial run on a random {'x'.join(map(str, shape))} input")
    for column in ("output", "shape", "max |jax - onnxruntime|", "max |onnxruntime|"):
        table.add_column(column)
    worst = 0.0
    for out, a, b in zip(session.get_outputs(), ours, theirs):
        diff = float(np.max(np.abs(np.asarray(a) - b))) if b.size else 0.0
        worst = max(worst, diff / max(1.0, float(np.max(np.abs(b))) if b.size else 1.0))
        table.add_row(out.name, str(tuple(b.shape)), f"{diff:.3g}", f"{float(np.max(np.abs(b))) if b.size else 0:.3g}")
    Console().print(table)
    console.print(f"converted in {convert_s:.1f} s, first jit run (compile included) {run_s:.1f} s", highlight=False)
    if worst > 1e-3:
        console.print(f"[red]outputs differ from onnxruntime by {worst:.3g} (relative)[/]", highlight=False)
        return 1
    return 0
