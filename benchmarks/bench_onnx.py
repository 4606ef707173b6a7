"""dreamjax-onnx vs onnxruntime on CPU: the same ONNX file, batch and size, side by side.

For each model: the converted forward under ``jax.jit`` and an onnxruntime CPU session
(all graph optimisations, its default thread pool) run alternately (ort, jax, jax, ort, ...)
so that drift in machine load hits both; best-of and median are reported, and the throughput
ratio jax/ort (target in issue 3: >= 0.8). jax programs are compiled with
``dreamjax.runtime.compiler.compiler_options()``, as ``dreamjax dream`` compiles them
(``--xla-defaults``: XLA's defaults, what a plain ``jax.jit`` gives). onnxruntime's worker threads spin-wait after each
run by default, and that slows a jax run that follows by ~40% (measured: ResNet-18 29 -> 41 ms
median; a 50 ms pause does not cure it), so the alternating session has spinning off; its
default session (spinning on) is also timed on its own, and jax is compared with whichever
onnxruntime configuration was faster. Compile time is measured apart (lower + compile)
and left out of the steady state. Also timed: the forward+gradient with respect to the input
(what a dream step does), and the conversion of a ~100 MB model (load + convert + params on
the device), generated with onnx.helper in a temporary folder. Also counted: the page faults
of one jax forward (XLA:CPU takes fresh pages from the kernel for its per-call scratch buffer
once that is above glibc's mmap threshold; ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` makes
them huge pages, see NOTES.md).

    python benchmarks/bench_onnx.py                              # built-in ResNet-18 graph
    python benchmarks/bench_onnx.py --models-dir /tmp/nets --nets resnet50,googlenet,mobilenet_v2
    python benchmarks/bench_onnx.py --model net.onnx --batch 8 --size 224 --repeats 20
    python benchmarks/bench_onnx.py --dream --models-dir benchmarks/networks --write-results   # the dream table
    python benchmarks/bench_onnx.py --dream --quick --models-dir benchmarks/networks          # 3 nets, 224 only

``--dream``: the same DeepDream through dreamjax-onnx, PyTorch eager and onnx2torch on ten
torchvision networks at 224x224 batch 1 and 448x448 batch 2 (``benchmarks/onnx_dream.py``);
``--write-results`` puts its table into ``benchmarks/RESULTS.md``.

``--models-dir`` is an output folder of ``plugins/dreamjax-onnx/scripts/export_networks.py``
(files ``<net>-op<opset>.onnx``). Needs the dreamjax-onnx plugin installed; uses
``benchmarks/machine.py`` for the machine description and load notes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).parent))

import machine  # noqa: E402

# --- graphs generated here -------------------------------------------------------------------

class _Net:
    """Minimal onnx.helper builder: conv (+bias, BatchNorm folded as torch exports do), relu..."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.n = [], [], 0

    def _name(self, p):
        self.n += 1
        return f"{p}{self.n}"

    def const(self, arr):
        name = self._name("w")
        self.inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
        return name

    def op(self, op_type, inputs, **attrs):
        out = self._name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self._name(op_type), **attrs))
        return out

    def conv(self, x, cin, cout, k, stride=1, relu=True):
        w = self.rng.standard_normal((cout, cin, k, k)).astype(np.float32) * np.sqrt(2.0 / (cin * k * k))
        y = self.op("Conv", [x, self.const(w), self.const(self.rng.normal(0, 0.05, cout))],
                    kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4)
        return self.op("Relu", [y]) if relu else y

    def model(self, x, y, opset=17):
        g = helper.make_graph(self.nodes, "bench",
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", 3, "H", "W"])],
                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, ["N", 1000])], self.inits)
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def resnet18_graph(seed: int = 0) -> onnx.ModelProto:
    """ResNet-18 as torch's exporter writes it (BatchNorm folded into Conv), random weights."""
    b = _Net(seed)
    x = b.conv("input", 3, 64, 7, stride=2)
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for block in range(2):
            s = stride if block == 0 else 1
            y = b.conv(b.conv(x, cin, cout, 3, s), cout, cout, 3, relu=False)
            short = b.conv(x, cin, cout, 1, s, relu=False) if (s != 1 or cin != cout) else x
            x, cin = b.op("Relu", [b.op("Add", [y, short])]), cout
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    w = b.rng.standard_normal((1000, 512)).astype(np.float32) / np.sqrt(512)
    return b.model("input", b.op("Gemm", [x, b.const(w), b.const(np.zeros(1000))], transB=1))


