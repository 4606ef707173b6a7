"""Everything dreamjax finds through entry points, loaded in one place.

Two groups: ``dreamjax.backends`` (model backends, see ``backends.py``) and ``dreamjax.commands``
(subcommands of the ``dreamjax`` command line, see ``cli/plugin_commands.py``). Entry points are
loaded on first use, never at import. One that fails to load, or loads something of the wrong
kind, is recorded with its error and left out; the others keep working, and ``dreamjax models``
lists what broke.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

BACKENDS = "dreamjax.backends"
COMMANDS = "dreamjax.commands"

T = TypeVar("T")


@dataclass(frozen=True)
class BrokenPlugin:
    """An entry point that could not be used, and why."""

    group: str
    name: str
    target: str  # what the distribution declares, e.g. ``dreamjax_onnx.plugin:backend``
    distribution: str
    error: str

    @property
    def kind(self) -> str:
        return self.group.rpartition(".")[2].removesuffix("s")  # "backend", "command"


def distribution_of(ep: EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "?"


def iter_group(group: str, accept: Callable[[EntryPoint, Any], T], *, first: Sequence[str] = ()) -> Iterator[T | BrokenPlugin]:
    """Load the entry points of ``group`` one by one; ``accept(ep, loaded)`` returns the usable value or raises.

    Entry points come sorted by name, those named in ``first`` ahead. A name is taken by the
    first entry point that has it; a second one is recorded as broken, naming both. Lazy, so a
    caller that finds what it needs early never imports the rest.
    """
    owners: dict[str, str] = {}
    for ep in sorted(entry_points(group=group), key=lambda ep: (ep.name not in first, ep.name)):
        dist = distribution_of(ep)
        try:
            if ep.name in owners:
                raise ValueError(f"the name {ep.name!r} is already taken by {owners[ep.name]}")
            value = accept(ep, ep.load())
        except Exception as exc:  # a broken plugin must not take the others down
            yield BrokenPlugin(group, ep.name, ep.value, dist, f"{type(exc).__name__}: {exc}")
            continue
        owners[ep.name] = dist
        yield value


def load_group(
    group: str, accept: Callable[[EntryPoint, Any], T], *, first: Sequence[str] = ()
) -> tuple[tuple[T, ...], tuple[BrokenPlugin, ...]]:
    """Every entry point of ``group`` (see ``iter_group``): the usable values and the broken ones."""
    loaded = list(iter_group(group, accept, first=first))
    return (tuple(v for v in loaded if not isinstance(v, BrokenPlugin)),
            tuple(v for v in loaded if isinstance(v, BrokenPlugin)))
