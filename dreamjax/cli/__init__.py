"""The ``dreamjax`` command: a thin shell over the library.

Each subcommand lives in its own module with ``register(subparsers)`` and ``run(args, console)``;
plugins add theirs through the ``dreamjax.commands`` entry-point group (``plugin_commands.py``).
Errors a user can act on print one line (plus a hint) and exit with code 2; ``--debug`` shows
the traceback instead. So do bad options: argparse's message and where to look, without its
usage block.
"""

from __future__ import annotations

import argparse
import importlib

from rich.console import Console
from rich.markup import escape

from ..errors import DreamjaxError
from .plugin_commands import add_commands, epilog

BUILTIN_COMMANDS = ("dream", "zoom", "models", "layers", "presets", "bench")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and a hint; its subcommands' parsers are Parsers too."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\nhint: see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="dreamjax", description="Fast batched DeepDream on JAX.",
                                     epilog=epilog(BUILTIN_COMMANDS), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = []
    for name in BUILTIN_COMMANDS:
        module = importlib.import_module(f".{name}", __name__)
        commands.append((module.register(sub), module.run))
    commands += add_commands(sub, BUILTIN_COMMANDS)
    for sp, run in commands:
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sp.set_defaults(_run=run, _parser=sp)
    return parser


def main(argv: list[str] | None = None) -> int:
    console = Console(stderr=True)
    try:  # Ctrl-C while the subcommands (and JAX) are still importing: no traceback either
        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/] before any work started")
        return 130
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    if unknown and not getattr(args, "_any_arguments", False):  # only a broken plugin's stand-in takes any
        args._parser.error(f"unrecognized arguments: {' '.join(unknown)}")
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
