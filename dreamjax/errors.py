"""Errors a user can act on: one line of text plus an optional hint."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence


class DreamjaxError(Exception):
    """Base for every error dreamjax reports to a user (CLI exit code 2)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UnknownNameError(DreamjaxError, KeyError):
    """A model, layer, class or channel name that does not exist.

    Suggestions come from ``choices`` first, then from each pool in ``more`` in turn (names a
    model resolves but does not list, say), so the names a user sees listed come first.
    """

    def __init__(self, kind: str, name: str, choices: Iterable[str], more: Sequence[Iterable[str]] = ()):
        choices = list(choices)
        near = nearest(name, choices)
        for pool in more:
            near += [n for n in nearest(name, pool) if n not in near][: max(0, 3 - len(near))]
        hint = f"did you mean {', '.join(repr(n) for n in near)}?" if near else None
        if not near and choices:
            shown = ", ".join(choices[:8]) + (", ..." if len(choices) > 8 else "")
            hint = f"choices: {shown}"
        super().__init__(f"unknown {kind} {name!r}", hint)
        self.name = name
        self.suggestions = near

    __str__ = DreamjaxError.__str__


_PART = re.compile(r"[^/.:]+")
_CUTOFF = 0.5


def nearest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The closest names to `name`, best first (case-insensitive).

    A choice is compared whole and by its runs of as many parts (split at ``/ . :``) as `name`
    has, so ``inception4c`` is closest to ``/inception4c/Concat_output_0`` (a part matches it
    exactly), not to ``/inception4e/...``. Ties keep the order of `choices`.
    """
    query = name.lower()
    width = max(1, len(_PART.findall(query)))
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(query)
    scored = []
    for i, choice in enumerate(dict.fromkeys(choices)):
        best = whole = _ratio(matcher, choice.lower())
        for part in _runs(choice.lower(), width):
            best = max(best, _ratio(matcher, part))
        if best >= _CUTOFF:
            scored.append((-best, -whole, i, choice))
    hits = [choice for *_, choice in sorted(scored)[:n]]
    # Prefix matches help with dotted names ("blocks.1" -> "blocks.10", "blocks.11").
    return hits or [c for c in dict.fromkeys(choices) if c.lower().startswith(query)][:n]


def _ratio(matcher: difflib.SequenceMatcher, text: str) -> float:
    matcher.set_seq1(text)
    if matcher.real_quick_ratio() < _CUTOFF or matcher.quick_ratio() < _CUTOFF:
        return 0.0
    return matcher.ratio()


def _runs(text: str, width: int) -> list[str]:
    """Every run of `width` consecutive parts of `text`, with the separators between them."""
    spans = [m.span() for m in _PART.finditer(text)]
    if len(spans) <= width:
        return []
    return [text[spans[i][0] : spans[i + width - 1][1]] for i in range(len(spans) - width + 1)]
