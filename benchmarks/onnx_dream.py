"""Dream mode of ``bench_onnx.py``: the same DeepDream through dreamjax-onnx and PyTorch eager.

For each torchvision network (seeded random weights, exported to ONNX by
``plugins/dreamjax-onnx/scripts/export_networks.py``), cut at a layer people dream with, the
same work runs through:

- dreamjax-onnx: ``dreamjax.load_model(file.onnx)`` and the dream engine (compile excluded);
- PyTorch eager on the original torchvision module (the very weights that were exported),
  cut at the layer with ``torchvision.models.feature_extraction``;
- onnx2torch's conversion of the ONNX file cut at the layer, when onnx2torch is installed.

The work: 4 octaves of 1.4, 10 steps each, jitter 32, on the bundled photos, at 224x224
batch 1 and 448x448 batch 2. Runs alternate (torch, onnx2torch, dreamjax, torch, ...) and the
best of ``--repeats`` counts; ratios (PyTorch time / dreamjax time: above 1, dreamjax is
faster) come from the same run, by wall time and by CPU time (the process's, all threads:
robust when other processes take turns on the machine, fair with ``--cores 1``). Also per row: how a dream step compares with a forward on
each side (dream time / (steps x the forward at every octave size): 1 would be a free
backward pass), and dreamjax's forward against onnxruntime's on the whole network at the
full size (the earlier issue's tracked ratio).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "plugins" / "dreamjax-onnx" / "scripts"))

import machine  # noqa: E402


@dataclass(frozen=True)
class DreamNet:
    name: str  # as in export_networks.py
    module: str  # torchvision submodule whose output is dreamed on
    value: str  # the same value in the TorchScript export
    depthwise: bool = False


NETS = [
    DreamNet("resnet18", "layer3", "/layer3/layer3.1/relu_1/Relu_output_0"),
    DreamNet("resnet50", "layer3", "/layer3/layer3.5/relu_2/Relu_output_0"),
    DreamNet("googlenet", "inception4c", "/inception4c/Concat_output_0"),
    DreamNet("inception_v3", "Mixed_6c", "/Mixed_6c/Concat_output_0"),
    DreamNet("mobilenet_v2", "features.13", "/features/features.13/Add_output_0", depthwise=True),
    DreamNet("mobilenet_v3_large", "features.12", "/features/features.12/Add_output_0", depthwise=True),
    DreamNet("efficientnet_b0", "features.5", "/features/features.5/features.5.2/Add_output_0", depthwise=True),
    DreamNet("squeezenet1_1", "features.12", "/features/features.12/Concat_output_0"),
    DreamNet("densenet121", "features.denseblock3", "/features/denseblock3/Concat_output_0"),
    DreamNet("convnext_tiny", "features.5", "/features/features.5/features.5.8/Add_output_0", depthwise=True),
]
QUICK = ("resnet18", "googlenet", "mobilenet_v2")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def torch_net(net: DreamNet, seed: int = 0):
    """The exported torchvision module (same seeded weights), cut at the dream layer, with
    the ImageNet normalisation in front: NCHW images in [0, 1] -> activation."""
    import export_networks
    import torch
    from torchvision.models.feature_extraction import create_feature_extractor

    torch.manual_seed(export_networks._seed_for(net.name, seed))
    model = export_networks.randomise(export_networks.NETS[net.name].build(), export_networks._seed_for(net.name, seed) + 1)
    for p in model.parameters():
        p.requires_grad_(False)
    return _normalised(create_feature_extractor(model.eval(), return_nodes={net.module: "out"}), lambda m, x: m(x)["out"])


def onnx2torch_net(path: Path, value: str):
    """onnx2torch's module for the ONNX graph cut at ``value``, or None without onnx2torch."""
    try:
        import onnx2torch
    except ImportError:
        return None
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        cut = Path(tmp) / "cut.onnx"
        onnx.utils.extract_model(str(path), str(cut), ["input"], [value])
        try:
            module = onnx2torch.convert(str(cut)).eval()
        except Exception as exc:  # noqa: BLE001 - a graph onnx2torch cannot convert leaves its column empty
            print(f"# onnx2torch cannot convert {path.name}: {type(exc).__name__}: {exc}", flush=True)
            return None
    for p in module.parameters():
        p.requires_grad_(False)
    return _normalised(module, lambda m, x: m(x))


def _normalised(module, call):
    import torch

    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return lambda images01: call(module, (images01 - mean) / std)


def clocked(f) -> tuple[float, float]:
    """(wall, CPU) seconds of ``f()``; CPU time is this process's, all threads."""
    w0, c0 = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - w0, time.process_time() - c0


