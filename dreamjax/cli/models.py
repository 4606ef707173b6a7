"""``dreamjax models``: the backends found, their models, and plugins that failed to load."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..backends import discover
from ..zoo import DEFAULT_MODEL


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return sub.add_parser("models", help="list models and backends, and plugins that failed to load")


def run(args: argparse.Namespace, console: Console) -> int:
    from . import BUILTIN_COMMANDS
    from .plugin_commands import discover_commands

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
    Console().print(table)
    broken = found.broken + discover_commands(BUILTIN_COMMANDS)[1]
    if broken:
        failed = Table(title="plugins that failed to load", title_style="red")
        for column in ("kind", "name", "distribution", "entry point", "error"):
            failed.add_column(column)
        for plugin in broken:
            failed.add_row(plugin.kind, f"[red]{escape(plugin.name)}[/]", *map(escape, (plugin.distribution, plugin.target, plugin.error)))
        Console().print(failed)
    return 1 if broken else 0
