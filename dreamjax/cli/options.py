"""Argument types that reject bad values at parse time, with a message that says why."""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
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
