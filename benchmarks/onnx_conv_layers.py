"""Every distinct Conv of an ONNX model, timed alone: XLA's NCHW and NHWC convs (with XLA's
default options, which hand big convolutions to YNNPACK, and with dreamjax.runtime.compiler's, which
keep them on XLA's own), im2col + dot, and PyTorch's conv2d (oneDNN, close to onnxruntime's
MLAS), forward only, best-of.

Shows where a converted model's time goes and which Conv path wins per shape
(dreamjax_onnx/ops/conv.py picks im2col when there are fewer output pixels than input channels).

    python benchmarks/onnx_conv_layers.py /tmp/nets/resnet18-op17.onnx [--batch 1 --size 224]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).parent))

import machine  # noqa: E402


def best_ms(f, *args, repeats: int = 20) -> float:
    import jax

    jax.block_until_ready(f(*args))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f(*args))
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def conv_shapes(model: onnx.ModelProto, batch: int, size: int) -> collections.Counter:
    """(input shape, kernel shape, strides, pads, group) of every Conv, with counts."""
    import dreamjax_onnx

    fn, params = dreamjax_onnx.to_jax(model)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    got = fn.capture(params, np.zeros((batch, 3, size, size), np.float32), names=[n.input[0] for n in convs])
    kernels = {t.name: tuple(t.dims) for t in model.graph.initializer}
    shapes: collections.Counter = collections.Counter()
    for n in convs:
        a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
        pads = tuple(a.get("pads", [0, 0, 0, 0]))
        shapes[(tuple(got[n.input[0]].shape), kernels[n.input[1]], tuple(a.get("strides", [1, 1])), pads, a.get("group", 1))] += 1
    return shapes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--size", type=int, default=224)
    args = ap.parse_args(argv)

    import jax
    import jax.numpy as jnp
    import torch
    from dreamjax.nn import im2col as im2col_conv
    from jax import lax

    from dreamjax.runtime.compiler import compiler_options

    print(f"{machine.describe()['cpu']}; {machine.load_note()}")
    print("| count | input | kernel | stride | group | XLA NCHW ms | XLA NHWC ms | XLA NHWC, dreamjax options ms "
          "| im2col ms | torch ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    total: collections.Counter = collections.Counter()
    rng = np.random.default_rng(0)
    for (xs, ws, st, pads, g), count in sorted(conv_shapes(onnx.load(str(args.model)), args.batch, args.size).items(),
                                               key=lambda kv: -kv[1]):
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32)
        pad = [(pads[0], pads[2]), (pads[1], pads[3])]
        xh, wh = jnp.asarray(x.transpose(0, 2, 3, 1)), jnp.asarray(w.transpose(2, 3, 1, 0))

        def conv(layout, **jit_options):
            return jax.jit(lambda a, b: lax.conv_general_dilated(a, b, st, pad, dimension_numbers=layout,
                                                                 feature_group_count=g), **jit_options)

        nhwc = ("NHWC", "HWIO", "NHWC")
        row = {
            "nchw": best_ms(conv(("NCHW", "OIHW", "NCHW")), jnp.asarray(x), jnp.asarray(w)),
            "nhwc": best_ms(conv(nhwc), xh, wh),
            "tuned": best_ms(conv(nhwc, compiler_options=compiler_options()), xh, wh),
        }
        row["im2col"] = best_ms(jax.jit(lambda a, b: im2col_conv(a, b, st, pad)), xh, wh) if g == 1 else row["nhwc"]
        tw = torch.from_numpy(w)
        tx = torch.nn.functional.pad(torch.from_numpy(x), (pads[1], pads[3], pads[0], pads[2]))  # ONNX pads may be uneven
        with torch.no_grad():
            row["torch"] = best_ms(lambda: torch.nn.functional.conv2d(tx, tw, stride=st, groups=g))
        for k, v in row.items():
            total[k] += count * v
        print(f"| {count} | {xs} | {ws} | {st} | {g} | {row['nchw']:.2f} | {row['nhwc']:.2f} | {row['tuned']:.2f} "
              f"| {row['im2col']:.2f} | {row['torch']:.2f} |", flush=True)
    print(f"| total | | | | | {total['nchw']:.1f} | {total['nhwc']:.1f} | {total['tuned']:.1f} | {total['im2col']:.1f} "
          f"| {total['torch']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
