"""Subcommands that plugins bring, through the ``dreamjax.commands`` entry-point group.

An entry point names a module (or any object) with the two functions of a built-in command
module: ``register(subparsers)`` adds a subcommand named like the entry point and returns its
parser; ``run(args, console)`` does the work and returns the exit code (None for 0). The ONNX
plugin publishes ``dreamjax convert`` this way, in its ``pyproject.toml``::

    [project.entry-points."dreamjax.commands"]
    convert = "dreamjax_onnx.cli"

A command that fails to import, lacks those functions, takes a built-in name or whose
``register`` fails is recorded like a broken backend (``dreamjax.plugins``): ``dreamjax models``
lists it, ``dreamjax --help`` names it, running it prints why in one line, and every other
command keeps working.
"""

from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import Any

from ..errors import DreamjaxError
from ..plugins import COMMANDS, BrokenPlugin, distribution_of, load_group


@dataclass(frozen=True)
class PluginCommand:
    name: str
    distribution: str
    module: Any  # has register(subparsers) and run(args, console)


def _accept(reserved: frozenset[str]):
    def accept(ep: EntryPoint, obj: Any) -> PluginCommand:
        if ep.name in reserved:
            raise ValueError(f"{ep.name!r} is a built-in dreamjax command")
        missing = [f"{name}()" for name in ("register", "run") if not callable(getattr(obj, name, None))]
        if missing:
            raise TypeError(f"{ep.value} has no {' and no '.join(missing)}")
        trial = argparse.ArgumentParser(prog="dreamjax").add_subparsers()
        obj.register(trial)  # the call build_parser makes, tried on a parser of its own first
        if ep.name not in trial.choices:
            added = ", ".join(map(repr, trial.choices)) or "no command"
            raise ValueError(f"{ep.value}.register() added {added}, not {ep.name!r}")
        return PluginCommand(ep.name, distribution_of(ep), obj)

    return accept


def discover_commands(reserved) -> tuple[tuple[PluginCommand, ...], tuple[BrokenPlugin, ...]]:
    """The plugins' commands that work, and the broken ones; ``reserved``: the built-in names."""
    return _discover(tuple(reserved))


@functools.cache
def _discover(reserved: tuple[str, ...]) -> tuple[tuple[PluginCommand, ...], tuple[BrokenPlugin, ...]]:
    return load_group(COMMANDS, _accept(frozenset(reserved)))


discover_commands.cache_clear = _discover.cache_clear  # what tests call to forget a discovery


def add_commands(sub: argparse._SubParsersAction, reserved: tuple[str, ...]) -> list[tuple[argparse.ArgumentParser, Any]]:
    """Register the plugins' commands on ``sub``: ``(parser, run)`` for each, broken ones included."""
    commands, broken = discover_commands(reserved)
    added = []
    for command in commands:
        command.module.register(sub)
        added.append((sub.choices[command.name], command.module.run))
    for plugin in broken:
        if plugin.name in sub.choices:  # a built-in of that name wins
            continue
        # No options of its own: whatever follows the name reaches _broken, which says what broke.
        parser = sub.add_parser(plugin.name, add_help=False, help=f"(broken plugin {plugin.distribution}: see `dreamjax models`)")
        parser.set_defaults(_any_arguments=True)
        added.append((parser, functools.partial(_broken, plugin)))
    return added


def _broken(plugin: BrokenPlugin, args: argparse.Namespace, console: Any) -> int:
    raise DreamjaxError(
        f"the command {plugin.name!r} of the plugin {plugin.distribution} failed to load: {plugin.error}",
        f"reinstall or remove {plugin.distribution}; `dreamjax models` lists every broken plugin",
    )


def epilog(reserved: tuple[str, ...]) -> str:
    """The lines ``dreamjax --help`` ends with: which commands come from which plugin."""
    commands, broken = discover_commands(reserved)
    lines = []
    if commands:
        lines += ["commands from plugins:", *(f"  {c.name:<12} {c.distribution}" for c in commands)]
    if broken:
        lines += ["broken plugin commands (see `dreamjax models`):", *(f"  {b.name:<12} {b.distribution}" for b in broken)]
    return "\n".join(lines)
