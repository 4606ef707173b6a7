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

    Suggestions come from ``choices`` and the pools in ``more`` (names a model resolves but
    does not list, say): the closest first, and of equally close names those of ``choices``,
    then of each pool in turn.
    """

    def __init__(self, kind: str, name: str, choices: Iterable[str], more: Sequence[Iterable[str]] = ()):
        choices = list(choices)
        near = nearest(name, choices, pools=more)
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
_POOL_PENALTY = 0.1
_PREFIX = 0.95


def nearest(name: str, choices: Iterable[str], n: int = 3, pools: Sequence[Iterable[str]] = ()) -> list[str]:
    """The closest names to `name`, best first (case-insensitive).

    A choice is compared whole and by its runs of as many parts (split at ``/ . :``) as `name`
    has, so ``inception4c`` is closest to ``/inception4c/Concat_output_0`` (a part matches it
    exactly), not to ``/inception4e/...``. Names in `pools` count as a little further
    (``_POOL_PENALTY`` per pool), so `choices` come first unless a pooled name is clearly
    closer; equally close names keep their order.
    """
    query = name.lower()
    width = max(1, len(_PART.findall(query)))
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(query)
    tier: dict[str, int] = {}  # each name once, from the first pool that has it
    for t, pool in enumerate((choices, *pools)):
        for c in pool:
            tier.setdefault(c, t)
    candidates = list(tier)
    scored = []
    for i, choice in enumerate(candidates):
        best = whole = _ratio(matcher, choice.lower())
        for part in _runs(choice.lower(), width):
            best = max(best, _ratio(matcher, part))
        if choice.lower().startswith(query):  # the start of a name: "blocks.1" -> "blocks.10"
            best = max(best, _PREFIX)
        if best >= _CUTOFF:
            scored.append((_POOL_PENALTY * tier[choice] - best, tier[choice], -whole, i, choice))
    return [choice for *_, choice in sorted(scored)[:n]]


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
