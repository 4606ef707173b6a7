"""Big images in tiles: the network only ever sees a batch of fixed-size tiles.

Tiles overlap. Each tile contributes the gradient of its *core* only: the part at least
``halo`` pixels away from every cut edge (the true image border is not a cut, so border tiles
reach it). Every pixel therefore gets its gradient from exactly one tile, computed with at least
``halo`` pixels of real context around it. For a network whose gradient reaches no further than
the halo this is the whole-image gradient exactly (tests check that); for deep layers with wider
receptive fields it is close, and a random offset of the tile grid per step (a roll of the whole
image, as in the TensorFlow tutorial's tiled gradient) keeps the remaining seams moving so they
never settle into the picture. The gradient is normalised over the whole image afterwards, so
tiles never get their own brightness.

Tiles of all images in a batch share one batch axis. A ``lax.fori_loop`` walks over chunks of
``batch`` tiles, so an octave is still one compiled program that traces the network once, and
memory holds a few copies of the image plus one chunk's activations, whatever the image size.

Where the tiles lie is a runtime argument (:class:`TileLayout`); the program is compiled for
the tile shape, the tiles per call and the most chunks its canvas can need (:class:`TileShape`).
So every picture on the same canvas shares one program (see :mod:`.buckets`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import DreamjaxError
from .draws import integers
from .limits import DEFAULT_TILE_SIZE
from .region import Region, roll

# Pixels the network sees per call when the tile batch is left to us (4 tiles of 512, 1 of 1024).
PIXELS_PER_CALL = 1024 * 1024
DEFAULT_STRIDE = 32


@dataclass(frozen=True)
class TileConfig:
    """When and how to tile.

    ``size``: tile side in pixels; an octave with a side longer than this is tiled, 0 turns
    tiling off. ``halo``: context kept around each tile's core. ``batch``: tiles per network
    call (0: as many as make about a megapixel).
    """

    size: int = DEFAULT_TILE_SIZE
    halo: int = 32
    batch: int = 0

    def __post_init__(self):
        if self.size < 0 or self.halo < 0 or self.batch < 0:
            raise DreamjaxError(f"tile size, halo and batch must be >= 0, got {self}")


@dataclass(frozen=True)
class TilePlan:
    """Where the tiles of one octave lie; static (hashable) so it is baked into the program.

    ``starts[t] = (image, y, x)`` is tile t's top-left corner; ``cores[t] = (y0, y1, x0, x1)``
    its core in tile coordinates; ``regions[t] = (top, left, height, width)`` the part of the
    tile that shows the picture (a tile can be taller or wider than the picture: on a shared
    canvas its shape is the canvas's). Padding tiles (to fill the last chunk) have an empty core.
    """

    tile: tuple[int, int]
    starts: tuple[tuple[int, int, int], ...]
    cores: tuple[tuple[int, int, int, int], ...]
    batch: int
    shift: tuple[int, int]  # largest random grid offset per axis (used when the dream jitters)
    regions: tuple[tuple[int, int, int, int], ...] = ()

    @property
    def chunks(self) -> int:
        return len(self.starts) // self.batch

    @property
    def real_tiles(self) -> int:
        return sum(1 for y0, y1, x0, x1 in self.cores if y1 > y0 and x1 > x0)

    def layout(self, chunks: int) -> TileLayout:
        """This plan as runtime arrays of ``chunks`` chunks."""
        if chunks < self.chunks:
            raise ValueError(f"a layout of {chunks} chunks cannot hold {self.chunks}")
        n, b = len(self.starts), self.batch
        starts = np.zeros((chunks * b, 3), np.int32)
        cores = np.zeros((chunks * b, 4), np.int32)
        regions = np.tile(np.asarray([0, 0, *self.tile], np.int32), (chunks * b, 1))  # padding: all of a tile
        starts[:n] = np.asarray(self.starts, np.int32)
        cores[:n] = np.asarray(self.cores, np.int32)
        regions[:n] = np.asarray(self.regions, np.int32)
        return TileLayout(starts.reshape(chunks, b, 3), cores.reshape(chunks, b, 4), regions.reshape(chunks, b, 4),
                          np.int32(self.chunks), np.asarray(self.shift, np.int32))


@dataclass(frozen=True)
class TileShape:
    """What a tiled program is compiled for: tile size, tiles per network call, most chunks."""

    tile: tuple[int, int]
    batch: int
    chunks: int


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class TileLayout:
    """Where the tiles lie (runtime arrays): ``starts [chunks, batch, 3]`` (image, y, x) in the
    canvas, ``cores`` and ``regions [chunks, batch, 4]`` in tile coordinates, ``chunks`` in use,
    ``shift`` the largest random grid offset per axis."""

    starts: jax.Array
    cores: jax.Array
    regions: jax.Array
    chunks: jax.Array
    shift: jax.Array


def model_stride(model) -> int:
    """The network's total stride, read from its layers' sizes at the native input size.

    Tile corners sit on multiples of it, so tiles see the same sampling grid as the whole image.
    """
    native = model.input_spec.native_size
    strides = [native[0] // layer.spatial[0] for layer in model.layers if layer.spatial and layer.spatial[0]]
    stride = max(strides, default=DEFAULT_STRIDE)
    return 1 << max(0, stride - 1).bit_length()  # a power of two at least as big


def axis_layout(length: int, tile: int, halo: int, align: int) -> tuple[list[int], list[tuple[int, int]]]:
    """Tile starts along one axis and each tile's core as absolute ``(begin, end)``.

    Starts are multiples of ``align`` (except the last, which ends at the border); neighbours
    overlap by at least ``2 * halo`` and the cores split each overlap in the middle.
    """
    if length <= tile:
        return [0], [(0, length)]
    stride = tile - 2 * halo - align  # worst-case distance between aligned starts stays <= tile - 2*halo
    if stride < 1:
        raise DreamjaxError(
            f"tiles of {tile} pixels are too small for a halo of {halo} and alignment {align}",
            f"use --tile {2 * halo + 2 * align} or more",
        )
    n = 1 + math.ceil((length - tile) / stride)
    starts = [(round(i * (length - tile) / (n - 1)) // align) * align for i in range(n - 1)] + [length - tile]
    cuts = [0] + [(starts[i + 1] + starts[i] + tile) // 2 for i in range(n - 1)] + [length]
    return starts, list(zip(cuts[:-1], cuts[1:]))


def plan_tiles(shape: tuple[int, int], images: int, config: TileConfig, align: int = DEFAULT_STRIDE,
               canvas: tuple[int, int] | None = None, offset: tuple[int, int] = (0, 0)) -> TilePlan | None:
    """The tiling of an octave of ``shape`` for ``images`` images, or None if it runs whole.

    Tiles are ``config.size`` square, or a ``canvas`` side where it is shorter (default: the
    picture's own); the picture lies at ``offset`` in the canvas (only along a side that one
    tile covers whole). When the dream jitters, the grid moves by up to one tile core per step.
    """
    height, width = shape
    if config.size == 0 or max(height, width) <= config.size:
        return None
    canvas = canvas or shape
    th, tw = min(canvas[0], config.size), min(canvas[1], config.size)
    ys, ycores = _axis_tiles(height, th, offset[0], config, align)
    xs, xcores = _axis_tiles(width, tw, offset[1], config, align)
    starts, cores, regions = [], [], []
    for b in range(images):
        for (y, top, rows), (cy0, cy1) in zip(ys, ycores):
            for (x, left, cols), (cx0, cx1) in zip(xs, xcores):
                starts.append((b, y, x))
                cores.append((cy0, cy1, cx0, cx1))
                regions.append((top, left, rows, cols))
    batch = config.batch or max(1, PIXELS_PER_CALL // (th * tw))
    # Capped by the canvas's tile count, not the picture's: every picture on a canvas calls alike.
    most = images * len(axis_layout(canvas[0], config.size, config.halo, align)[0]) * len(
        axis_layout(canvas[1], config.size, config.halo, align)[0])
    batch = min(batch, most)
    padding = -len(starts) % batch
    starts += [(0, 0, 0)] * padding
    cores += [(0, 0, 0, 0)] * padding
    regions += [(0, 0, th, tw)] * padding
    shift = (max(1, th - 2 * config.halo), max(1, tw - 2 * config.halo))
    return TilePlan((th, tw), tuple(starts), tuple(cores), batch, shift, tuple(regions))


def _axis_tiles(length: int, tile: int, offset: int, config: TileConfig, align: int):
    """Along one side: per tile (canvas start, first picture row in it, picture rows in it), and
    its core in tile coordinates."""
    starts, cores = axis_layout(length, config.size, config.halo, align)
    if len(starts) > 1 and offset:
        raise ValueError("a picture cut into several tiles along a side must lie at offset 0 there")
    # One tile covering the side: it starts at the canvas's edge and holds the picture at ``offset``.
    tiles = [(s, offset, min(tile - offset, length - s)) if len(starts) == 1 else (s, 0, min(tile, length - s)) for s in starts]
    shifted = [(a - s + offset, b - s + offset) for s, (a, b) in zip(starts, cores)]
    return tiles, shifted


def tiled_gradient(score: Callable[[jax.Array, Region], jax.Array], x: jax.Array, shape: TileShape,
                   layout: TileLayout, bits: jax.Array, region: Region) -> jax.Array:
    """Gradient of ``score`` (a scalar sum over a batch of images, given their picture regions)
    w.r.t. ``x`` ``[B, H, W, C]``, computed tile by tile as laid out; traced inside the octave
    program. Zero outside the picture. ``bits`` (uint32 ``[2]``, :mod:`.draws`) place the grid this step.

    For objectives that are means over positions (layer energy, channels) this equals the
    whole-image gradient wherever the halo covers the network's reach; objectives of the whole
    picture (a class logit) act on each tile as if it were a picture of its own.
    """
    channels = x.shape[-1]
    th, tw = shape.tile
    shift = integers(bits, 0, layout.shift)  # a shift bound of 0 keeps the grid fixed
    x = roll(x, region, shift)
    starts, cores, regions = jnp.asarray(layout.starts), jnp.asarray(layout.cores), jnp.asarray(layout.regions)
    rows = jnp.arange(th)[None, :, None]
    cols = jnp.arange(tw)[None, None, :]

    def corner(s):
        return (s[0], s[1], s[2], 0)

    area = (region.height * region.width).astype(jnp.float32)

    def add_chunk(c, grad):
        st, co, shown = starts[c], cores[c], regions[c]
        tiles = jax.vmap(lambda s: jax.lax.dynamic_slice(x, corner(s), (1, th, tw, channels))[0])(st)
        g = jax.grad(score)(tiles, Region(shown, shape.tile))
        inside = (
            (rows >= co[:, 0, None, None]) & (rows < co[:, 1, None, None])
            & (cols >= co[:, 2, None, None]) & (cols < co[:, 3, None, None])
        )
        # A tile's layer means run over fewer positions than the picture's: scale back by area, so
        # a mean-over-positions objective gets the whole-picture gradient.
        g = jnp.where(inside[..., None], g * ((shown[:, 2] * shown[:, 3]) / area)[:, None, None, None], 0.0)

        def add_tile(j, grad):  # cores are disjoint, so adding writes each pixel once
            here = jax.lax.dynamic_slice(grad, corner(st[j]), (1, th, tw, channels))
            return jax.lax.dynamic_update_slice(grad, here + g[j][None], corner(st[j]))

        return jax.lax.fori_loop(0, shape.batch, add_tile, grad)

    grad = jax.lax.fori_loop(0, layout.chunks, add_chunk, jnp.zeros_like(x))
    return roll(grad, region, -shift) * region.mask()
