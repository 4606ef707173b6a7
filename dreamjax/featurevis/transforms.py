"""Transformation robustness: the network sees each picture padded, moved, scaled and turned at random.

A feature visualisation that survives small random transformations at every step keeps the
structure the network really responds to and loses the pixel-exact adversarial noise (Olah et
al., "Feature Visualization", Distill 2017; lucid's ``standard_transforms``: pad 12 with grey,
jitter 8, scale by 0.9..1.1, rotate by -10..10 degrees, jitter 4).

Here the chain is one bilinear resample per picture and step, of a random affine map (so the
picture is interpolated once, not three times): the network's canvas is the picture plus
``pad`` pixels of grey on every side, less ``jitter`` (lucid's canvas after its two crops), and
the picture sits in it shifted by up to ``jitter`` pixels, scaled by ``1 +- scale`` and turned
by up to ``rotate`` degrees about its centre. Every picture of a batch draws its own
transformation from its own key, so a picture does not depend on its batch neighbours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp

from ..errors import DreamjaxError

PAD_VALUE = 0.5  # lucid pads with mid grey


def _static(**kwargs):
    return field(metadata=dict(static=True), **kwargs)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Transforms:
    """Random transformations per step. ``pad`` and ``jitter`` (pixels) set the canvas shape and
    are static; ``scale`` (a fraction) and ``rotate`` (degrees) are runtime numbers."""

    scale: float = 0.1
    rotate: float = 10.0
    pad: int = _static(default=12)
    jitter: int = _static(default=6)

    def check(self) -> Transforms:
        """Raise a clear error for settings out of range; returns self. (Not ``__post_init__``:
        inside a compiled program the numbers are tracers.)"""
        if not (math.isfinite(self.scale) and 0 <= self.scale < 1):
            raise DreamjaxError(f"transform scale must be a fraction from 0 to below 1, got {self.scale}")
        if not (math.isfinite(self.rotate) and 0 <= self.rotate <= 180):
            raise DreamjaxError(f"transform rotation must be from 0 to 180 degrees, got {self.rotate}")
        if self.pad < 0 or self.jitter < 0:
            raise DreamjaxError(f"pad and jitter must be 0 or more pixels, got {self.pad} and {self.jitter}")
        return self

    def canvas(self, height: int, width: int) -> tuple[int, int]:
        """The shape the network sees for a ``height`` x ``width`` picture."""
        grow = 2 * (self.pad - self.jitter)
        return height + grow, width + grow


NO_TRANSFORMS = Transforms(scale=0.0, rotate=0.0, pad=0, jitter=0)


def _sample(picture: jax.Array, rows: jax.Array, cols: jax.Array) -> jax.Array:
    """Bilinear samples of ``picture`` ``[H, W, C]`` at fractional ``rows``/``cols``; grey outside.

    All four corners of every sample in one gather of whole pixels, so the gradient is one
    scatter: on XLA:CPU a third cheaper than a gather per corner, which was itself half the cost
    of ``jax.scipy.ndimage.map_coordinates`` (one gather per channel and corner).
    """
    height, width, channels = picture.shape
    # Pad by one grey pixel all round: every corner outside the picture reads the grey border.
    padded = jnp.pad(picture - PAD_VALUE, ((1, 1), (1, 1), (0, 0))).reshape(-1, channels)
    rows = jnp.clip(rows + 1, 0, height + 1)
    cols = jnp.clip(cols + 1, 0, width + 1)
    top = jnp.minimum(jnp.floor(rows), height)  # the last corner pair starts on the last real row
    left = jnp.minimum(jnp.floor(cols), width)
    dy, dx = rows - top, cols - left
    corner = top.astype(jnp.int32) * (width + 2) + left.astype(jnp.int32)
    index = jnp.stack([corner, corner + 1, corner + width + 2, corner + width + 3], axis=-1)
    weight = jnp.stack([(1 - dy) * (1 - dx), (1 - dy) * dx, dy * (1 - dx), dy * dx], axis=-1)
    corners = jnp.take(padded, index.reshape(-1), axis=0).reshape(*index.shape, channels)
    return jnp.einsum("hwk,hwkc->hwc", weight, corners) + PAD_VALUE


def random_view(picture: jax.Array, key: jax.Array, transforms: Transforms) -> jax.Array:
    """One picture ``[H, W, 3]`` as the network sees it this step, ``[*canvas, 3]``."""
    height, width = picture.shape[:2]
    canvas_h, canvas_w = transforms.canvas(height, width)
    shift_key, scale_key, turn_key = jax.random.split(key, 3)
    shift = jax.random.uniform(shift_key, (2,), minval=-transforms.jitter, maxval=transforms.jitter)
    scale = 1.0 + jax.random.uniform(scale_key, (), minval=-1.0, maxval=1.0) * transforms.scale
    angle = jnp.deg2rad(jax.random.uniform(turn_key, (), minval=-1.0, maxval=1.0) * transforms.rotate)
    # Canvas pixel p samples the picture at centre + R(-angle) (p - canvas centre - shift) / scale.
    y = jnp.arange(canvas_h, dtype=jnp.float32)[:, None] - (canvas_h - 1) / 2 - shift[0]
    x = jnp.arange(canvas_w, dtype=jnp.float32)[None, :] - (canvas_w - 1) / 2 - shift[1]
    cos, sin = jnp.cos(angle) / scale, jnp.sin(angle) / scale
    rows = cos * y - sin * x + (height - 1) / 2
    cols = sin * y + cos * x + (width - 1) / 2
    return _sample(picture, rows, cols)


def random_views(pictures: jax.Array, keys: jax.Array, transforms: Transforms | None) -> jax.Array:
    """``[B, H, W, 3]`` pictures, each transformed with its own key; unchanged when ``transforms`` is None."""
    if transforms is None:
        return pictures
    if min(transforms.canvas(*pictures.shape[1:3])) < 1:
        raise DreamjaxError(f"a jitter of {transforms.jitter} and pad of {transforms.pad} leave no canvas for "
                            f"{pictures.shape[2]}x{pictures.shape[1]} pictures")
    return jax.vmap(lambda p, k: random_view(p, k, transforms))(pictures, keys)
