"""The ``dreamjax`` command: a thin shell over the library.

Each subcommand lives in its own module with ``register(subparsers)`` and ``run(args, console)``;
plugins add theirs through the ``dreamjax.commands`` entry-point group (``plugin_commands.py``).
Only the subcommand being run is imported (and JAX with it, where it needs it); a built-in
command does not load the plugins at all. Errors a user can act on print one line (plus a hint)
and exit with code 2; ``--debug`` shows the traceback instead. So do bad options: argparse's
message and where to look, without its usage block.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings

from rich.console import Console
from rich.markup import escape

from ..errors import DreamjaxError
from ..runtime import timings
from ..runtime.cache import CacheWarning
from .plugin_commands import add_commands, epilog

# name -> one-line help. The others than the one being run are listed by name only, so
# `dreamjax dream` imports no other command module.
BUILTIN_COMMANDS = {
    "dream": "dream on an image",
    "zoom": "dream an endless zoom, frame after frame",
    "atlas": "picture what each channel of a layer detects (feature visualisation)",
    "models": "list models and backends, and plugins that failed to load",
    "layers": "list a model's dreamable layers",
    "presets": "list a model's presets (use with `dreamjax dream --preset NAME`)",
    "bench": "measure dream throughput",
    "cache": "the compiled-program cache: info, clear, warm",
}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and a hint; its subcommands' parsers are Parsers too."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\nhint: see '{self.prog} --help'\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand in full, or with only ``command`` in full (the other
    built-ins by name; "" for the overview). A built-in ``command`` loads no plugin."""
    builtin = tuple(BUILTIN_COMMANDS)
    with_plugins = command not in BUILTIN_COMMANDS
    parser = Parser(prog="dreamjax", description="Fast batched DeepDream on JAX.",
                    epilog=epilog(builtin) if with_plugins else None,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = []
    for name, help_text in BUILTIN_COMMANDS.items():
        if command is not None and name != command:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        module = importlib.import_module(f".{name}", __name__)
        commands.append((module.register(sub), module.run))
    if with_plugins:
        commands += add_commands(sub, builtin)
    for sp, run in commands:
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sp.set_defaults(_run=run, _parser=sp)
    return parser


def _command(argv: list[str]) -> str:
    """The subcommand named in ``argv`` ("" when none is: only the overview is needed)."""
    return next((arg for arg in argv if not arg.startswith("-")), "")


def main(argv: list[str] | None = None) -> int:
    console = Console(stderr=True)
    timings.add("startup (interpreter, dreamjax.cli)", timings.process_age() or 0.0)
    try:  # Ctrl-C while the subcommands (and JAX) are still importing: no traceback either
        with timings.phase("imports (the subcommand, JAX)"):
            parser = build_parser(_command(sys.argv[1:] if argv is None else argv))
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
        with warnings.catch_warnings():
            warnings.simplefilter("always", CacheWarning)  # a notice on stderr, never an error
            warnings.showwarning = _notice(console, warnings.showwarning)
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


def _notice(console: Console, show):
    """Cache warnings as one line on the console; any other warning as Python shows it."""

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, CacheWarning):
            console.print(f"[yellow]warning:[/] {escape(str(message))}", highlight=False, soft_wrap=True)
        else:
            show(message, category, filename, lineno, file, line)

    return showwarning


def run() -> None:
    """The ``dreamjax`` command (and ``python -m dreamjax``): :func:`main`, then a quick exit.

    Once a command is done, everything it wrote is closed and renamed into place; what is left
    is the interpreter's teardown (modules, JAX's CPU client, the garbage), about 0.25 s of a
    2.2 s warm dream. So the process flushes what it owes (its output streams, logging, the
    program cache's counters) and leaves with ``os._exit``. Library callers of :func:`main`
    (tests) exit normally.
    """
    try:
        code = main()
    except SystemExit as exc:  # argparse's --help and errors
        code = exc.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    programs = sys.modules.get("dreamjax.runtime.programs")  # imported only by commands that used the cache
    if programs is not None:
        programs.flush_counters()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            pass
    os._exit(code or 0)
