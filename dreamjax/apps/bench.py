"""Throughput of the dream engine, used by ``dreamjax bench``.

Each case (image size x batch size) runs one full dream first - that run compiles (or loads
from the persistent cache) one program per octave shape, and its compile time is reported on
its own - then ``repeats`` timed dreams whose best run gives the steady-state numbers.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..ascent.engine import DreamConfig, Dreamer
from ..ascent.objectives import Objective
from ..model import DreamModel


@dataclass(frozen=True)
class BenchResult:
    model: str
    layers: tuple[str, ...]
    size: int
    batch: int
    octaves: int  # distinct octave shapes actually run
    ascent_steps: int  # per image, all octaves
    devices: int
    run_seconds: float  # best of the timed repeats
    compile_seconds: float
    programs_compiled: int
    programs_from_disk: int
    peak_rss_mib: float  # of the whole process so far

    @property
    def images_per_second(self) -> float:
        return self.batch / self.run_seconds

    @property
    def steps_per_second(self) -> float:
        """Ascent steps of the whole batch per second."""
        return self.ascent_steps / self.run_seconds

    @property
    def ms_per_step(self) -> float:
        return 1000.0 * self.run_seconds / self.ascent_steps

    def as_dict(self) -> dict:
        return asdict(self) | {"images_per_second": self.images_per_second,
                               "steps_per_second": self.steps_per_second, "ms_per_step": self.ms_per_step}


def peak_rss_mib() -> float:
    """Peak resident memory of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def device_description(devices: int | None = None) -> str:
    import jax

    local = jax.local_devices()
    used = local[: devices or len(local)]
    kind = used[0].device_kind
    if used[0].platform == "cpu":
        kind = f"{cpu_name()}, {os.cpu_count()} cores"
    return f"{len(used)} x {used[0].platform} ({kind})"


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bench_images(size: int, batch: int) -> np.ndarray:
    """``batch`` copies of the bundled photos at ``size`` x ``size`` (real pictures, not noise)."""
    from PIL import Image

    from ..files.image import load_image, sample_image_path, to_pil

    names = ("chelsea.png", "coffee.png")
    pictures = []
    for i in range(batch):
        picture = to_pil(load_image(sample_image_path(names[i % 2]))).resize((size, size), Image.BICUBIC)
        pictures.append(np.asarray(picture, dtype=np.float32) / 255.0)
    return np.stack(pictures)


def run_case(dreamer: Dreamer, objective: Objective, size: int, batch: int, config: DreamConfig, *,
             devices: int | None = None, repeats: int = 1) -> BenchResult:
    images = bench_images(size, batch)
    _, first = dreamer.run(images, objective, config, devices=devices)
    best = first.run_seconds if repeats < 1 else float("inf")
    for _ in range(repeats):
        _, stats = dreamer.run(images, objective, config, devices=devices)
        best = min(best, stats.run_seconds)
    from ..runtime.devices import choose_device_count

    return BenchResult(
        model=dreamer.model.name, layers=objective.layers, size=size, batch=batch, octaves=len(first.shapes),
        ascent_steps=first.ascent_steps, devices=choose_device_count(batch, devices), run_seconds=best,
        compile_seconds=first.compile_seconds, programs_compiled=first.programs_compiled,
        programs_from_disk=first.programs_from_disk, peak_rss_mib=peak_rss_mib(),
    )


def run(model: DreamModel, objective: Objective, sizes: Sequence[int], batches: Sequence[int], config: DreamConfig, *,
        devices: int | None = None, repeats: int = 1,
        on_result: Callable[[BenchResult], None] | None = None) -> list[BenchResult]:
    """Every size x batch case, smallest first; ``on_result`` sees each as it finishes."""
    dreamer = Dreamer(model)
    results = []
    for size in sorted(sizes):
        for batch in sorted(batches):
            result = run_case(dreamer, objective, size, batch, config, devices=devices, repeats=repeats)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results
