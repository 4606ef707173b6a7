"""Export real torchvision architectures, with seeded random weights, to ONNX.

The files are test material for the dreamjax-onnx converter: real exporter output (real op
patterns, real shape chains) at several opsets, with dynamic batch/height/width axes wherever
the exporter allows them. Weights are random but deterministic (seeded per network), with
BatchNorm statistics calibrated on random images so activations keep a realistic scale.

Run it with a Python that has torch and torchvision. The system torch may not match PyPI
torchvision, so use a separate environment just for exporting (about 5.5 GB)::

    python3 -m venv /tmp/venv-export
    /tmp/venv-export/bin/pip install torch==2.14.1 torchvision==0.29.1 onnx onnxruntime onnxscript
    /tmp/venv-export/bin/python plugins/dreamjax-onnx/scripts/export_networks.py OUT_DIR

Options::

    --nets resnet18,googlenet   which networks (default: every full-size one; --list shows all)
    --tiny                      the width-reduced variants instead (the committed fixtures)
    --opsets 11,13,17,18        opsets (default 11,13,17)
    --exporter auto|torchscript|dynamo
                                auto: the TorchScript exporter (dynamo=False) below opset 18,
                                the dynamo exporter (needs onnxscript) from 18 on;
                                torchscript reaches opset 20 at most
    --seed 0

The committed fixtures in ``plugins/dreamjax-onnx/tests/fixtures/networks/`` were made with::

    S=plugins/dreamjax-onnx/scripts/export_networks.py
    F=plugins/dreamjax-onnx/tests/fixtures/networks
    /tmp/venv-export/bin/python $S $F --tiny --opsets 11,13,17
    /tmp/venv-export/bin/python $S $F --tiny --opsets 18 \\
        --nets shufflenet_v2_tiny,convnext_tiny_tiny,mobilenet_v3_small_tiny,googlenet_tiny,vgg_tiny

Every export is checked before it is kept: onnxruntime must reproduce the torch output at the
export size and, where height/width are dynamic, at a second, odd, non-square size (which
exercises ceil_mode pooling). If the dynamic export does not hold at the second size, the
script falls back to a dynamic batch axis only, then to a static graph, and says so.
``OUT_DIR/manifest.json`` records each file: network, opset, exporter, dynamic axes, sizes,
parameter count, sha256, the torch-vs-onnxruntime differences, seed and library versions.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import importlib
import json
import os
import sys
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torchvision
from torch import nn

TORCHSCRIPT_MAX_OPSET = 20  # the legacy exporter's limit in torch 2.14
DYNAMO_MIN_OPSET = 18  # "auto" uses the dynamo exporter from here on, its native range
SECOND_SIZE = (193, 161)  # odd and non-square: ceil_mode pools and asymmetric shapes matter here
INPUT_NAME, OUTPUT_NAME = "input", "logits"


def _tv(module: str):
    # torchvision.models.<name> is shadowed by the builder function of the same name.
    return importlib.import_module(f"torchvision.models.{module}")


@dataclass(frozen=True)
class Net:
    name: str
    build: Callable[[], nn.Module]
    size: int = 224  # export size (square)
    second_size: tuple[int, int] = SECOND_SIZE
    tiny: bool = False
    note: str = ""


# --- full-size torchvision architectures --------------------------------------------------

M = torchvision.models
FULL = [
    Net("resnet18", lambda: M.resnet18()),
    Net("resnet50", lambda: M.resnet50()),
    Net("resnet152", lambda: M.resnet152()),
    Net("googlenet", lambda: M.googlenet(aux_logits=False, init_weights=True)),
    Net("inception_v3", lambda: M.inception_v3(aux_logits=False, init_weights=True), size=299,
        second_size=(257, 225)),
    Net("mobilenet_v2", lambda: M.mobilenet_v2()),
    Net("mobilenet_v3_small", lambda: M.mobilenet_v3_small()),
    Net("mobilenet_v3_large", lambda: M.mobilenet_v3_large()),
    Net("efficientnet_b0", lambda: M.efficientnet_b0()),
    Net("squeezenet1_1", lambda: M.squeezenet1_1()),
    Net("densenet121", lambda: M.densenet121()),
    Net("shufflenet_v2_x0_5", lambda: M.shufflenet_v2_x0_5()),
    Net("vgg11_bn", lambda: M.vgg11_bn(),
        note="AdaptiveAvgPool2d((7, 7)) pins the spatial size in the exported graph"),
    Net("convnext_tiny", lambda: M.convnext_tiny()),
]


# --- width-reduced variants built from torchvision's own blocks (the committed fixtures) ---

def _tiny_squeezenet() -> nn.Module:
    """SqueezeNet 1.1 layout (ceil_mode pools, Fire concats, conv classifier) at 1/8 width."""
    Fire = _tv("squeezenet").Fire
    net = M.squeezenet1_1(num_classes=10)
    net.features = nn.Sequential(
        nn.Conv2d(3, 16, kernel_size=3, stride=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(16, 4, 8, 8), Fire(16, 4, 8, 8),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(16, 8, 16, 16), Fire(32, 8, 16, 16),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(32, 12, 24, 24), Fire(48, 12, 24, 24), Fire(48, 16, 32, 32), Fire(64, 16, 32, 32),
    )
    net.classifier = nn.Sequential(
        nn.Dropout(p=0.5), nn.Conv2d(64, 10, kernel_size=1), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d((1, 1)),
    )
    return net


def _tiny_googlenet() -> nn.Module:
    """GoogLeNet layout (7x7 stem, ceil_mode pools, 4-branch Inception concats) at 1/8 width."""
    g = _tv("googlenet")

    class TinyGoogLeNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = g.BasicConv2d(3, 8, kernel_size=7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.conv2 = g.BasicConv2d(8, 8, kernel_size=1)
            self.conv3 = g.BasicConv2d(8, 24, kernel_size=3, padding=1)
            self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.inception3a = g.Inception(24, 8, 12, 16, 2, 4, 4)
            self.inception3b = g.Inception(32, 16, 16, 24, 4, 12, 8)
            self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.inception4a = g.Inception(60, 24, 12, 26, 2, 6, 8)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(0.2)
            self.fc = nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.maxpool1(self.conv1(x))
            x = self.maxpool2(self.conv3(self.conv2(x)))
            x = self.maxpool3(self.inception3b(self.inception3a(x)))
            x = self.avgpool(self.inception4a(x))
            return self.fc(self.dropout(torch.flatten(x, 1)))

    return TinyGoogLeNet()


def _tiny_resnet() -> nn.Module:
    """ResNet-50 layout (stem, maxpool, Bottleneck blocks with projection shortcuts) at 1/8 width."""
    r = _tv("resnet")

    def stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
        down = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=False),
                             nn.BatchNorm2d(planes * 4))
        layers = [r.Bottleneck(inplanes, planes, stride, down)]
        layers += [r.Bottleneck(planes * 4, planes) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    return nn.Sequential(
        nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2, padding=1),
        stage(8, 8, 2, 1), stage(32, 16, 2, 2), stage(64, 24, 1, 2),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(96, 10),
    )


def _tiny_efficientnet() -> nn.Module:
    """EfficientNet-B0 layout (MBConv, SiLU, squeeze-excitation, stochastic depth) reduced."""
    e = _tv("efficientnet")
    cfg = [
        e.MBConvConfig(1, 3, 1, 32, 16, 1, width_mult=0.25),
        e.MBConvConfig(6, 3, 2, 16, 24, 2, width_mult=0.25),
        e.MBConvConfig(6, 5, 2, 24, 40, 1, width_mult=0.25),
        e.MBConvConfig(6, 3, 2, 40, 80, 1, width_mult=0.25),
    ]
    return e.EfficientNet(cfg, dropout=0.2, num_classes=10, last_channel=128)


def _tiny_convnext() -> nn.Module:
    """ConvNeXt layout (patchify stem, 7x7 depthwise, LayerNorm, GELU, layer scale) reduced."""
    c = _tv("convnext")
    return c.ConvNeXt([c.CNBlockConfig(8, 16, 1), c.CNBlockConfig(16, 32, 2),
                       c.CNBlockConfig(32, None, 1)], num_classes=10)


def _tiny_vgg() -> nn.Module:
    """VGG-BN layout (3x3 conv stacks, max pools, 7x7 adaptive pool, Flatten, Linear head)."""
    v = _tv("vgg")
    net = v.VGG(v.make_layers([8, "M", 16, "M", 16, 16, "M", 16, "M", 16, "M"], batch_norm=True),
                num_classes=10)
    net.classifier = nn.Sequential(nn.Linear(16 * 7 * 7, 16), nn.ReLU(True), nn.Dropout(0.5),
                                   nn.Linear(16, 10))
    return net


def _tiny_mobilenet_v2() -> nn.Module:
    """MobileNetV2 layout (ReLU6, inverted residuals, depthwise 3x3) with fewer, narrower blocks."""
    m = _tv("mobilenetv2")
    from torchvision.ops.misc import Conv2dNormActivation

    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 64, 1, 2], [6, 96, 1, 1]]
    net = m.MobileNetV2(num_classes=10, width_mult=0.25, inverted_residual_setting=setting)
    last_in = net.features[-1][0].in_channels
    net.features[-1] = Conv2dNormActivation(last_in, 64, kernel_size=1,
                                            norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU6)
    net.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, 10))
    return net


def _tiny_mobilenet_v3_small() -> nn.Module:
    """MobileNetV3-small layout (hardswish, squeeze-excitation with hardsigmoid) reduced."""
    m = _tv("mobilenetv3")

    def cfg(*a):  # input, kernel, expanded, output, SE, activation, stride, dilation
        return m.InvertedResidualConfig(*a, width_mult=0.25)

    setting = [
        cfg(16, 3, 16, 16, True, "RE", 2, 1),
        cfg(16, 3, 72, 24, False, "RE", 2, 1),
        cfg(24, 3, 88, 24, False, "RE", 1, 1),
        cfg(24, 5, 96, 40, True, "HS", 2, 1),
        cfg(40, 5, 240, 40, True, "HS", 1, 1),
        cfg(40, 5, 144, 48, True, "HS", 1, 1),
        cfg(48, 5, 288, 96, True, "HS", 2, 1),
    ]
    return m.MobileNetV3(setting, last_channel=64, num_classes=10)


TINY = [
    Net("squeezenet1_1_tiny", _tiny_squeezenet, tiny=True),
    Net("shufflenet_v2_tiny", lambda: _tv("shufflenetv2").ShuffleNetV2(
        [2, 2, 2], [8, 16, 32, 64, 128], num_classes=10), tiny=True),
    Net("mobilenet_v3_small_tiny", _tiny_mobilenet_v3_small, tiny=True),
    Net("mobilenet_v2_tiny", _tiny_mobilenet_v2, tiny=True),
    Net("googlenet_tiny", _tiny_googlenet, tiny=True),
    Net("resnet50_tiny", _tiny_resnet, tiny=True),
    Net("efficientnet_b0_tiny", _tiny_efficientnet, tiny=True),
    Net("convnext_tiny_tiny", _tiny_convnext, tiny=True),
    Net("densenet_tiny", lambda: M.DenseNet(growth_rate=8, block_config=(2, 2, 2),
                                            num_init_features=16, bn_size=2, num_classes=10),
        tiny=True),
    Net("vgg_tiny", _tiny_vgg, tiny=True,
        note="AdaptiveAvgPool2d((7, 7)) pins the spatial size in the exported graph"),
]
NETS = {n.name: n for n in FULL + TINY}


# --- weights ------------------------------------------------------------------------------

def _seed_for(name: str, seed: int) -> int:
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % 2**31


@torch.no_grad()
def randomise(model: nn.Module, seed: int) -> nn.Module:
    """Seeded random weights with a realistic scale.

    torchvision's own initialisers give the conv/linear weights. BatchNorm affine parameters
    and ConvNeXt layer scales are drawn away from their trivial defaults (so folding them into
    convolutions changes numbers), then the BatchNorm running statistics are measured on
    random images, as training would, so that activations neither vanish nor explode.
    """
    gen = torch.Generator().manual_seed(seed)
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.weight.copy_(torch.empty_like(mod.weight).uniform_(0.5, 1.5, generator=gen))
            mod.bias.copy_(torch.empty_like(mod.bias).normal_(0.0, 0.25, generator=gen))
            mod.reset_running_stats()
            mod.momentum = None  # cumulative average over the calibration batches
    for name, p in model.named_parameters():
        if name.endswith("layer_scale"):
            p.copy_(torch.empty_like(p).uniform_(0.2, 1.0, generator=gen))
    # Only BatchNorm in training mode: with dropout / stochastic depth active the measured
    # statistics would not match the eval-mode network, and deep residual stacks blow up.
    model.eval()
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.train()
    for _ in range(4):
        model(_images(8, 224, 224, gen))
    return model.eval()


def _images(batch: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    """Random 'images', ImageNet-normalised: smooth gradients, hard-edged blocks and pixel
    noise at several scales, so that BatchNorm statistics measured on them also fit the
    sharper inputs tests and users feed (statistics from smooth images alone leave edge
    channels with tiny variances that blow up on anything else)."""
    imgs = []
    for i in range(batch):
        cells = (4, 8, 16, 32)[i % 4]
        low = torch.rand(1, 3, max(h // cells, 2), max(w // cells, 2), generator=gen)
        mode = ("bilinear", "nearest")[(i // 4 + i) % 2]
        img = nn.functional.interpolate(low, size=(h, w), mode=mode,
                                        **({"align_corners": False} if mode == "bilinear" else {}))
        noise = (0.05, 0.2)[i % 2]
        imgs.append((img + noise * torch.randn(1, 3, h, w, generator=gen)).clamp(0, 1))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (torch.cat(imgs) - mean) / std


# --- export ---------------------------------------------------------------------------------

def _export_torchscript(model: nn.Module, x: torch.Tensor, path: Path, opset: int,
                        axes: tuple[str, ...]) -> None:
    index = {"batch": 0, "height": 2, "width": 3}
    dynamic = {INPUT_NAME: {index[a]: a for a in axes}, OUTPUT_NAME: {0: "batch"}} if axes else None
    if dynamic and "batch" not in axes:
        del dynamic[OUTPUT_NAME]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes=dynamic, do_constant_folding=True)


def _export_dynamo(model: nn.Module, x: torch.Tensor, path: Path, opset: int,
                   axes: tuple[str, ...]) -> None:
    from torch.export import Dim

    index = {"batch": 0, "height": 2, "width": 3}
    shapes = ({index[a]: Dim.AUTO for a in axes},) if axes else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(model, (x,), dynamo=True, opset_version=opset,
                                 input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                 dynamic_shapes=shapes, verbose=False)
    model_proto = prog.model_proto
    _strip_debug_info(model_proto)
    onnx.save(model_proto, str(path))


def _strip_debug_info(model: onnx.ModelProto) -> None:
    """Drop the dynamo exporter's per-node/per-value metadata (stack traces, torch names).

    It doubles the file size of small models and has no effect on what the graph computes.
    """
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    for value in [*model.graph.input, *model.graph.output, *model.graph.value_info,
                  *model.graph.initializer]:
        del value.metadata_props[:]


def _dynamic_axes_of(path: Path) -> list[str]:
    dims = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    return [name for name, d in zip(("batch", "channels", "height", "width"), dims)
            if not d.HasField("dim_value")]


def _ort_matches(path: Path, model: nn.Module, x: torch.Tensor) -> float:
    """Max |torch - onnxruntime| relative to the output scale; raises if ORT cannot run it."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    if got.shape != want.shape:
        raise ValueError(f"shape {got.shape} != torch {want.shape}")
    return float(np.abs(got - want).max() / (np.abs(want).max() + 1e-12))