def best_of(f, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def forward_seconds(model, value, shapes, batch, repeats) -> float:
    """dreamjax: one forward to ``value`` at each octave shape (params as arguments), summed."""
    import jax
    import jax.numpy as jnp

    from dreamjax.runtime.compiler import compiler_options

    total = 0.0
    for h, w in shapes:
        images = jnp.zeros((batch, h, w, 3), jnp.float32) + 0.5
        fwd = jax.jit(lambda p, x: model.apply(p, x, [value])[value]).lower(model.params, images).compile(compiler_options())
        jax.block_until_ready(fwd(model.params, images))
        total += best_of(lambda: jax.block_until_ready(fwd(model.params, images)), repeats)
    return total


def torch_forward_seconds(forward, shapes, batch, repeats) -> float:
    import torch

    total = 0.0
    with torch.no_grad():
        for h, w in shapes:
            x = torch.full((batch, 3, h, w), 0.5)
            forward(x)
            total += best_of(lambda: forward(x), repeats)
    return total


def ort_vs_jax_forward(path: Path, size: int, batch: int, repeats: int) -> float:
    """onnxruntime time / dreamjax time for the whole network's forward (the tracked ratio)."""
    import jax
    import jax.numpy as jnp
    import onnx

    import dreamjax_onnx
    from bench_onnx import quiet_ort_session
    from dreamjax.runtime.compiler import compiler_options

    model = onnx.load(str(path))
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)
    fn, params = dreamjax_onnx.to_jax(model)
    fwd = jax.jit(fn).lower(params, jnp.asarray(x)).compile(compiler_options())
    sess = quiet_ort_session(model)
    jax.block_until_ready(fwd(params, x))
    sess.run(None, {"input": x})
    t_ort, t_jax = [], []
    for _ in range(repeats):
        t_ort.append(best_of(lambda: sess.run(None, {"input": x}), 1))
        t_jax.append(best_of(lambda: jax.block_until_ready(fwd(params, x)), 1))
    return min(t_ort) / min(t_jax)


def run_case(net: DreamNet, path: Path, size: int, batch: int, repeats: int, quiet: float, patience: float) -> dict:
    import torch

    import dreamjax
    from bench_dream import sample_batch
    from dreamjax.ascent.engine import DreamConfig, Dreamer, octave_shapes
    from dreamjax.ascent.objectives import layer_objective
    from torch_baseline import dream_with

    model = dreamjax.load_model(str(path))
    config = DreamConfig(octaves=4, octave_scale=1.4, steps=10, jitter=32)
    shapes = octave_shapes(size, size, config.octaves, config.octave_scale, model.input_spec.min_size)
    images = sample_batch(size, batch)
    timm = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
    sides = {"torch": torch_net(net), "onnx2torch": onnx2torch_net(path, net.value)}
    sides = {k: v for k, v in sides.items() if v is not None}
    with torch.no_grad():  # the same network on both sides?
        x = torch.from_numpy(sample_batch(224, 1).transpose(0, 3, 1, 2).copy())
        want = sides["torch"](x).numpy().transpose(0, 2, 3, 1)
    got = np.asarray(model.apply(model.params, sample_batch(224, 1), [net.value])[net.value])
    same = float(np.abs(got - want).max() / np.abs(want).max())

    dreamer = Dreamer(model)
    objective = layer_objective(model, [net.value])
    _, first = dreamer.run(images, objective, config)
    for forward in sides.values():  # warm-up: allocators, thread pools
        dream_with(forward, timm, octaves=1, steps=1, min_size=model.input_spec.min_size)
    times: dict[str, list[float]] = {k: [] for k in [*sides, "dreamjax"]}
    cpu: dict[str, list[float]] = {k: [] for k in times}
    notes = []
    for r in range(repeats):
        machine.wait_for_quiet(quiet, patience)
        notes.append(machine.load_note())
        for side, forward in sides.items():
            wall, used = clocked(lambda: dream_with(
                forward, timm, octaves=config.octaves, octave_scale=config.octave_scale, steps=config.steps,
                step_size=config.step_size, jitter=config.jitter, seed=r, min_size=model.input_spec.min_size))
            times[side].append(wall)
            cpu[side].append(used)
        wall, used = clocked(lambda: dreamer.run(images, objective, config))
        times["dreamjax"].append(wall)
        cpu["dreamjax"].append(used)
    best = {k: min(v) for k, v in times.items()}
    jax_fwd = config.steps * forward_seconds(model, net.value, shapes, batch, max(3, repeats))
    torch_fwd = config.steps * torch_forward_seconds(sides["torch"], shapes, batch, max(3, repeats))
    row = {
        "net": net.name, "layer": net.module, "size": size, "batch": batch, "depthwise": net.depthwise,
        "best_s": best, "median_s": {k: statistics.median(v) for k, v in times.items()},
        "best_cpu_s": {k: min(v) for k, v in cpu.items()},
        "ratio": {k: best[k] / best["dreamjax"] for k in sides},
        "jax_dream_over_forward": best["dreamjax"] / jax_fwd, "torch_dream_over_forward": best["torch"] / torch_fwd,
        "jax_forward_ratio_vs_torch": torch_fwd / jax_fwd,
        "ort_over_jax_forward": ort_vs_jax_forward(path, size, batch, max(3, repeats)),
        "compile_s": first.compile_seconds, "same_network_rel_diff": same, "load": notes,
    }
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| network (dream layer) | size x batch | PyTorch eager s | onnx2torch s | dreamjax s | ratio vs PyTorch "
        "| ratio vs onnx2torch | ratio vs PyTorch, CPU time | dreamjax dream / forward | PyTorch dream / forward "
        "| forward vs PyTorch | forward vs onnxruntime | compile s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b, ratio = r["best_s"], r["ratio"]
        o2t = f"{b['onnx2torch']:.2f}" if "onnx2torch" in b else "-"
        o2t_ratio = f"{ratio['onnx2torch']:.2f}x" if "onnx2torch" in ratio else "-"
        cpu_ratio = r["best_cpu_s"]["torch"] / r["best_cpu_s"]["dreamjax"]
        lines.append(
            f"| {r['net']} ({r['layer']}) | {r['size']} x {r['batch']} | {b['torch']:.2f} | {o2t} | {b['dreamjax']:.2f} "
            f"| **{ratio['torch']:.2f}x** | {o2t_ratio} | {cpu_ratio:.2f}x | {r['jax_dream_over_forward']:.2f} "
            f"| {r['torch_dream_over_forward']:.2f} "
            f"| {r['jax_forward_ratio_vs_torch']:.2f}x | {r['ort_over_jax_forward']:.2f}x | {r['compile_s']:.0f} |")
    return "\n".join(lines)