def vgg_like_graph(target_mb: float, seed: int = 0) -> onnx.ModelProto:
    """VGG-16 convolutions and a fully connected head sized so the file is ~``target_mb``."""
    b = _Net(seed)
    x, cin = "input", 3
    for stage in ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)):
        for cout in stage:
            x, cin = b.conv(x, cin, cout, 3), cout
        x = b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    conv_params = 14.7e6
    hidden = max(256, int((target_mb * 1e6 / 4 - conv_params) / (512 * 7 * 7 + 1000)))
    x = b.op("Flatten", [x], axis=1)
    x = b.op("Relu", [b.op("Gemm", [x, b.const(b.rng.standard_normal((hidden, 512 * 49)) * 0.01),
                                    b.const(np.zeros(hidden))], transB=1)])
    return b.model("input", b.op("Gemm", [x, b.const(b.rng.standard_normal((1000, hidden)) * 0.01),
                                          b.const(np.zeros(1000))], transB=1))


# --- timing ----------------------------------------------------------------------------------

def wait_for_quiet(share: float, patience: float) -> str:
    """Wait (bounded) until other processes use less than ``share`` of the CPUs; the load note."""
    deadline = time.monotonic() + patience
    while True:
        busy = machine.busy_fraction(0.5)
        if busy is None or busy < share or time.monotonic() > deadline:
            busy_text = f", others busy {busy:.0%}" if busy is not None else ""
            return f"load avg {os.getloadavg()[0]:.2f}{busy_text}"


