"""Errors a user can act on: one line of text plus an optional hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DreamjaxError(Exception):
    """Base for every error dreamjax reports to a user (CLI exit code 2)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UnknownNameError(DreamjaxError, KeyError):
    """A model, layer, class or channel name that does not exist."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]):
        choices = list(choices)
        near = nearest(name, choices)
        hint = f"did you mean {', '.join(repr(n) for n in near)}?" if near else None
        if not near and choices:
            shown = ", ".join(choices[:8]) + (", ..." if len(choices) > 8 else "")
            hint = f"choices: {shown}"
        super().__init__(f"unknown {kind} {name!r}", hint)
        self.name = name
        self.suggestions = near

    __str__ = DreamjaxError.__str__


def nearest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The closest names to `name`, best first (case-insensitive)."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    # Prefix matches help with dotted names ("blocks.1" -> "blocks.10", "blocks.11").
    if not hits:
        hits = [c for c in lowered if c.startswith(name.lower())][:n]
    return [lowered[h] for h in hits]