def run(args) -> list[dict]:
    """Every (network, case) of ``args``; prints each row as it lands."""
    import torch

    if args.cores:
        torch.set_num_threads(args.cores)
    names = list(QUICK) if args.quick else [n for n in args.nets.split(",") if n] or [n.name for n in NETS]
    nets = {n.name: n for n in NETS}
    unknown = [n for n in names if n not in nets]
    if unknown:
        raise SystemExit(f"unknown networks {unknown}; choose from {sorted(nets)}")
    cases = [(224, 1)] if args.quick else [(224, 1), (448, 2)]
    missing = [n for n in names if not (args.models_dir / f"{n}-op17.onnx").exists()]
    if missing:
        raise SystemExit(f"no ONNX export of {missing} in {args.models_dir}; make them with\n  /work/venv-torch/bin/python "
                         f"plugins/dreamjax-onnx/scripts/export_networks.py {args.models_dir} --opsets 17 --nets {','.join(missing)}")
    info = machine.describe()
    print(f"# {info['cpu']}, {info['cpus']} CPUs, torch threads {torch.get_num_threads()}; {machine.load_note()}")
    print(f"# versions {info['versions']}; XLA_FLAGS={info['xla_flags']!r}", flush=True)
    rows = []
    for name in names:
        for size, batch in cases:
            row = run_case(nets[name], args.models_dir / f"{name}-op17.onnx", size, batch, args.repeats,
                           args.quiet_below, args.patience)
            rows.append(row)
            if getattr(args, "json", None):  # after every row: a later crash loses nothing measured
                args.json.write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
            cpu = row["best_cpu_s"]
            print(f"{name} {size}x{batch}: torch {row['best_s']['torch']:.2f} s (CPU {cpu['torch']:.2f} s), "
                  f"dreamjax {row['best_s']['dreamjax']:.2f} s (CPU {cpu['dreamjax']:.2f} s) "
                  f"-> {row['ratio']['torch']:.2f}x; dream/forward {row['jax_dream_over_forward']:.2f} "
                  f"(torch {row['torch_dream_over_forward']:.2f}); same network {row['same_network_rel_diff']:.1e}; "
                  f"{row['load'][-1]}", flush=True)
    print("\n" + table(rows))
    print(f"\nafter: {machine.load_note()}; uptime load {os.getloadavg()}")
    return rows
