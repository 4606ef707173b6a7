"""``dreamjax layers MODEL``: the dreamable layers with channels and spatial size.

Names are never cut short: the table folds a long name over several lines, and ``--plain``
prints one name per line for scripts. ``--all`` adds the layers a model resolves but does not
list (every value of an ONNX graph, beside its module scopes).
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..ascent.objectives import default_layer
from ..backends import load_model
from ..model import DreamModel, every_layer
from ..zoo import DEFAULT_MODEL


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("layers", help="list a model's dreamable layers")
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL, help="zoo name or .onnx path")
    p.add_argument("--all", action="store_true", help="every layer, not only the listed ones (ONNX: every graph value)")
    p.add_argument("--plain", action="store_true", help="only the names, one per line (for scripts)")
    return p


def layer_table(model: DreamModel, everything: bool = False) -> Table:
    """The listed layers (or every layer) with channels, spatial size and a note."""
    h, w = model.input_spec.native_size
    layers = every_layer(model) if everything else model.layers
    total = len(every_layer(model))
    caption = f"--all lists all {total} layers" if total > len(model.layers) and not everything else None
    table = Table(title=f"{model.name} layers (spatial size at {w}x{h} input)", caption=caption)
    table.add_column("#", justify="right")
    table.add_column("layer", overflow="fold")
    table.add_column("channels", justify="right")
    table.add_column("spatial", justify="right")
    table.add_column("note", overflow="fold")
    default = default_layer(model)
    for i, layer in enumerate(layers):
        spatial = f"{layer.spatial[1]}x{layer.spatial[0]}" if layer.spatial else "-"
        note = "default" if default in (layer.name, *layer.aliases) else layer.description
        if layer.aliases:
            note += f" (= {', '.join(layer.aliases)})"
        table.add_row(str(i), Text(layer.name), str(layer.channels), spatial, Text(note))  # Text: no markup
    return table


def run(args: argparse.Namespace, console: Console) -> int:
    model = load_model(args.model)
    if args.plain:
        layers = every_layer(model) if args.all else model.layers
        sys.stdout.write("".join(f"{layer.name}\n" for layer in layers))
        return 0
    Console().print(layer_table(model, args.all))
    Console().print(f"see what each channel detects: dreamjax atlas {args.model} --layer {default_layer(model)}", markup=False, style="dim")
    return 0
