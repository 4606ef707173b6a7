"""The ``dreamjax`` command: a thin shell over the library.

Each subcommand lives in its own module with ``register(subparsers)`` and ``run(args, console)``.
Errors a user can act on print one line (plus a hint) and exit with code 2; ``--debug`` shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib

from rich.console import Console
from rich.markup import escape

from ..errors import DreamjaxError

SUBCOMMANDS = ("dream", "zoom", "atlas", "models", "layers", "presets", "convert", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dreamjax", description="Fast batched DeepDream on JAX.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f".{name}", __name__)
        sp = module.register(sub)
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sp.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    console = Console(stderr=True)
    try:  # Ctrl-C while the subcommands (and JAX) are still importing: no traceback either
        parser = build_parser()
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/] before any work started")
        return 130
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    try:
        return args._run(args, console) or 0
    except DreamjaxError as exc:
        if args.debug:
            console.print_exception()
        console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
        if exc.hint:
            console.print(f"[dim]hint:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: finished files are kept, nothing partial was written")
        return 130

