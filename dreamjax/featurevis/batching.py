"""How the pictures of a feature-visualisation job are grouped: batches per program, chunks
per network call, sized from a pixel budget as tiles are."""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax

from ..ascent.tiling import PIXELS_PER_CALL

# Canvas pixels per network call on a CPU. Per picture, CPU time per step (2-core Xeon, 2 MiB L2
# a core, EfficientNet-Lite0 to blocks.10, 128x128 pictures) grew ~35% from 1-2 to 16 pictures a
# call; see benchmarks/RESULTS.md.
CPU_PIXELS_PER_CHUNK = 48 * 1024


@dataclass(frozen=True)
class Batches:
    """Which pictures run together: ``batches[k]`` holds picture indices (the last one padded
    with repeats of its first pictures, dropped afterwards, so every call has one shape). The
    network sees ``chunk`` pictures at a time; ``size`` is a multiple of it."""

    size: int
    chunk: int
    batches: tuple[tuple[int, ...], ...]
    pictures: int

    def real(self, k: int) -> tuple[int, ...]:
        return tuple(dict.fromkeys(self.batches[k]))


def split_batches(pictures: int, batch: int, copies: int = 1, chunk: int = 0) -> Batches:
    """As few equal batches of at most ``batch`` pictures as hold all, copies of one channel
    together, each a whole number of chunks (``chunk`` 0: the whole batch is one chunk)."""
    if chunk:  # no bigger than the batch or the job
        chunk = max(copies, min(chunk, batch, pictures) // copies * copies)
    unit = chunk or copies
    groups, per = math.ceil(pictures / unit), max(1, batch // unit)
    count = math.ceil(groups / per)
    per = math.ceil(groups / count)
    batches = []
    for k in range(count):
        members = list(range(k * per * unit, min(pictures, (k + 1) * per * unit)))
        padding = per * unit - len(members)
        batches.append(tuple(members + (members * (1 + padding // len(members)))[:padding]))
    size = per * unit
    return Batches(size, chunk or size, tuple(batches), pictures)


def auto_batch(canvas: tuple[int, int], copies: int = 1, pixels: int = PIXELS_PER_CALL) -> int:
    """Pictures per program (or per chunk) from a pixel budget, a whole number of channel groups."""
    return max(copies, pixels // (canvas[0] * canvas[1]) // copies * copies)


def auto_chunk(canvas: tuple[int, int], copies: int = 1, platform: str | None = None) -> int:
    """Pictures per network call: on a CPU a few, whose activations stay in cache; 0 elsewhere (the batch)."""
    if (platform or jax.default_backend()) != "cpu":
        return 0
    return auto_batch(canvas, copies, CPU_PIXELS_PER_CHUNK)
