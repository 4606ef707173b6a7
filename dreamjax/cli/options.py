"""Argument types that reject bad values at parse time, with a message that says why."""

from __future__ import annotations

import argparse
import math


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def int_between(low: int, high: int):
    """An argument type for whole numbers from ``low`` to ``high`` (the engine's own limits)."""

    def parse(text: str) -> int:
        value = _whole_number(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value:,}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,}, got {value:,}")
        return value

    parse.__name__ = f"whole number from {low} to {high}"
    return parse


def float_between(low: float, high: float):
    """An argument type for finite numbers from ``low`` to ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be a number from {low} to {high}, got {text}")
        return value

    parse.__name__ = f"number from {low} to {high}"
    return parse


def non_negative_int(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def at_least_one_float(text: str) -> float:
    value = positive_float(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def layer_weight(text: str) -> tuple[str, float]:
    """``NAME`` or ``NAME:WEIGHT`` (a name may itself hold ':', as some ONNX value names do)."""
    name, sep, weight = text.rpartition(":")
    try:
        value = float(weight) if sep else None
    except ValueError:
        value = None
    if value is None:
        return text, 1.0
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"weight in {text!r} must be finite")
    if not name:
        raise argparse.ArgumentTypeError(f"missing layer name in {text!r}")
    return name, value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number, 0 or more, got {text}")
    return value


def objective_text(text: str) -> tuple:
    """The compact objective syntax, checked when the options are read (names are checked later)."""
    from ..ascent.objective_syntax import ObjectiveSyntaxError, parse_objective

    try:
        return parse_objective(text)
    except ObjectiveSyntaxError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def size_text(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` as ``(height, width)``."""
    from ..errors import DreamjaxError
    from ..files.starts import parse_size

    try:
        return parse_size(text)
    except DreamjaxError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def colour_text(text: str) -> str:
    """A colour PIL understands; kept as written (it names the output file)."""
    from ..errors import DreamjaxError
    from ..files.starts import parse_colour

    try:
        parse_colour(text)
    except DreamjaxError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text
