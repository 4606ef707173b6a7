"""Shape buckets: octave canvases snap to a small ladder of sizes, so many photos share programs.

A compiled octave program is specialised to its canvas shape. Without buckets, every photo size
compiles its own programs (a folder of 6 sizes x 4 octaves: 24 programs, about 2 s each on a
laptop CPU), while one ascent step of a 450x300 picture takes about 20 ms. So the canvas of an
octave is the smallest *rung* of a ladder that holds it, the picture is padded into it, and
photos whose octaves land on the same rungs share every program.

The ladder, per side, in units of the network's total stride ``g`` (32 for EfficientNet-Lite)::

    g, 2g, 3g, ..., 16g,  18g, 20g, ..., 32g,  36g, 40g, ..., 64g,  72g, ...

For EfficientNet-Lite that is 32, 64, ..., 256, 288, 320, ..., 512, 576, 640, ..., 1024, 1152, ...
Why these rungs:

- Multiples of the stride: every layer's grid then covers the canvas exactly, so the positions
  of the picture in each layer's activation map are whole cells (see :mod:`.region`).
- Eight rungs per doubling above ``8g``: neighbouring rungs differ by at most 12.5%, so a side
  is padded by at most 12.5% (about 6% on average, 10-12% of the pixels). A step costs about
  its pixel count, while a program costs about 100 steps of a 450x300 picture to build; coarser
  rungs would share more programs but cost more per step, finer ones the reverse.
- Below ``8g`` every multiple of ``g``: small octaves are cheap to step either way.

The picture sits near the top-left of its canvas; the rest is filled with the picture mirrored
at its edges (symmetric, period twice the picture, so any pad width works), which looks like
more of the picture to the network. For networks that pad like TensorFlow's "SAME" (the zoo's),
each strided layer samples its input on a grid that depends on the parity of that input's size,
so a picture at the canvas's corner would be sampled half a step off at some layers and dream
differently everywhere. The picture is therefore placed at the offset (0 to ``g - 1`` rows and
columns) that keeps every layer's grid where it lies on the picture alone (:func:`grid_offset`):
then only the border, where the network sees mirrored pixels instead of zeros, differs from an
exact canvas. The objective and the gradient only count the real pixels,
and the pad is filled again from the real pixels on every step (:mod:`.region`). Big images
keep using tiles (:mod:`.tiling`) of a shape fixed by the canvas; the tile layout is a runtime
argument, so photos whose tiled octaves land on the same rungs share programs.

``exact_shapes`` turns buckets off: every canvas is its octave's own size (one program per size).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

RUNGS_PER_DOUBLING = 8


def rung(length: int, granularity: int) -> int:
    """The smallest ladder size that holds ``length`` pixels (see the module docstring)."""
    g = max(1, granularity)
    units = -(-length // g)
    step = 1  # 1..16 units by 1, 16..32 by 2, 32..64 by 4, ...: 8 rungs per doubling from 8 units up
    while units > 2 * RUNGS_PER_DOUBLING * step:
        step *= 2
    return -(-units // step) * step * g


@functools.cache
def ladder(granularity: int, up_to: int = 8192) -> tuple[int, ...]:
    """Every rung up to ``up_to`` pixels, for the docs and tests."""
    return tuple(sorted({rung(n, granularity) for n in range(1, up_to + 1)}))


@dataclass(frozen=True)
class Canvas:
    """Where a picture of ``size`` lies in a canvas of ``shape``: at ``offset`` (top, left)."""

    shape: tuple[int, int]
    size: tuple[int, int]
    offset: tuple[int, int] = (0, 0)

    @staticmethod
    def exact(size: tuple[int, int]) -> Canvas:
        return Canvas(tuple(size), tuple(size))

    @staticmethod
    def bucket(size: tuple[int, int], granularity: int, same_padding: bool = False) -> Canvas:
        """The smallest ladder canvas for a picture of ``size`` (on the network's grid, see above)."""
        offset = tuple(grid_offset(n, granularity) for n in size) if same_padding else (0, 0)
        shape = tuple(rung(n + o, granularity) for n, o in zip(size, offset))
        return Canvas(shape, tuple(size), offset)

    @property
    def padded_fraction(self) -> float:
        """Share of the canvas that is padding (0 for an exact canvas)."""
        return 1.0 - (self.size[0] * self.size[1]) / (self.shape[0] * self.shape[1])

    def region(self) -> np.ndarray:
        """``[top, left, height, width]`` as int32: the runtime argument of the octave program."""
        return np.asarray([*self.offset, *self.size], np.int32)

    def pad(self, images: np.ndarray) -> np.ndarray:
        """``[B, h, w, C]`` pictures of ``size`` into ``[B, H, W, C]`` canvases, mirrored around."""
        rows = mirror_index(self.shape[0], self.offset[0], self.size[0])
        cols = mirror_index(self.shape[1], self.offset[1], self.size[1])
        return np.ascontiguousarray(images[:, rows][:, :, cols])

    def crop(self, canvases: np.ndarray) -> np.ndarray:
        (top, left), (h, w) = self.offset, self.size
        return canvases[:, top : top + h, left : left + w]


def grid_offset(length: int, stride: int) -> int:
    """Rows before a picture of ``length`` rows that keep "SAME" stride-2 layers on its grid.

    A stride-2 "SAME" layer centres its outputs on input rows ``2i + 1`` of an even input and
    ``2i`` of an odd one. The canvas is a multiple of ``stride``, so even at each of the
    ``log2(stride)`` strided layers; the picture's input to layer ``l`` has
    ``ceil(length / 2**l)`` rows. Working back from an offset of 0 at the last layer, an odd
    input at layer ``l`` needs one more row before it there: ``o_l = 2 * o_(l+1) + parity``.
    """
    offset, layers = 0, max(0, stride - 1).bit_length()
    for layer in reversed(range(layers)):
        offset = 2 * offset + (-(-length // 2**layer)) % 2
    return offset


def mirror_index(length: int, start: int, size: int) -> np.ndarray:
    """For each of ``length`` canvas positions, which of the picture's ``size`` pixels it shows,
    for a picture placed at ``start``.

    Inside, itself; outside, the picture mirrored at its edges (edge pixels repeated, as
    ``numpy.pad(mode="symmetric")``), repeating with period ``2 * size`` for wide pads.
    """
    t = (np.arange(length) - start) % (2 * size)
    return np.where(t < size, t, 2 * size - 1 - t).astype(np.int32)
