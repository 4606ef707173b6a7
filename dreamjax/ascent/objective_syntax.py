"""The compact text form of an objective, as given to ``dreamjax dream --objective``.

An objective is a comma-separated list of terms; each term has an optional weight after a
colon (default 1). Whitespace around the punctuation is ignored. ::

    objective := term ("," term)*
    term      := target [":" weight]
    target    := layer                            energy of a whole layer (mean squared activation)
               | layer "[" channels "]"           mean activation of some channels of a layer
               | layer "[" channel "]@" position  one neuron: a channel at one spatial position
               | "class=" text                    a class logit, by name, synonym or number
               | "guide=" text ["@" layer]        a guide image: amplify what the layer sees in it
    channels  := span ("," span)*        span := INT | INT "-" INT  (both ends included)
    position  := "centre" | "center" | "(" X "," Y ")"  X, Y in [0, 1] across the width and height
    weight    := a finite decimal number, may be negative, e.g. 2, -0.5, 1e-3 (at most 3.4e38 in size)

Examples::

    blocks.9                                   the default look, at one layer
    blocks.5:1.0,blocks.3[12]:0.5              a layer plus half of one channel of another
    blocks.3[0-7,40]                           the mean of channels 0..7 and 40
    blocks.9[100]@centre                       one neuron in the middle of the picture
    class=tabby cat:2,blocks.5:0.5             a class (case-insensitive; any of its synonyms)
    guide=flowers.jpg@blocks.9                 what blocks.9 sees in flowers.jpg

Layer names are written bare when they consist of letters, digits and ``_ . / -``; any other
name is quoted with ``"`` or ``'`` (a backslash escapes the quote or a backslash). A class name or
guide path is taken as written up to the next ``,`` or ``:`` (for a guide also ``@``), with the
outer whitespace removed; quote it when it holds one of those characters.

This module only reads and writes the text; :func:`dreamjax.ascent.objectives.build_objective`
resolves the terms against a model (unknown layers, classes and channels are reported there).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Union

from ..errors import DreamjaxError

CENTRE = (0.5, 0.5)
_BARE_LAYER = re.compile(r"[A-Za-z0-9_./\-]+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INT = re.compile(r"\d+")
_KEYWORDS = ("class", "guide")
MAX_CHANNELS = 65_536  # per term; far above any real layer's width
MAX_WEIGHT = 3.4e38  # about float32's largest number: a larger weight turns every score into inf


def usable_weight(value: float) -> bool:
    """A term weight the float32 programs can use: finite, and finite once it is float32."""
    return math.isfinite(value) and abs(value) <= MAX_WEIGHT


@dataclass(frozen=True)
class LayerTerm:
    """Energy of ``layer``; with ``channels``, their mean; with a ``position`` too, one neuron.

    ``position`` is ``(x, y)``, fractions of the activation's width and height (0.5 = centre).
    """

    layer: str
    channels: tuple[int, ...] = ()
    position: tuple[float, float] | None = None
    weight: float = 1.0


@dataclass(frozen=True)
class ClassTerm:
    """A class logit: ``name`` is a class name, one of its synonyms, or its number."""

    name: str
    weight: float = 1.0


@dataclass(frozen=True)
class GuideTerm:
    """A guide image file; ``layer`` None means the model's default layer."""

    path: str
    layer: str | None = None
    weight: float = 1.0


Term = Union[LayerTerm, ClassTerm, GuideTerm]


class ObjectiveSyntaxError(DreamjaxError):
    """Text that is not an objective; ``position`` is the 0-based index of the bad part."""

    def __init__(self, text: str, position: int, problem: str):
        self.text, self.position, self.problem = text, position, problem
        shown = f"{text[:position]} >>> {text[position:]}" if text else "(empty)"
        super().__init__(
            f"bad objective at column {position + 1}: {problem}: {shown}",
            "terms look like LAYER, LAYER[3,7-9], LAYER[3]@centre, class=NAME, guide=FILE@LAYER, "
            "each with an optional :WEIGHT, separated by commas (see `dreamjax dream --help`)",
        )


def parse_objective(text: str) -> tuple[Term, ...]:
    """Read the compact form into terms; raise ObjectiveSyntaxError pointing at the bad part."""
    return _Parser(text).objective()


def format_objective(terms: tuple[Term, ...] | list[Term]) -> str:
    """The compact form of ``terms``; ``parse_objective(format_objective(t)) == tuple(t)``."""
    return ",".join(format_term(term) for term in terms)


def format_term(term: Term) -> str:
    if isinstance(term, ClassTerm):
        target = "class=" + _text(term.name, ",:")
    elif isinstance(term, GuideTerm):
        target = "guide=" + _text(term.path, ",:@") + (f"@{_layer(term.layer)}" if term.layer is not None else "")
    else:
        target = _layer(term.layer)
        if term.channels:
            target += f"[{_spans(term.channels)}]"
        if term.position == CENTRE:
            target += "@centre"
        elif term.position is not None:
            x, y = term.position
            target += f"@({x!r},{y!r})"
    return target if term.weight == 1.0 else f"{target}:{term.weight!r}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _layer(name: str) -> str:
    return name if _BARE_LAYER.fullmatch(name) else _quote(name)


def _text(text: str, stops: str) -> str:
    bare = text and text == text.strip() and text[0] not in "\"'" and not any(c in text for c in stops)
    return text if bare else _quote(text)


