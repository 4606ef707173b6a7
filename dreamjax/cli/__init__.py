"""The ``dreamjax`` command: a thin shell over the library.

Each subcommand lives in its own module with ``register(subparsers)`` and ``run(args, console)``.
Errors a user can act on print one line (plus a hint) and exit with code 2; ``--debug`` shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from rich.console import Console
from rich.markup import escape

from ..errors import DreamjaxError
from ..runtime import timings
from ..runtime.cache import CacheWarning

# name -> one-line help. Only the subcommand being run is imported (with it, JAX where it is
# needed); the others are listed by name, so `dreamjax --help` imports none of them.
SUBCOMMANDS = {
    "dream": "dream on an image",
    "zoom": "dream an endless zoom, frame after frame",
    "models": "list models and backends",
    "layers": "list a model's dreamable layers",
    "presets": "list a model's presets (use with `dreamjax dream --preset NAME`)",
    "convert": "check or convert an ONNX model (needs dreamjax-onnx)",
    "bench": "measure dream throughput",
    "cache": "the compiled-program cache: info, clear, warm",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with only ``command`` in full (the rest by name)."""
    parser = argparse.ArgumentParser(prog="dreamjax", description="Fast batched DeepDream on JAX.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        if command is not None and name != command:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        module = importlib.import_module(f".{name}", __name__)
        sp = module.register(sub)
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sp.set_defaults(_run=module.run)
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
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/] before any work started")
        return 130
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
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
