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
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import DreamjaxError

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

    size: int = 1024
    halo: int = 32
    batch: int = 0

    def __post_init__(self):
        if self.size < 0 or self.halo < 0 or self.batch < 0:
            raise DreamjaxError(f"tile size, halo and batch must be >= 0, got {self}")


@dataclass(frozen=True)
class TilePlan:
    """Where the tiles of one octave lie; static (hashable) so it is baked into the program.

    ``starts[t] = (image, y, x)`` is tile t's top-left corner; ``cores[t] = (y0, y1, x0, x1)``
    its core in tile coordinates. Padding tiles (to fill the last chunk) have an empty core.
    """

    tile: tuple[int, int]
    starts: tuple[tuple[int, int, int], ...]
    cores: tuple[tuple[int, int, int, int], ...]
    batch: int
    shift: tuple[int, int]  # largest random grid offset per axis; (0, 0) keeps the grid fixed

    @property
    def chunks(self) -> int:
        return len(self.starts) // self.batch

    @property
    def real_tiles(self) -> int:
        return sum(1 for y0, y1, x0, x1 in self.cores if y1 > y0 and x1 > x0)


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


def plan_tiles(
    shape: tuple[int, int], images: int, config: TileConfig, align: int = DEFAULT_STRIDE, jitter: int = 0
) -> TilePlan | None:
    """The tiling of an octave of ``shape`` for ``images`` images, or None if it runs whole.

    With ``jitter`` > 0 the grid moves by a random offset of up to one tile core per step.
    """
    height, width = shape
    if config.size == 0 or max(height, width) <= config.size:
        return None
    th, tw = min(height, config.size), min(width, config.size)
    ys, ycores = axis_layout(height, config.size, config.halo, align)
    xs, xcores = axis_layout(width, config.size, config.halo, align)
    starts, cores = [], []
    for b in range(images):
        for y, (cy0, cy1) in zip(ys, ycores):
            for x, (cx0, cx1) in zip(xs, xcores):
                starts.append((b, y, x))
                cores.append((cy0 - y, cy1 - y, cx0 - x, cx1 - x))
    batch = config.batch or max(1, PIXELS_PER_CALL // (th * tw))
    batch = min(batch, len(starts))
    padding = -len(starts) % batch
    starts += [(0, 0, 0)] * padding
    cores += [(0, 0, 0, 0)] * padding
    shift = (0, 0) if jitter == 0 else (max(1, th - 2 * config.halo), max(1, tw - 2 * config.halo))
    return TilePlan((th, tw), tuple(starts), tuple(cores), batch, shift)


def tiled_gradient(score: Callable[[jax.Array], jax.Array], x: jax.Array, plan: TilePlan, key: jax.Array) -> jax.Array:
    """Gradient of ``score`` (a scalar sum over a batch of images) w.r.t. ``x`` ``[B, H, W, C]``,
    computed tile by tile as planned; traced inside the octave program.

    For objectives that are means over positions (layer energy, channels) this equals the
    whole-image gradient wherever the halo covers the network's reach; objectives of the whole
    picture (a class logit) act on each tile as if it were a picture of its own.
    """
    channels = x.shape[-1]
    th, tw = plan.tile
    shift = jnp.zeros(2, jnp.int32)
    if plan.shift != (0, 0):
        shift = jax.random.randint(key, (2,), 0, jnp.asarray(plan.shift) + 1)
        x = jnp.roll(x, (shift[0], shift[1]), axis=(1, 2))
    starts = jnp.asarray(np.array(plan.starts, np.int32).reshape(plan.chunks, plan.batch, 3))
    cores = jnp.asarray(np.array(plan.cores, np.int32).reshape(plan.chunks, plan.batch, 4))
    rows = jnp.arange(th)[None, :, None]
    cols = jnp.arange(tw)[None, None, :]

    def corner(s):
        return (s[0], s[1], s[2], 0)

    def add_chunk(c, grad):
        st, co = starts[c], cores[c]
        tiles = jax.vmap(lambda s: jax.lax.dynamic_slice(x, corner(s), (1, th, tw, channels))[0])(st)
        g = jax.grad(score)(tiles)
        inside = (
            (rows >= co[:, 0, None, None]) & (rows < co[:, 1, None, None])
            & (cols >= co[:, 2, None, None]) & (cols < co[:, 3, None, None])
        )
        g = jnp.where(inside[..., None], g, 0.0)

        def add_tile(j, grad):  # cores are disjoint, so adding writes each pixel once
            here = jax.lax.dynamic_slice(grad, corner(st[j]), (1, th, tw, channels))
            return jax.lax.dynamic_update_slice(grad, here + g[j][None], corner(st[j]))

        return jax.lax.fori_loop(0, plan.batch, add_tile, grad)

    grad = jax.lax.fori_loop(0, plan.chunks, add_chunk, jnp.zeros_like(x))
    # A tile's layer means run over fewer positions than the image's: scale back by area, so a
    # mean-over-positions objective gets the whole-image gradient (and penalties keep their weight).
    grad = grad * (th * tw / (x.shape[1] * x.shape[2]))
    if plan.shift != (0, 0):
        grad = jnp.roll(grad, (-shift[0], -shift[1]), axis=(1, 2))
    return grad
