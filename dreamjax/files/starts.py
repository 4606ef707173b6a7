"""Pictures to start a dream from when there is no photo: noise, or a flat colour.

Both are float32 ``[H, W, 3]`` in ``[0, 1]`` and depend only on their arguments (and seed).
A flat colour gets a faint seeded noise on top (invisible, 1/100 of the range by default):
on a perfectly flat picture every interior position sees the same input, so patterns could
only grow in from the borders.
"""

from __future__ import annotations

import re

import numpy as np
from PIL import ImageColor

from ..errors import DreamjaxError

MAX_SIDE = 16384


def parse_size(text: str) -> tuple[int, int]:
    """``"WIDTHxHEIGHT"`` (or one number for a square) as ``(height, width)``."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX×]\s*(\d+))?\s*", text)
    if not match:
        raise DreamjaxError(f"bad size {text!r}", "write WIDTHxHEIGHT, e.g. 512x512, or one number for a square")
    width = int(match.group(1))
    height = int(match.group(2) or width)
    _check_size((height, width))
    return height, width


def parse_colour(text: str) -> tuple[float, float, float]:
    """A CSS colour (``#808080``, ``#888``, ``grey``, ``rgb(10,20,30)``) as RGB in ``[0, 1]``."""
    try:
        rgb = ImageColor.getrgb(text.strip())
    except ValueError:
        raise DreamjaxError(f"unknown colour {text!r}", "use #RRGGBB, #RGB, a CSS name such as grey, or rgb(R,G,B)") from None
    return tuple(c / 255.0 for c in rgb[:3])


def _check_size(size: tuple[int, int]) -> None:
    h, w = size
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise DreamjaxError(f"size {w}x{h} is out of range", f"each side must be from 1 to {MAX_SIDE} pixels")


def noise_image(size: tuple[int, int], seed: int = 0, amplitude: float = 0.1, mean: float = 0.5) -> np.ndarray:
    """Mid grey plus uniform noise in ``±amplitude``, as the original notebook's ``img_noise``.

    ``size`` is ``(height, width)``.
    """
    _check_size(size)
    if not (0 <= amplitude <= 0.5 and 0 <= mean <= 1):
        raise DreamjaxError(f"noise amplitude must be in [0, 0.5] and mean in [0, 1], got {amplitude}, {mean}")
    rng = np.random.default_rng(seed)
    noise = rng.uniform(-amplitude, amplitude, size=(*size, 3))
    return np.clip(mean + noise, 0.0, 1.0).astype(np.float32)


def colour_image(size: tuple[int, int], colour: str | tuple[float, float, float], seed: int = 0, noise: float = 0.01) -> np.ndarray:
    """A flat colour (a CSS colour string or RGB in ``[0, 1]``) with faint seeded noise."""
    _check_size(size)
    rgb = np.asarray(parse_colour(colour) if isinstance(colour, str) else colour, np.float32)
    if rgb.shape != (3,) or not np.all((rgb >= 0) & (rgb <= 1)):
        raise DreamjaxError(f"a colour is three numbers in [0, 1], got {colour!r}")
    rng = np.random.default_rng(seed)
    image = rgb + rng.uniform(-noise, noise, size=(*size, 3))
    return np.clip(image, 0.0, 1.0).astype(np.float32)
