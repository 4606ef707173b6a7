"""ONNX graphs on XLA:CPU in ONNX order (NCHW) vs channels-last inside (dreamjax_onnx.layout).

Each model is converted twice in one process, ``to_jax(model, channels_last=False)`` and the
default ``channels_last=True``, then both are timed alternately with onnxruntime
(ort, nchw, nhwc / nhwc, nchw, ort, ...); best-of and median per engine, and the number of
transposes in the lowered program.

    PYTHONPATH=benchmarks python benchmarks/bench_onnx_conv_layout.py --repeats 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FIX = Path(__file__).parent.parent / "plugins/dreamjax-onnx/tests/fixtures/networks"


def conv_stack(n: int = 4, c: int = 64, size: int = 56, k: int = 3) -> onnx.ModelProto:
    """n x (kxk conv c->c + Relu) at size x size: the shape of ResNet's first stage."""
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "input"
    for i in range(n):
        w = (rng.standard_normal((c, c, k, k)) * np.sqrt(2.0 / (k * k * c))).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(c, np.float32), f"b{i}")]
        nodes += [helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], kernel_shape=[k, k], pads=[k // 2] * 4),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        x = f"r{i}"
    g = helper.make_graph(nodes, "stack", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, c, size, size])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, c, size, size])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--extra", nargs="*", default=[], help="more .onnx files (e.g. full-size exports)")
    args = ap.parse_args()

    import jax

    import dreamjax_onnx
    from bench_onnx import quiet_ort_session, resnet18_graph

    models = [("conv3x3 64->64 @56 x4", conv_stack(), (1, 64, 56, 56)),
              ("conv1x1 256->256 @56 x4", conv_stack(c=256, k=1), (1, 256, 56, 56)),
              ("resnet18 (bench_onnx graph)", resnet18_graph(), (1, 3, args.size, args.size))]
    for name in ("squeezenet1_1_tiny", "googlenet_tiny", "resnet50_tiny"):
        models.append((name, onnx.load(str(FIX / f"{name}-op17.onnx")), (1, 3, args.size, args.size)))
    for path in args.extra:
        models.append((Path(path).stem, onnx.load(path), (1, 3, args.size, args.size)))

    print(f"load average at start: {os.getloadavg()}")
    for name, model, shape in models:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        compiled, params = {}, {}
        for variant, flag in (("nchw", False), ("nhwc", True)):
            fn, params[variant] = dreamjax_onnx.to_jax(model, channels_last=flag)
            t0 = time.perf_counter()
            lowered = jax.jit(fn).lower(params[variant], x)
            compiled[variant + "_transposes"] = lowered.as_text().count("stablehlo.transpose")
            compiled[variant] = lowered.compile()
            compiled[variant + "_compile_s"] = time.perf_counter() - t0
        sess = quiet_ort_session(model)
        feed = {sess.get_inputs()[0].name: x}
        ref = sess.run(None, feed)[0]
        err = {v: float(np.abs(np.asarray(compiled[v](params[v], x)[0]) - ref).max() / np.abs(ref).max())
               for v in ("nchw", "nhwc")}
        runs = {"ort": lambda: sess.run(None, feed),
                "nchw": lambda: jax.block_until_ready(compiled["nchw"](params["nchw"], x)),
                "nhwc": lambda: jax.block_until_ready(compiled["nhwc"](params["nhwc"], x))}
        for f in runs.values():
            f(), f()
        ts = {k: [] for k in runs}
        order = list(runs)
        for r in range(args.repeats):
            for k in (order if r % 2 == 0 else order[::-1]):
                ts[k].append(timed(runs[k]))
        best = {k: 1e3 * min(v) for k, v in ts.items()}
        med = {k: 1e3 * statistics.median(v) for k, v in ts.items()}
        print(f"| {name} | {best['ort']:.2f} / {med['ort']:.2f} | {best['nchw']:.2f} / {med['nchw']:.2f} | "
              f"{best['nhwc']:.2f} / {med['nhwc']:.2f} | {best['nchw'] / best['nhwc']:.2f}x, {med['nchw'] / med['nhwc']:.2f}x | "
              f"{best['ort'] / best['nchw']:.2f}x -> {best['ort'] / best['nhwc']:.2f}x | "
              f"{compiled['nchw_compile_s']:.1f} / {compiled['nhwc_compile_s']:.1f} | {err['nchw']:.1e} / {err['nhwc']:.1e} | "
              f"{compiled['nchw_transposes']} / {compiled['nhwc_transposes']} |",
              flush=True)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
