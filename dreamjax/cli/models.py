"""``dreamjax models``: the backends found, their models, and plugins that failed to load."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from ..backends import discover
from ..zoo import DEFAULT_MODEL


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return sub.add_parser("models", help="list models and backends")


def run(args: argparse.Namespace, console: Console) -> int:
    found = discover()
    table = Table(title="dreamjax models")
    table.add_column("backend")
    table.add_column("model")
    table.add_column("note")
    for backend in found.backends:
        names = backend.available()
        for name in names:
            table.add_row(backend.name, name, "default" if name == DEFAULT_MODEL else "")
        if not names:
            table.add_row(backend.name, "(by path)", getattr(backend, "description", ""))
    for broken in found.broken:
        table.add_row(f"[red]{broken.name}[/]", "[red]failed to load[/]", f"{broken.target}: {broken.error}")
    Console().print(table)
    return 1 if found.broken else 0