def quiet_ort_session(model: onnx.ModelProto):
    """An onnxruntime CPU session whose workers do not spin-wait after a run: spinning workers
    slow the jax run that follows by ~40% (see the module docs)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def bench_model(name: str, model: onnx.ModelProto, batch: int, size: int, repeats: int,
                quiet: float, patience: float, xla_defaults: bool = False) -> dict:
    import dreamjax_onnx
    import jax
    import jax.numpy as jnp
    import onnxruntime as ort

    from dreamjax.runtime.compiler import compiler_options

    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)
    t0 = time.perf_counter()
    fn, params = dreamjax_onnx.to_jax(model)
    jax.block_until_ready(params)
    convert_s = time.perf_counter() - t0

    xj = jnp.asarray(x)
    options = {} if xla_defaults else compiler_options()
    t0 = time.perf_counter()
    fwd = jax.jit(fn).lower(params, xj).compile(options)
    compile_s = time.perf_counter() - t0

    def loss(p, x):
        return jnp.sum(fn(p, x)[0] ** 2)

    t0 = time.perf_counter()
    grad = jax.jit(jax.value_and_grad(loss, argnums=1)).lower(params, xj).compile(options)
    compile_grad_s = time.perf_counter() - t0

    sess = quiet_ort_session(model)
    default_sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    in_name = sess.get_inputs()[0].name
    ort_out = sess.run(None, {in_name: x})[0]
    jax_out = np.asarray(fwd(params, xj)[0])
    rel_err = float(np.abs(jax_out - ort_out).max() / (np.abs(ort_out).max() + 1e-12))
    jax.block_until_ready(grad(params, xj))
    for _ in range(2):  # warm both (thread pools, caches)
        sess.run(None, {in_name: x})
        jax.block_until_ready(fwd(params, xj))

    t_ort, t_jax, t_grad, notes = [], [], [], []
    for r in range(repeats):
        notes.append(wait_for_quiet(quiet, patience) if r % 5 == 0 else "")
        pair = [("ort", lambda: sess.run(None, {in_name: x})),
                ("jax", lambda: jax.block_until_ready(fwd(params, xj)))]
        for which, f in (pair if r % 2 == 0 else pair[::-1]):
            (t_ort if which == "ort" else t_jax).append(timed(f))
        t_grad.append(timed(lambda: jax.block_until_ready(grad(params, xj))))

    for _ in range(2):
        default_sess.run(None, {in_name: x})
    t_ort_default = [timed(lambda: default_sess.run(None, {in_name: x})) for _ in range(repeats)]

    # XLA:CPU allocates each call's scratch buffer afresh; above glibc's mmap threshold that is
    # new pages from the kernel every call, faulted in and zeroed (sys time, not in ort's arena).
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repeats):
        jax.block_until_ready(fwd(params, xj))
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / repeats

    def stats(ts):
        return {"best_ms": 1e3 * min(ts), "median_ms": 1e3 * statistics.median(ts)}

    res = {
        "model": name, "batch": batch, "size": size, "repeats": repeats,
        "nodes": len(model.graph.node), "mb": model.ByteSize() / 1e6,
        "convert_s": convert_s, "compile_fwd_s": compile_s, "compile_grad_s": compile_grad_s,
        "ort_no_spin": stats(t_ort), "ort_default": stats(t_ort_default), "jax": stats(t_jax),
        "jax_fwd_grad": stats(t_grad), "rel_err_vs_ort": rel_err, "load_notes": [n for n in notes if n],
        "compiler_options": options, "jax_page_fault_mb_per_call": faults * resource.getpagesize() / 2**20,
    }
    res["ort"] = {k: min(res["ort_no_spin"][k], res["ort_default"][k]) for k in ("best_ms", "median_ms")}
    res["ratio_best"] = res["ort"]["best_ms"] / res["jax"]["best_ms"]
    res["ratio_median"] = res["ort"]["median_ms"] / res["jax"]["median_ms"]
    return res


def bench_conversion(model: onnx.ModelProto, label: str, tmp: Path) -> dict:
    """Seconds to load + convert a model file, and to have its params on the device."""
    import dreamjax_onnx
    import jax

    path = tmp / "big.onnx"
    onnx.save(model, str(path))
    size_mb = path.stat().st_size / 1e6
    t0 = time.perf_counter()
    onnx.load(str(path))
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fn, params = dreamjax_onnx.to_jax(str(path))
    jax.block_until_ready(params)
    convert_s = time.perf_counter() - t0
    return {"model": label, "file_mb": size_mb, "onnx_load_s": load_s, "to_jax_s": convert_s,
            "nodes": len(model.graph.node)}


def print_table(rows: list[dict], conv: list[dict], info: dict) -> None:
    print(f"\nmachine: {info['cpu']}, {info['cpus']} CPUs; {info['jax_devices']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    print(f"XLA_FLAGS={info['xla_flags']!r}, GLIBC_TUNABLES={info['glibc_tunables']!r}")
    print("\n| model | batch x size | ort default / ort no-spin best ms | onnxruntime best / median ms "
          "| jax jit best / median ms | ratio jax/ort (best, median) | jax fwd+grad best / median ms "
          "| compile fwd / fwd+grad s | convert s | max rel. diff |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['batch']} x {r['size']} "
              f"| {r['ort_default']['best_ms']:.1f} / {r['ort_no_spin']['best_ms']:.1f} "
              f"| {r['ort']['best_ms']:.1f} / {r['ort']['median_ms']:.1f} "
              f"| {r['jax']['best_ms']:.1f} / {r['jax']['median_ms']:.1f} "
              f"| {r['ratio_best']:.2f}x, {r['ratio_median']:.2f}x "
              f"| {r['jax_fwd_grad']['best_ms']:.1f} / {r['jax_fwd_grad']['median_ms']:.1f} "
              f"| {r['compile_fwd_s']:.1f} / {r['compile_grad_s']:.1f} | {r['convert_s']:.2f} | {r['rel_err_vs_ort']:.1e} |")
        if r["load_notes"]:
            print(f"|   | load during {r['model']}: {'; '.join(r['load_notes'])} ||||||||||")
    if conv:
        print("\n| conversion of | file MB | nodes | onnx.load s | to_jax (load + convert + params) s |")
        print("|---|---|---|---|---|")
        for c in conv:
            print(f"| {c['model']} | {c['file_mb']:.0f} | {c['nodes']} | {c['onnx_load_s']:.2f} | {c['to_jax_s']:.2f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=[], type=Path, help="an ONNX file (repeatable)")
    ap.add_argument("--models-dir", type=Path, help="output folder of export_networks.py")
    ap.add_argument("--nets", default=None, help="comma-separated export names (default: "
                    "resnet18,resnet50,googlenet,squeezenet1_1,mobilenet_v2,efficientnet_b0; with --dream all ten)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--batch", type=int, nargs="+", default=[1])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=None, help="default 20 (forward), 3 (--dream)")
    ap.add_argument("--dream", action="store_true", help="time DeepDream against PyTorch eager instead (see above)")
    ap.add_argument("--quick", action="store_true", help="with --dream: resnet18, googlenet, mobilenet_v2 at 224 only")
    ap.add_argument("--write-results", action="store_true", help="with --dream: put the table into benchmarks/RESULTS.md")
    ap.add_argument("--cores", type=int, default=None,
                    help="with --dream: pin to the first N CPUs, torch N threads (a busy machine distorts this less)")
    ap.add_argument("--big-mb", type=float, default=100.0, help="size of the generated conversion-time model (0: skip)")
    ap.add_argument("--quiet-below", type=float, default=0.3, metavar="SHARE",
                    help="every 5 rounds, wait until other processes use less than this share of the CPUs")
    ap.add_argument("--patience", type=float, default=30.0, help="longest wait for a quiet machine, seconds")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--xla-defaults", action="store_true",
                    help="compile with XLA's default options instead of dreamjax.runtime.compiler's (what plain jax.jit gives)")
    args = ap.parse_args(argv)
    if args.dream:
        if args.cores:  # before jax or torch start their thread pools
            os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
        return dream_main(args)
    args.repeats = args.repeats or 20
    args.nets = args.nets if args.nets is not None else "resnet18,resnet50,googlenet,squeezenet1_1,mobilenet_v2,efficientnet_b0"

    models: list[tuple[str, onnx.ModelProto]] = []
    for path in args.model:
        models.append((path.stem, onnx.load(str(path))))
    if args.models_dir:
        for net in [n for n in args.nets.split(",") if n]:
            path = args.models_dir / f"{net}-op{args.opset}.onnx"
            models.append((f"{net} (op{args.opset})", onnx.load(str(path))))
    if not models:
        models.append(("resnet18 (onnx.helper, op17)", resnet18_graph()))

    info = machine.describe()
    info["versions"].update(machine.versions("onnx", "onnxruntime", "dreamjax-onnx"))
    print(f"{info['cpu']}, {info['cpus']} CPUs; {machine.load_note()}", flush=True)
    rows = []
    for name, model in models:
        for batch in args.batch:
            r = bench_model(name, model, batch, args.size, args.repeats, args.quiet_below, args.patience, args.xla_defaults)
            rows.append(r)
            print(f"{name} b{batch}: ort {r['ort']['best_ms']:.1f} ms, jax {r['jax']['best_ms']:.1f} ms "
                  f"-> {r['ratio_best']:.2f}x (median {r['ratio_median']:.2f}x); "
                  f"fwd+grad {r['jax_fwd_grad']['best_ms']:.1f} ms; compile {r['compile_fwd_s']:.1f} s; "
                  f"jax page faults {r['jax_page_fault_mb_per_call']:.1f} MB/call", flush=True)
    conv = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.big_mb > 0:
            conv.append(bench_conversion(vgg_like_graph(args.big_mb), f"VGG-16-like (onnx.helper, {args.big_mb:.0f} MB target)", Path(tmp)))
        if args.models_dir and (args.models_dir / f"resnet50-op{args.opset}.onnx").exists():
            conv.append(bench_conversion(onnx.load(str(args.models_dir / f"resnet50-op{args.opset}.onnx")),
                                         f"resnet50 export (op{args.opset})", Path(tmp)))
    print_table(rows, conv, info)
    faulting = [r["model"] for r in rows if r["jax_page_fault_mb_per_call"] > 8]
    if faulting and "hugetlb" not in info["glibc_tunables"]:
        print(f"\nnote: jax took fresh pages from the kernel on every call for {', '.join(faulting)}; "
              "GLIBC_TUNABLES=glibc.malloc.hugetlb=1 makes them huge pages (benchmarks/NOTES.md)")
    print(f"\nafter: {machine.load_note()}")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "rows": rows, "conversion": conv}, indent=1))
    return 0


RESULTS = Path(__file__).parent / "RESULTS.md"
DREAM_BEGIN, DREAM_END = "<!-- bench_onnx --dream table: begin -->", "<!-- bench_onnx --dream table: end -->"


def dream_main(args) -> int:
    import onnx_dream

    from dreamjax.files.atomic import write_bytes_atomic

    if args.models_dir is None:
        args.models_dir = Path(__file__).parent / "networks"
    args.repeats = args.repeats or 3
    args.nets = args.nets or ""
    before = machine.load_note()
    rows = onnx_dream.run(args)  # writes --json itself, after every row
    if args.write_results:
        text = RESULTS.read_text()
        info = machine.describe()
        block = (f"{DREAM_BEGIN}\n{onnx_dream.table(rows)}\n\n{info['cpu']}, {info['cpus']} CPUs; before: {before}; "
                 f"after: {machine.load_note()}; best of {args.repeats} interleaved runs; "
                 f"`python benchmarks/bench_onnx.py --dream{' --quick' if args.quick else ''}{f' --cores {args.cores}' if args.cores else ''} --write-results`\n{DREAM_END}")
        if DREAM_BEGIN in text:
            head, rest = text.split(DREAM_BEGIN, 1)
            text = head + block + rest.split(DREAM_END, 1)[1]
        else:
            text = text.rstrip() + "\n\n## ONNX networks: DeepDream against PyTorch eager (`bench_onnx.py --dream`)\n\n" + block + "\n"
        write_bytes_atomic(RESULTS, text.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
