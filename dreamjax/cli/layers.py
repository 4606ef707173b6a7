"""``dreamjax layers MODEL``: the dreamable layers with channels and spatial size."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from ..ascent.objectives import default_layer
from ..backends import load_model
from ..zoo import DEFAULT_MODEL


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("layers", help="list a model's dreamable layers")
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL, help="zoo name or .onnx path")
    return p


def run(args: argparse.Namespace, console: Console) -> int:
    model = load_model(args.model)
    h, w = model.input_spec.native_size
    table = Table(title=f"{model.name} layers (spatial size at {w}x{h} input)")
    table.add_column("#", justify="right")
    table.add_column("layer")
    table.add_column("channels", justify="right")
    table.add_column("spatial", justify="right")
    table.add_column("note")
    default = default_layer(model)
    for i, layer in enumerate(model.layers):
        spatial = f"{layer.spatial[1]}x{layer.spatial[0]}" if layer.spatial else "-"
        note = "default" if layer.name == default else layer.description
        table.add_row(str(i), layer.name, str(layer.channels), spatial, note)
    Console().print(table)
    Console().print(f"see what each channel detects: dreamjax atlas {args.model} --layer {default}", markup=False, style="dim")
    return 0