def export_one(net: Net, model: nn.Module, opset: int, exporter: str, out_dir: Path,
               seed: int) -> dict:
    path = out_dir / f"{net.name}-op{opset}.onnx"
    gen = torch.Generator().manual_seed(seed + opset)
    x = _images(1, net.size, net.size, gen)
    x2 = _images(2, *net.second_size, gen)
    fn = _export_torchscript if exporter == "torchscript" else _export_dynamo
    tried = []
    for axes in (("batch", "height", "width"), ("batch",), ()):
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # exporters print whole graphs on failure
                fn(model, x, path, opset, axes)
            err = _ort_matches(path, model, x)
            dyn = _dynamic_axes_of(path)
            err2 = None
            if "height" in dyn and "width" in dyn:
                err2 = _ort_matches(path, model, x2)
            elif "batch" in dyn:
                err2 = _ort_matches(path, model, _images(2, net.size, net.size, gen))
            if err > 1e-3 or (err2 is not None and err2 > 1e-3):
                raise ValueError(f"onnxruntime differs from torch: {err:.2e} / {err2}")
            break
        except Exception as exc:  # try a less dynamic export, and report why
            tried.append(f"{axes}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    else:
        raise RuntimeError(f"{net.name} opset {opset}: no export worked: {tried}")
    data = path.read_bytes()
    return {
        "file": path.name, "net": net.name, "tiny": net.tiny, "opset": opset,
        "exporter": exporter, "dynamic_axes": dyn,
        "export_size": [net.size, net.size],
        "second_size": list(net.second_size) if "height" in dyn else [net.size, net.size],
        "params": sum(p.numel() for p in model.parameters()), "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "ort_vs_torch_rel_err": [err, err2], "fallbacks": tried, "note": net.note,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir", type=Path, nargs="?")
    ap.add_argument("--nets", default="", help="comma-separated names (default: all full or all tiny)")
    ap.add_argument("--tiny", action="store_true", help="the width-reduced variants")
    ap.add_argument("--opsets", default="11,13,17")
    ap.add_argument("--exporter", choices=("auto", "torchscript", "dynamo"), default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--list", action="store_true", help="list the networks and exit")
    args = ap.parse_args(argv)
    if args.list:
        for n in FULL + TINY:
            print(f"{n.name:26s} {'tiny' if n.tiny else 'full'} {n.size}  {n.note}")
        return 0
    if args.out_dir is None:
        ap.error("out_dir is required")
    names = [s for s in args.nets.split(",") if s] or [n.name for n in (TINY if args.tiny else FULL)]
    unknown = [n for n in names if n not in NETS]
    if unknown:
        ap.error(f"unknown networks {unknown}; choose from {sorted(NETS)}")
    opsets = [int(s) for s in args.opsets.split(",")]
    if args.exporter == "torchscript" and max(opsets) > TORCHSCRIPT_MAX_OPSET:
        ap.error(f"the TorchScript exporter stops at opset {TORCHSCRIPT_MAX_OPSET}; use --exporter dynamo")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    manifest_path = args.out_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"files": []}
    manifest.update({
        "made_by": "plugins/dreamjax-onnx/scripts/export_networks.py",
        "weights": "random (seeded per network), BatchNorm statistics calibrated on random images",
        "seed": args.seed, "torch": torch.__version__, "torchvision": torchvision.__version__,
        "onnx": onnx.__version__, "onnxruntime": ort.__version__,
    })
    entries = {e["file"]: e for e in manifest["files"]}
    for name in names:
        net = NETS[name]
        torch.manual_seed(_seed_for(name, args.seed))
        model = randomise(net.build(), _seed_for(name, args.seed) + 1)
        for opset in opsets:
            exporter = args.exporter
            if exporter == "auto":
                exporter = "torchscript" if opset < DYNAMO_MIN_OPSET else "dynamo"
            t0 = time.perf_counter()
            entry = export_one(net, model, opset, exporter, args.out_dir, args.seed)
            entries[entry["file"]] = entry
            print(f"{entry['file']:36s} {exporter:11s} dynamic={','.join(entry['dynamic_axes']) or '-':18s}"
                  f" {entry['bytes'] / 1e6:7.2f} MB  ort-vs-torch {entry['ort_vs_torch_rel_err'][0]:.1e}"
                  f"  {time.perf_counter() - t0:5.1f}s", flush=True)
            for why in entry["fallbacks"]:
                print(f"    fell back: {why}", flush=True)
    manifest["files"] = sorted(entries.values(), key=lambda e: e["file"])
    # Atomic write: an interrupted run never leaves a half-written manifest.
    with tempfile.NamedTemporaryFile("w", dir=args.out_dir, delete=False, suffix=".tmp") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    os.replace(f.name, manifest_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
