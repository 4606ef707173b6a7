"""Dreaming many files: find them, skip those already done, group by size, run in batches.

Images of one size share a batch (one compiled program per octave shape, many images per
program). A picture is written as soon as its batch is done, atomically, so an interrupted run
started again picks up where it stopped: files whose output exists are skipped. With several
processes (``dreamjax.runtime.distributed``), each takes every ``count``-th file of the sorted list.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..ascent.engine import DreamStats
from ..errors import DreamjaxError
from ..files.atomic import clean_stale_parts
from ..files.image import DEFAULT_MAX_PIXELS, ImageError, load_image, save_image
from .stats import add_stats

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
_SIDEWAYS = {5, 6, 7, 8}  # EXIF orientations that swap width and height


def is_many(spec: str) -> bool:
    """Whether an input names many images: a folder, or a glob pattern."""
    return Path(spec).is_dir() or glob.has_magic(spec)


def find_images(spec: str) -> list[Path]:
    """Image files in a folder (not recursive) or matching a glob (``**`` recurses), sorted."""
    if Path(spec).is_dir():
        found = [p for p in Path(spec).iterdir() if p.is_file()]
    else:
        found = [Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file()]
    images = sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DreamjaxError(f"no images found at {spec!r}", f"looked for {', '.join(sorted(IMAGE_SUFFIXES))}")
    return images


def output_for(source: Path, outdir: Path) -> Path:
    return outdir / f"{source.stem}.png"


@dataclass
class Plan:
    """What this process will do: ``todo`` grouped by image size, and what it skips."""

    groups: dict[tuple[int, int], list[Path]]
    done: list[Path]  # outputs already there
    outdir: Path

    @property
    def todo(self) -> int:
        return sum(len(files) for files in self.groups.values())


def share(files: list[Path], index: int, count: int) -> list[Path]:
    """This process's files: every ``count``-th one, from ``index`` (stable across restarts)."""
    return files[index::count]


def image_size(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """(height, width) after EXIF rotation, read from the header only."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            orientation = img.getexif().get(0x0112)
    except UnidentifiedImageError:
        raise ImageError(f"{str(path)!r} is not an image PIL can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"cannot read image {str(path)!r}: {exc}") from None
    if w * h > max_pixels:
        raise ImageError(f"image {str(path)!r} is {w}x{h} = {w * h:,} pixels, over the limit of {max_pixels:,}")
    return (w, h) if orientation in _SIDEWAYS else (h, w)


def plan(files: list[Path], outdir: Path, *, index: int = 0, count: int = 1,
         max_pixels: int = DEFAULT_MAX_PIXELS, min_size: int = 1) -> Plan:
    """Group this process's share of ``files`` by size; every problem is reported at once."""
    if outdir.is_dir():
        clean_stale_parts(outdir)  # temporary files of a run killed outright (atomic.py)
    by_output: dict[Path, list[Path]] = {}
    for f in files:
        by_output.setdefault(output_for(f, outdir), []).append(f)
    clashes = [srcs for srcs in by_output.values() if len(srcs) > 1]
    if clashes:
        listed = "; ".join(" and ".join(str(s) for s in srcs) for srcs in clashes[:5])
        raise DreamjaxError(f"{len(clashes)} output name(s) would be written twice: {listed}",
                            "rename the inputs so that their names without extension differ")
    groups: dict[tuple[int, int], list[Path]] = {}
    done, problems = [], []
    for f in share(files, index, count):
        if output_for(f, outdir).exists():
            done.append(f)
            continue
        try:
            size = image_size(f, max_pixels)
        except ImageError as exc:
            problems.append(exc.message)
            continue
        if min(size) < min_size:
            problems.append(f"image {str(f)!r} is {size[1]}x{size[0]}, under the model's minimum of {min_size} pixels")
            continue
        groups.setdefault(size, []).append(f)
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise DreamjaxError(f"{len(problems)} input(s) cannot be dreamed: " + "; ".join(problems[:10]) + more,
                            "fix or move them away, then run again (finished pictures are kept)")
    return Plan(groups, done, outdir)


def batches(plan: Plan, batch_size: int) -> Iterator[list[Path]]:
    """Files of one size, at most ``batch_size`` at a time, biggest groups first."""
    for _, files in sorted(plan.groups.items(), key=lambda kv: -len(kv[1])):
        for start in range(0, len(files), batch_size):
            yield files[start : start + batch_size]


@dataclass
class Totals(DreamStats):
    """The summed costs of the batches, and the pictures written."""

    written: list[Path] = field(default_factory=list)


def dream_files(plan: Plan, dream_batch: Callable[[np.ndarray], tuple[np.ndarray, DreamStats]], *, batch_size: int,
                max_pixels: int = DEFAULT_MAX_PIXELS,
                on_batch: Callable[[list[Path]], None] | None = None) -> Totals:
    """Dream every planned file; ``dream_batch`` maps ``[B, H, W, 3]`` to (dreamed, DreamStats)."""
    plan.outdir.mkdir(parents=True, exist_ok=True)
    totals = Totals()
    for files in batches(plan, batch_size):
        pictures = np.stack([load_image(f, max_pixels=max_pixels) for f in files])
        dreamed, stats = dream_batch(pictures)
        for f, picture in zip(files, dreamed):
            save_image(output_for(f, plan.outdir), picture)
            totals.written.append(output_for(f, plan.outdir))
        add_stats(totals, stats)
        if on_batch is not None:
            on_batch(files)
    return totals


def default_batch_size() -> int:
    """Images per program: a few on CPU (memory), more where accelerators are."""
    import jax

    return 4 if jax.default_backend() == "cpu" else 8 * jax.local_device_count()


__all__ = ["Plan", "batches", "default_batch_size", "dream_files", "find_images", "is_many", "output_for", "plan", "share"]
