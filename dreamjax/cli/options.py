"""The options ``dream``, ``zoom`` and ``bench`` share, defined once, and the argument types that
reject bad values at parse time with a message that says why."""

from __future__ import annotations

import argparse
import math

from ..ascent.limits import DEFAULT_TILE_SIZE, MAX_JITTER, MAX_OCTAVE_SCALE, MAX_OCTAVES, MAX_STEPS, SEED_RANGE
from ..ascent.objective_syntax import MAX_WEIGHT, usable_weight
from ..files.image import DEFAULT_MAX_PIXELS
from ..zoo import DEFAULT_MODEL


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


def layer_weight(text: str) -> tuple[str, float]:
    """``NAME`` or ``NAME:WEIGHT`` (a name may itself hold ':', as some ONNX value names do)."""
    name, sep, weight = text.rpartition(":")
    try:
        value = float(weight) if sep else None
    except ValueError:
        value = None
    if value is None:
        return text, 1.0
    if not usable_weight(value):
        raise argparse.ArgumentTypeError(f"weight in {text!r} must be finite, at most {MAX_WEIGHT:.2g} in size")
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


# One type per shared option, with the engine's own limits (DreamConfig checks the same).
octave_count = int_between(1, MAX_OCTAVES)
octave_scale = float_between(1.0, MAX_OCTAVE_SCALE)
step_count = int_between(1, MAX_STEPS)
jitter_pixels = int_between(0, MAX_JITTER)
seed_value = int_between(*SEED_RANGE)


def _default(help: str, default) -> str:
    return f"{help} (default {default})" if help else f"(default {default})"


def add_model_argument(p) -> None:
    """``MODEL``, the positional of the commands that describe one model (default: the zoo's)."""
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL, help=f"zoo name or .onnx path (default {DEFAULT_MODEL})")


def add_model_options(p, layer_help: str = "layer to amplify; repeat for several (see `dreamjax layers MODEL`)") -> None:
    p.add_argument("-m", "--model", default=DEFAULT_MODEL, help=_default("zoo name or .onnx path", DEFAULT_MODEL))
    p.add_argument("-l", "--layer", action="append", type=layer_weight, metavar="NAME[:WEIGHT]", help=layer_help)


def add_objective_options(p) -> None:
    """``--objective``, ``--class``, ``--guide``: what to amplify besides ``--layer`` (all add up)."""
    p.add_argument("--objective", action="append", type=objective_text, metavar="TERMS",
                   help="what to amplify, e.g. 'blocks.5:1.0,blocks.3[12]:0.5,class=tabby cat:2' "
                        "(grammar in `dreamjax dream --help`)")
    p.add_argument("--class", dest="classes", action="append", metavar="NAME",
                   help="amplify an ImageNet class: name, synonym or number, e.g. 'tabby cat'")
    p.add_argument("--guide", action="append", metavar="IMAGE",
                   help="amplify what the default layer sees in this image (other layers: --objective 'guide=IMAGE@LAYER')")


def add_ascent_options(p, *, octaves: int, steps: int, steps_help: str, seed_help: str = "") -> None:
    """The gradient-ascent settings (``DreamConfig``), with the engine's own limits."""
    p.add_argument("--octaves", type=octave_count, default=octaves, help=_default("image scales, smallest first", octaves))
    p.add_argument("--octave-scale", type=octave_scale, default=1.4, help=_default("size ratio between octaves", 1.4))
    p.add_argument("--steps", type=step_count, default=steps, help=_default(steps_help, steps))
    p.add_argument("--step-size", type=positive_float, default=0.01, help=_default("step of the per-image normalised gradient", 0.01))
    p.add_argument("--jitter", type=jitter_pixels, default=32, help=_default("max random shift in pixels", 32))
    p.add_argument("--seed", type=seed_value, default=0, help=_default(seed_help, 0))
    p.add_argument("--tile", type=non_negative_int, default=DEFAULT_TILE_SIZE, metavar="SIZE",
                   help=f"octaves with a side over SIZE run in tiles of SIZE (default {DEFAULT_TILE_SIZE}; 0: never)")


def add_input_options(p) -> None:
    p.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS,
                   help=_default("refuse bigger input images (decompression-bomb guard)", f"{DEFAULT_MAX_PIXELS:,}"))
    p.add_argument("--no-cache", action="store_true", help="don't use the persistent compilation cache")
    p.add_argument("--exact-shapes", action="store_true",
                   help="dream on each octave's own size instead of a padded canvas from the size ladder (compiles more)")
