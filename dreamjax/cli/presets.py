"""``dreamjax presets MODEL``: the named looks of a model, with their layers and settings."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from ..apps.presets import presets_for
from ..backends import load_model
from .options import add_model_argument


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("presets", help="list a model's presets (use with `dreamjax dream --preset NAME`)")
    add_model_argument(p)
    return p


def run(args: argparse.Namespace, console: Console) -> int:
    model = load_model(args.model)
    table = Table(title=f"{model.name} presets (dreamjax dream --preset NAME)")
    table.add_column("preset")
    table.add_column("objective")
    table.add_column("settings")
    table.add_column("look")
    for preset in presets_for(model).values():
        settings = ", ".join(f"{k.replace('_', '-')}={v}" for k, v in preset.settings.items())
        table.add_row(preset.name, preset.objective, settings, preset.description)
    Console().print(table)
    return 0