def _spans(channels: tuple[int, ...]) -> str:
    """Runs of three or more consecutive channels are written as a range."""
    parts, i = [], 0
    while i < len(channels):
        j = i
        while j + 1 < len(channels) and channels[j + 1] == channels[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{channels[i]}-{channels[j]}")
            i = j + 1
        else:
            parts.append(str(channels[i]))
            i += 1
    return ",".join(parts)


class _Parser:
    """Recursive descent over the text; every error names the column it stopped at."""

    def __init__(self, text: str):
        if not isinstance(text, str):
            raise DreamjaxError(f"an objective must be text, got {type(text).__name__}")
        self.text, self.pos = text, 0

    def fail(self, problem: str, at: int | None = None):
        raise ObjectiveSyntaxError(self.text, self.pos if at is None else at, problem)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end"
            self.fail(f"expected {char!r} {what}, found {found}")
        self.pos += 1

    def objective(self) -> tuple[Term, ...]:
        if not self.text.strip():
            self.fail("the objective is empty")
        terms = [self.term()]
        while self.peek() == ",":
            self.pos += 1
            terms.append(self.term())
        if self.peek():
            self.fail(f"unexpected {self.peek()!r}; terms are separated by ','")
        return tuple(terms)

    def term(self) -> Term:
        start = self.pos
        self.skip_space()
        keyword = re.compile(r"([A-Za-z_]+)\s*=").match(self.text, self.pos)
        if keyword:
            word = keyword.group(1)
            if word.lower() not in _KEYWORDS:
                self.fail(f"unknown term kind {word!r} (known: class=, guide=)")
            self.pos = keyword.end()
            if word.lower() == "class":
                name = self.free_text(",:", "a class name")
                return ClassTerm(name, self.weight())
            path = self.free_text(",:@", "a guide image path")
            layer = None
            if self.peek() == "@":
                self.pos += 1
                layer = self.layer_name()
            return GuideTerm(path, layer, self.weight())
        if self.peek() in ("", ",", ":"):
            self.fail("expected a layer name, class= or guide=", at=max(start, self.pos))
        layer = self.layer_name()
        channels: tuple[int, ...] = ()
        position = None
        if self.peek() == "[":
            channels = self.channel_list()
            if self.peek() == "@":
                if len(channels) != 1:
                    self.fail("a neuron (@position) takes exactly one channel")
                self.pos += 1
                position = self.position()
        elif self.peek() == "@":
            self.fail("a neuron needs its channel first, as in LAYER[3]@centre")
        return LayerTerm(layer, channels, position, self.weight())

    def weight(self) -> float:
        if self.peek() != ":":
            return 1.0
        self.pos += 1
        self.skip_space()
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            self.fail("expected a number after ':' (the term's weight)")
        value = float(match.group())
        if not usable_weight(value):
            self.fail(f"the weight must be a finite number, at most {MAX_WEIGHT:.2g} in size")
        self.pos = match.end()
        return value

    def layer_name(self) -> str:
        self.skip_space()
        if self.peek() in ("'", '"'):
            return self.quoted()
        match = _BARE_LAYER.match(self.text, self.pos)
        if not match:
            self.fail("expected a layer name (quote names with characters other than letters, digits, _ . / -)")
        self.pos = match.end()
        return match.group()

    def quoted(self) -> str:
        quote, start = self.text[self.pos], self.pos
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
            elif char == quote:
                self.pos += 1
                if not out:
                    self.fail("empty quoted name", at=start)
                return "".join(out)
            else:
                out.append(char)
                self.pos += 1
        self.fail(f"unterminated quote {quote}", at=start)

    def free_text(self, stops: str, what: str) -> str:
        self.skip_space()
        if self.peek() in ("'", '"'):
            return self.quoted()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stops:
            self.pos += 1
        text = self.text[start : self.pos].strip()
        if not text:
            self.fail(f"expected {what}", at=start)
        return text

    def integer(self) -> int:
        self.skip_space()
        match = _INT.match(self.text, self.pos)
        if not match:
            self.fail("expected a channel number (0 or more)")
        if len(match.group()) > 9:  # int() of thousands of digits raises; no layer is that wide
            self.fail(f"channel number {match.group()[:12]}... is too large")
        self.pos = match.end()
        return int(match.group())

    def channel_list(self) -> tuple[int, ...]:
        self.expect("[", "to open the channel list")
        channels: list[int] = []
        seen: set[int] = set()
        while True:
            at = self.pos
            first = self.integer()
            last = first
            if self.peek() == "-":
                self.pos += 1
                last = self.integer()
                if last < first:
                    self.fail(f"channel range {first}-{last} runs backwards", at=at)
            # Bounded before expanding: "conv[0-999999999]" must not build a billion-entry list.
            if len(channels) + last - first + 1 > MAX_CHANNELS:
                self.fail(f"more than {MAX_CHANNELS:,} channels listed; no layer has that many", at=at)
            for channel in range(first, last + 1):
                if channel in seen:
                    self.fail(f"channel {channel} is listed twice", at=at)
                seen.add(channel)
                channels.append(channel)
            if self.peek() != ",":
                break
            self.pos += 1
        self.expect("]", "to close the channel list")
        return tuple(channels)

    def position(self) -> tuple[float, float]:
        self.skip_space()
        word = re.compile(r"[A-Za-z]+").match(self.text, self.pos)
        if word:
            if word.group().lower() not in ("centre", "center"):
                self.fail(f"unknown position {word.group()!r}; use centre or (X,Y)")
            self.pos = word.end()
            return CENTRE
        self.expect("(", "to open the position (X,Y), or the word centre")
        x = self.fraction()
        self.expect(",", "between X and Y")
        y = self.fraction()
        self.expect(")", "to close the position")
        return (x, y)

    def fraction(self) -> float:
        self.skip_space()
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            self.fail("expected a number from 0 to 1")
        value = float(match.group())
        if not 0.0 <= value <= 1.0:
            self.fail(f"positions are fractions of the width and height, from 0 to 1; got {match.group()}")
        self.pos = match.end()
        return value
