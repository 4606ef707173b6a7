"""Forward + input gradient of EfficientNet-Lite0: JAX depthwise kernels vs PyTorch eager.

One DeepDream step's model work: ``grad(mean(act(layer)**2))`` with respect to the image.
Compile time is reported apart from the steady state (median of repeats, after warm-up).
PyTorch eager on the reference implementation, same weights, is the baseline, run in the same
process. Needs the bench extra (``pip install -e '.[bench]'``).

    python benchmarks/depthwise_grad.py --size 224 --batch 1 --layer blocks.8
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np


def _time(fn, repeats: int) -> tuple[float, float]:
    """(best, median) seconds per call; the best is the least disturbed by a shared machine."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def bench_jax(impl: str, layer: str, x: np.ndarray, repeats: int) -> tuple[float, tuple[float, float]]:
    from dreamjax.zoo import efficientnet_lite

    m = efficientnet_lite.load("lite0", depthwise=impl)

    def objective(img):
        return jnp.mean(m.apply(m.params, img, [layer])[layer] ** 2)

    step = jax.jit(jax.grad(objective))
    xj = jnp.asarray(x)
    t = time.perf_counter()
    step(xj).block_until_ready()
    compile_s = time.perf_counter() - t
    for _ in range(2):
        step(xj).block_until_ready()
    return compile_s, _time(lambda: step(xj).block_until_ready(), repeats)


def bench_torch(layer: str, x: np.ndarray, repeats: int) -> tuple[float, float]:
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    from dreamjax.zoo import efficientnet_lite

    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(torch.load(efficientnet_lite.checkpoint_path("lite0"), weights_only=True))
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    index = int(layer.split(".")[1])
    mean = torch.tensor(efficientnet_lite.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(efficientnet_lite.STD).view(1, 3, 1, 1)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()

    def step():
        img = xt.clone().requires_grad_(True)
        h = (img - mean) / std
        h = net._swish(net._bn0(net._conv_stem(h)))
        for block in net._blocks[: index + 1]:
            h = block(h)
        (h**2).mean().backward()
        return img.grad

    for _ in range(2):
        step()
    return _time(step, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--layer", default="blocks.8")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--impls", default="taps,taps_vjp,conv")
    ap.add_argument("--torch-threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    args = ap.parse_args()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    x = np.random.default_rng(0).random((args.batch, args.size, args.size, 3), dtype=np.float32)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}; input {x.shape}, layer {args.layer}")
    print(f"{'':>14}  best ms  median ms  speed vs pytorch (best)")
    torch_best, torch_med = bench_torch(args.layer, x, args.repeats)
    print(f"{'pytorch eager':>14}: {torch_best * 1e3:8.1f} {torch_med * 1e3:9.1f}")
    for impl in args.impls.split(","):
        compile_s, (best, med) = bench_jax(impl, args.layer, x, args.repeats)
        print(f"{impl:>14}: {best * 1e3:8.1f} {med * 1e3:9.1f}  {torch_best / best:.2f}x   (compile {compile_s:.1f} s)")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
